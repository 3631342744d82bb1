-- One progress event, atomically: numbered, added to the job's stream, the terminal marker set.
-- KEYS: stream, meta, the waiting set, the job's pending payload
-- ARGV: type, stage, status, data (JSON), ts, maxlen, ttl seconds, job_id, attempt (0: keep),
--       now (ms), key templates
-- Returns {seq, entry id, attempt}; seq 0 when the event was dropped (after the terminal
-- event, or a second `answer`). A terminal event also ends the job's turn on its thread and
-- releases the thread's next turn into arq's queue.
local kind = ARGV[1]
-- Keys of the wrong type are dropped (a planted string where the meta hash belongs...).
expect(KEYS[1], 'stream')
meta_of(ARGV[8])
expect(KEYS[3], 'zset')
if redis.call('HEXISTS', KEYS[2], 'terminal') == 1 then return {0, '', 0} end
if kind == 'answer' and redis.call('HEXISTS', KEYS[2], 'answered') == 1 then
  return {0, '', 0}
end
local attempt = tonumber(ARGV[9])
if attempt > 0 then
  redis.call('HSET', KEYS[2], 'attempt', attempt)
else
  attempt = tonumber(redis.call('HGET', KEYS[2], 'attempt') or '1')
end
local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], '*',
  'seq', seq, 'job_id', ARGV[8], 'type', kind, 'stage', ARGV[2], 'status', ARGV[3],
  'data', ARGV[4], 'ts', ARGV[5], 'attempt', attempt)
if kind == 'answer' then redis.call('HSET', KEYS[2], 'answered', 1) end
if kind == 'needs_input' then
  -- Paused: the job keeps its thread's turn until an answer takes it over or it expires.
  local expires = tonumber(cjson.decode(ARGV[4]).expires_at or 0) * 1000
  redis.call('HSET', KEYS[2], 'waiting', expires)
  redis.call('ZADD', KEYS[3], expires, ARGV[8])
  local turns = redis.call('HGET', KEYS[2], 'turns')
  local nxt = turns and expect(turns, 'list') and redis.call('LINDEX', turns, 1)
  if nxt and redis.call('LINDEX', turns, 0) == ARGV[8] then
    -- A message queued behind this turn while it ran: it is the answer (or the next turn).
    takeover(ARGV[8], nxt, turns, KEYS[3], ARGV[5], ARGV[6], ARGV[7])
    release(nxt, ARGV[10])
  end
end
if kind == 'done' or kind == 'error' then
  redis.call('HSET', KEYS[2], 'terminal', kind)
  redis.call('HDEL', KEYS[2], 'waiting')
  redis.call('ZREM', KEYS[3], ARGV[8])
  redis.call('DEL', KEYS[4])
  local turns = redis.call('HGET', KEYS[2], 'turns')
  if turns and expect(turns, 'list') then
    local head = redis.call('LINDEX', turns, 0)
    redis.call('LREM', turns, 0, ARGV[8])
    local nxt = redis.call('LINDEX', turns, 0)
    if head == ARGV[8] and nxt then release(nxt, ARGV[10]) end
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[7])
return {seq, id, attempt}
