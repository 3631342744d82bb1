"""The interfaces the graph and the worker see, one module per port."""
