-- The editor area: accounts, pending drafts of content, and the audit log.
-- Sessions live in Redis (revocable, expiring), so there is no sessions table.

CREATE TABLE editors (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Stored lower-cased, so one person cannot hold two accounts by capitalisation.
    email          text NOT NULL UNIQUE CHECK (email = lower(email) AND email LIKE '%_@_%'),
    password_hash  text NOT NULL,
    -- editor: manages content; admin: also manages editors.
    role           text NOT NULL DEFAULT 'editor' CHECK (role IN ('editor', 'admin')),
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);

-- At most one pending draft per content row. The live row is what fans see (once its
-- published_at has passed); publishing copies `data` onto it in one transaction and deletes
-- the draft. A draft with publish_at is carried out by the scheduler at that moment.
CREATE TABLE drafts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('event', 'category', 'nominee')),
    target_id   bigint NOT NULL,
    data        jsonb NOT NULL,
    publish_at  timestamptz,
    updated_by  bigint REFERENCES editors ON DELETE SET NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, target_id)
);
CREATE INDEX drafts_due ON drafts (publish_at) WHERE publish_at IS NOT NULL;

-- Who did what, when. Rows are only ever inserted.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    editor_id    bigint REFERENCES editors ON DELETE SET NULL,
    -- A copy of the email, so the record stays readable if the account goes away.
    editor_email text NOT NULL,
    action       text NOT NULL,
    kind         text NOT NULL,
    target_id    bigint,
    detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at DESC);

-- The scheduler looks for rows whose scheduled first publish falls in its last tick.
CREATE INDEX events_published_at ON events (published_at);
CREATE INDEX categories_published_at ON categories (published_at);
CREATE INDEX nominees_published_at ON nominees (published_at);
