"""The conversation store's adapters: PostgreSQL (production) and SQLite (the embedded default)."""
