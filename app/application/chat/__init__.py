"""The chat use case: intent, routing, tool nodes and the answer, as closures over ports."""
