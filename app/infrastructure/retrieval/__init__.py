"""The waste knowledge base and the retrievers over it."""
