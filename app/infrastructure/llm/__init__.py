"""LLM adapters: one module per provider, all implementing `LLMPort`."""
