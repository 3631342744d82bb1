"""Adapters: the only code that knows SDKs, transports and frameworks."""
