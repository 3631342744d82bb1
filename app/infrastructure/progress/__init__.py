"""Progress on a terminal: the CLI's views of a chat's events (plain, JSON lines, live)."""
