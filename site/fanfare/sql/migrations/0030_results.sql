-- Results you can trust: reveal on cue, turnout while hidden, "final only when counted", and a
-- published Merkle root over every counted vote (docs/verify.md).

ALTER TABLE categories DROP CONSTRAINT categories_results_mode_check;
-- on_cue: hidden until an editor's Reveal (reveal_at), and then only once final.
ALTER TABLE categories ADD CONSTRAINT categories_results_mode_check
    CHECK (results_mode IN ('live', 'after_close', 'on_cue'));
-- Results show from this moment (on_cue). Set to now() by Reveal, or to a later time by a
-- scheduled reveal: a function of the clock, like every other state, so no job flips it.
ALTER TABLE categories ADD COLUMN reveal_at timestamptz;
-- While the split is hidden, show how many votes have been counted so far.
ALTER TABLE categories ADD COLUMN show_turnout boolean NOT NULL DEFAULT false;
CREATE INDEX categories_reveal_at ON categories (reveal_at) WHERE reveal_at IS NOT NULL;

-- A closed window whose every vote cast before the close has been stored: written by the
-- scheduler once the stream holds no unacked entry cast before closes_at (fanfare.content.finals).
CREATE TABLE window_finals (
    window_id    bigint PRIMARY KEY REFERENCES voting_windows ON DELETE CASCADE,
    category_id  bigint NOT NULL REFERENCES categories ON DELETE CASCADE,
    counted_at   timestamptz NOT NULL DEFAULT now()
);

-- Every root ever published for a category; the newest version is the current one. A new
-- version (an invalidation after final) keeps the old ones, each with its reason.
CREATE TABLE tally_roots (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category_id   bigint NOT NULL REFERENCES categories ON DELETE CASCADE,
    version       int NOT NULL,
    root          bytea NOT NULL CHECK (length(root) = 32),
    tree_size     bigint NOT NULL,
    reason        text NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (category_id, version)
);

-- The counted receipts a root commits to, in canonical (vote_id) order: the leaf's position is
-- what an inclusion proof needs. nominee_id is the snapshot the tree was built from.
CREATE TABLE tally_leaves (
    root_id     bigint NOT NULL REFERENCES tally_roots ON DELETE CASCADE,
    vote_id     uuid NOT NULL,
    position    bigint NOT NULL,
    nominee_id  bigint NOT NULL,
    PRIMARY KEY (root_id, vote_id)
);

-- Each level of the tree as one string of 32-byte hashes (level 0 = leaf hashes). Stored
-- uncompressed out of line, so a proof reads just the 32 bytes it needs from each level.
CREATE TABLE tally_levels (
    root_id  bigint NOT NULL REFERENCES tally_roots ON DELETE CASCADE,
    level    int NOT NULL,
    width    bigint NOT NULL,
    hashes   bytea NOT NULL,
    PRIMARY KEY (root_id, level)
);
ALTER TABLE tally_levels ALTER COLUMN hashes SET STORAGE EXTERNAL;
