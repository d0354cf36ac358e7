-- The vote writer's insert pays for every index on votes (issue: drain >= 20,000 votes/s).
-- votes_voter_window served no query: the quota is kept in voter_usage, and "does this window
-- have votes" (publishing.sql window_has_votes) now asks voter_usage's primary key, which holds a
-- row for every window a stored vote was valid in (the writer charges each such vote there).
DROP INDEX IF EXISTS votes_voter_window;
