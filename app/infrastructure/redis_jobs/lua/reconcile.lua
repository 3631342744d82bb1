-- A thread whose head turn nothing holds (an id nothing knows, a turn that ended without
-- leaving the list, a job Redis lost): the head leaves the list and the next turn is released,
-- so the thread is never blocked for ever. The caller checked that nothing holds the head.
-- KEYS: the thread's turn list
-- ARGV: the dead head's id, now (ms), key templates
-- Returns 1 when the head was dropped, 0 when the list had moved on already.
if not expect(KEYS[1], 'list') then return 0 end
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then return 0 end
redis.call('LREM', KEYS[1], 0, ARGV[1])
local nxt = redis.call('LINDEX', KEYS[1], 0)
if nxt then release(nxt, ARGV[2]) end
return 1
