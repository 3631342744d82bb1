"""The Redis job protocol: keys, Lua steps, the queue adapter, the stream publisher and hub,
liveness, and the arq worker (see keys.py for every key it uses)."""
