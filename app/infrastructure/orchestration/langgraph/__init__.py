"""The chat graph, wired with LangGraph."""
