-- Votes arrive through the Redis stream; the worker writes them here in batches.
-- vote_id is assigned by ingest (UUIDv7), so a redelivered entry is absorbed by the key.

CREATE TABLE votes (
    vote_id        uuid PRIMARY KEY,
    category_id    bigint NOT NULL,
    nominee_id     bigint NOT NULL,
    window_id      bigint,
    voter_id       text NOT NULL,
    ip_hash        text NOT NULL DEFAULT '',
    cast_at        timestamptz NOT NULL,          -- ingest's clock: the rules are judged by it
    stored_at      timestamptz NOT NULL DEFAULT now(),
    counted        boolean NOT NULL,
    reject_reason  text,
    CHECK (counted = (reject_reason IS NULL))
);
CREATE INDEX votes_voter_window ON votes (window_id, voter_id) WHERE counted;
CREATE INDEX votes_category ON votes (category_id, nominee_id) WHERE counted;

-- Running totals, updated in the same transaction as the votes they count.
CREATE TABLE tallies (
    category_id  bigint NOT NULL REFERENCES categories ON DELETE CASCADE,
    nominee_id   bigint NOT NULL REFERENCES nominees ON DELETE CASCADE,
    votes        bigint NOT NULL DEFAULT 0 CHECK (votes >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (category_id, nominee_id)
);
