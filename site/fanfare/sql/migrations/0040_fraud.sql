-- Fraud review (issue 14): privacy-preserving signals on each vote, velocity flags, invalidations.
-- Signals are keyed hashes (HMAC under a key derived from the secret), never raw IPs or UAs.

ALTER TABLE votes
    ADD COLUMN subnet_hash       text NOT NULL DEFAULT '',   -- keyed hash of the /24 or /64
    ADD COLUMN ua_hash           text NOT NULL DEFAULT '',   -- keyed hash of the User-Agent
    ADD COLUMN new_voter         boolean NOT NULL DEFAULT false,  -- this vote minted its voter
    ADD COLUMN challenge_solved  boolean NOT NULL DEFAULT false,  -- a proof of work or time lock
    ADD COLUMN invalidation_id   bigint;                     -- set: not in the tallies any more

-- Detection scans the last minute of votes; review filters by subnet or UA over a time range.
CREATE INDEX votes_cast_at ON votes (cast_at);
CREATE INDEX votes_subnet_cast_at ON votes (subnet_hash, cast_at);
CREATE INDEX votes_ua_cast_at ON votes (ua_hash, cast_at);
CREATE INDEX votes_invalidation ON votes (invalidation_id) WHERE invalidation_id IS NOT NULL;

-- One row per burst: kind, the hash it concerns, the nominee (0 for the new-voter rate) and the
-- time bucket. The detector upserts it while the burst grows, so the evidence stays current.
CREATE TABLE fraud_flags (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('ip', 'subnet', 'ua', 'new_voters')),
    subject         text NOT NULL,            -- the ip, subnet or UA hash
    category_id     bigint NOT NULL,
    nominee_id      bigint NOT NULL DEFAULT 0,
    bucket_start    timestamptz NOT NULL,
    window_seconds  int NOT NULL,
    vote_count      int NOT NULL,
    threshold       int NOT NULL,
    first_vote_at   timestamptz NOT NULL,
    last_vote_at    timestamptz NOT NULL,
    sample_vote_ids uuid[] NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, subject, category_id, nominee_id, bucket_start)
);
CREATE INDEX fraud_flags_newest ON fraud_flags (created_at DESC);

-- Each invalidation, what it selected and why; undoing it is recorded on the same row.
CREATE TABLE fraud_invalidations (
    id            bigserial PRIMARY KEY,
    editor_id     bigint,
    editor_email  text NOT NULL,
    reason        text NOT NULL CHECK (btrim(reason) <> ''),
    flag_id       bigint REFERENCES fraud_flags ON DELETE SET NULL,
    selection     jsonb NOT NULL,             -- {kind, subject, category_id, from, to}
    vote_count    int NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    undone_at     timestamptz,
    undone_by     text,
    undo_reason   text
);
ALTER TABLE votes ADD CONSTRAINT votes_invalidation_fk
    FOREIGN KEY (invalidation_id) REFERENCES fraud_invalidations;
