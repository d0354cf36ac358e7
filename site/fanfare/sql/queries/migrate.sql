-- The bookkeeping of the numbered migrations in ../migrations (infra/db.py).

-- name: create_schema_migrations
-- The table of applied migrations, created on the first migrate.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version int PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)

-- name: applied_versions
-- The numbers of the migrations applied so far.
SELECT version FROM schema_migrations

-- name: record_migration
-- Note a migration as applied.
INSERT INTO schema_migrations (version, name) VALUES (%s, %s)
