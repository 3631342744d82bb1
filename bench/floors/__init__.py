"""The floors the benches compare against: the least a bare arq worker (and LangGraph) cost."""
