"""Fan accounts: passwordless sign-in by email magic link, sessions in Redis, erasure."""
