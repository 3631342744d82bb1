"""The composition root: per-concern containers, and one application container per entry point.

Import the entry point's module (`app.containers.worker`, `.gateway`, `.cli`); this package
imports nothing itself, so the gateway never loads the chat graph's dependencies.
"""
