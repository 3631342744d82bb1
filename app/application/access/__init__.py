"""Who may read what: job access tokens (and, later, principals)."""
