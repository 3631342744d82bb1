"""Adapters for who may use the service and how much: keys, threads, limits."""
