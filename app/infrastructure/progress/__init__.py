"""Progress notifiers: where stage and delta events go."""
