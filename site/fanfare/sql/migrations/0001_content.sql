-- Content that fans read and editors write. A row is visible to fans once
-- published_at is set and has passed, so a scheduled publish needs no job to flip it;
-- the scheduler only purges the edge at that moment.

CREATE TABLE events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug          text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    name          text NOT NULL,
    tagline       text NOT NULL DEFAULT '',
    starts_at     timestamptz,
    published_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE categories (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id             bigint NOT NULL REFERENCES events ON DELETE CASCADE,
    slug                 text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    name                 text NOT NULL,
    description          text NOT NULL DEFAULT '',
    position             int NOT NULL DEFAULT 0,
    max_votes_per_voter  int NOT NULL DEFAULT 1 CHECK (max_votes_per_voter BETWEEN 1 AND 100),
    -- live: counts show while voting; after_close: hidden until the window closes.
    results_mode         text NOT NULL DEFAULT 'live' CHECK (results_mode IN ('live', 'after_close')),
    published_at         timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX categories_event ON categories (event_id, position);

-- A category may vote in several windows (rounds); the quota applies per window.
CREATE TABLE voting_windows (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category_id  bigint NOT NULL REFERENCES categories ON DELETE CASCADE,
    opens_at     timestamptz NOT NULL,
    closes_at    timestamptz NOT NULL,
    CHECK (closes_at > opens_at)
);
CREATE INDEX voting_windows_category ON voting_windows (category_id, opens_at);

CREATE TABLE photos (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Content hash of the original: renditions are named after it, so URLs are immutable.
    digest      text NOT NULL UNIQUE,
    width       int NOT NULL,
    height      int NOT NULL,
    alt         text NOT NULL DEFAULT '',
    -- [{"width": 320, "format": "webp", "path": "ab/abcd...-320.webp"}, ...]
    renditions  jsonb NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE nominees (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category_id   bigint NOT NULL REFERENCES categories ON DELETE CASCADE,
    slug          text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    name          text NOT NULL,
    tagline       text NOT NULL DEFAULT '',
    bio           text NOT NULL DEFAULT '',   -- Markdown, rendered and sanitized
    photo_id      bigint REFERENCES photos ON DELETE SET NULL,
    position      int NOT NULL DEFAULT 0,
    published_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX nominees_category ON nominees (category_id, position);
