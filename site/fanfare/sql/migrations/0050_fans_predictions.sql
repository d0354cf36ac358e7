-- Fan accounts, prediction rounds and the leaderboard (issue 17).
-- A fan is known by a keyed hash of their address only: the address itself is never stored,
-- so there is nothing to leak, and deleting the row erases the person.

CREATE TABLE fans (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The share card's URL; random, so accounts cannot be enumerated by counting.
    public_id        text NOT NULL UNIQUE,
    email_hash       text NOT NULL UNIQUE,
    nickname         text NOT NULL CHECK (char_length(nickname) BETWEEN 2 AND 24),
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at  timestamptz
);

CREATE TABLE prediction_rounds (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id            bigint NOT NULL REFERENCES events ON DELETE CASCADE,
    -- A linked round takes its result from the category's final tally.
    category_id         bigint REFERENCES categories ON DELETE SET NULL,
    question            text NOT NULL CHECK (question <> ''),
    kind                text NOT NULL CHECK (kind IN ('pick', 'top3', 'number')),
    points              int NOT NULL DEFAULT 10 CHECK (points BETWEEN 1 AND 1000),
    -- A set time, or NULL: lock_offset_seconds before the linked category's last close.
    locks_at            timestamptz,
    lock_offset_seconds int NOT NULL DEFAULT 60 CHECK (lock_offset_seconds >= 0),
    result_option_ids   bigint[],
    result_number       numeric,
    result_entered_by   bigint REFERENCES editors ON DELETE SET NULL,
    result_entered_at   timestamptz,
    result_verified_by  bigint REFERENCES editors ON DELETE SET NULL,
    result_verified_at  timestamptz,
    scored_at           timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (locks_at IS NOT NULL OR category_id IS NOT NULL),
    -- Four eyes: whoever verifies a result is not whoever entered it.
    CHECK (result_verified_by IS NULL OR result_verified_by IS DISTINCT FROM result_entered_by)
);
CREATE INDEX prediction_rounds_event ON prediction_rounds (event_id);

CREATE TABLE prediction_options (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    round_id    bigint NOT NULL REFERENCES prediction_rounds ON DELETE CASCADE,
    label       text NOT NULL CHECK (label <> ''),
    nominee_id  bigint REFERENCES nominees ON DELETE SET NULL,
    position    int NOT NULL DEFAULT 0
);
CREATE INDEX prediction_options_round ON prediction_options (round_id, position);

-- Suspensions and reopenings, each effective at its own exact moment `at` (which may be
-- ahead of when it was recorded). A round's state at t is the latest change with at <= t.
CREATE TABLE round_state_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    round_id    bigint NOT NULL REFERENCES prediction_rounds ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    suspended   boolean NOT NULL,
    source      text NOT NULL CHECK (source IN ('editor', 'feed')),
    feed_seq    bigint,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX round_state_changes_round ON round_state_changes (round_id, at, id);

-- Every event-feed message applied, by sequence number: duplicates are recognised by it.
CREATE TABLE feed_messages (
    seq          bigint PRIMARY KEY CHECK (seq > 0),
    body_sha256  text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

-- The exact lock of every round: the one place the default "60 s before close" is spelled.
CREATE VIEW prediction_round_locks AS
SELECT r.id AS round_id,
       coalesce(r.locks_at,
                (SELECT max(w.closes_at) FROM voting_windows w WHERE w.category_id = r.category_id)
                - make_interval(secs => r.lock_offset_seconds)) AS locks_at
FROM prediction_rounds r;

CREATE TABLE predictions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    round_id      bigint NOT NULL REFERENCES prediction_rounds ON DELETE CASCADE,
    -- NULL once the fan deleted their account: the prediction stays, anonymised.
    fan_id        bigint REFERENCES fans ON DELETE SET NULL,
    option_ids    bigint[],
    number        numeric,
    submitted_at  timestamptz NOT NULL,  -- the web server's clock: the lock is judged by it
    points        int,
    UNIQUE (round_id, fan_id)
) WITH (fillfactor = 80);  -- room on each page, so scoring's UPDATE of `points` stays HOT
CREATE INDEX predictions_fan ON predictions (fan_id);

-- Ranks with ties (rank(): 1, 1, 3) per event and overall (event_id 0), and a tie-free
-- `place` for "the fans around you". Refreshed CONCURRENTLY, which needs the unique index.
CREATE MATERIALIZED VIEW leaderboard AS
WITH per_event AS (
    SELECT r.event_id, p.fan_id, sum(coalesce(p.points, 0))::bigint AS points
    FROM predictions p JOIN prediction_rounds r ON r.id = p.round_id
    WHERE p.fan_id IS NOT NULL
    GROUP BY r.event_id, p.fan_id
), scoped AS (
    SELECT event_id, fan_id, points FROM per_event
    UNION ALL
    SELECT 0, fan_id, sum(points)::bigint FROM per_event GROUP BY fan_id
)
SELECT event_id, fan_id, points,
       rank() OVER (PARTITION BY event_id ORDER BY points DESC) AS rank,
       row_number() OVER (PARTITION BY event_id ORDER BY points DESC, fan_id) AS place
FROM scoped;
CREATE UNIQUE INDEX leaderboard_fan ON leaderboard (event_id, fan_id);
CREATE INDEX leaderboard_place ON leaderboard (event_id, place);
