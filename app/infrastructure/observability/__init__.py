"""Logs and traces: configured once per process by its container."""
