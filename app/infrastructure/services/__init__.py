"""HTTP adapters for the graph's tool ports: one module per external service."""
