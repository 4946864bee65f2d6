"""pytest plugin: a `postgres_url` fixture (filled in by the Postgres adapter work)."""
