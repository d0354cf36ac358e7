-- PostgreSQL's side of the quota: votes each voter has used per window, counted by the workers.
-- One row per (window, voter), upserted in the batch transaction; its row lock orders concurrent
-- workers, so a voter can never be counted past max_votes_per_voter, whatever Redis said.

CREATE TABLE voter_usage (
    window_id  bigint NOT NULL REFERENCES voting_windows ON DELETE CASCADE,
    voter_id   text NOT NULL,
    used       int NOT NULL CHECK (used >= 0),
    PRIMARY KEY (window_id, voter_id)
);
