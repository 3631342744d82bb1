"""The conversation store's adapters: PostgreSQL (production) and SQLite (the embedded default)."""

MISSING_TABLES = "the conversation tables are missing: run python -m app migrate"
