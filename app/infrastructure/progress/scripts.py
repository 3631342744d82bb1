"""The Lua steps that keep a chat's stream, its thread's turn order and arq's queue consistent.

Each runs atomically in Redis. Keys of the *next* turn are derived inside PUBLISH (the next
job id is only known there), which standalone Redis allows; Redis Cluster would not.
"""

from __future__ import annotations

from arq.constants import job_key_prefix

# KEYS: stream, meta
# ARGV: type, stage, status, data (JSON), ts, maxlen, ttl seconds, job_id, attempt (0: keep),
#       now (ms)
# Returns {seq, entry id, attempt}; seq 0 when the event was dropped (after the terminal
# event, or a second `answer`). A terminal event also ends the job's turn on its thread and
# releases the thread's next turn into arq's queue.
PUBLISH = (
    """
local kind = ARGV[1]
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
if kind == 'done' or kind == 'error' then
  redis.call('HSET', KEYS[2], 'terminal', kind)
  redis.call('DEL', 'chat:' .. ARGV[8] .. ':pending')
  local turns = redis.call('HGET', KEYS[2], 'turns')
  if turns then
    local head = redis.call('LINDEX', turns, 0)
    redis.call('LREM', turns, 0, ARGV[8])
    local nxt = redis.call('LINDEX', turns, 0)
    if head == ARGV[8] and nxt then
      local pending = 'chat:' .. nxt .. ':pending'
      local payload = redis.call('GET', pending)
      local queue = redis.call('HGET', 'chat:' .. nxt .. ':meta', 'queue')
      if payload and queue then
        redis.call('SET', '"""
    + job_key_prefix
    + """' .. nxt, payload, 'PX', redis.call('PTTL', pending))
        redis.call('ZADD', queue, ARGV[10], nxt)
        redis.call('DEL', pending)
        redis.call('LPUSH', queue .. ':wake', 1)
        redis.call('LTRIM', queue .. ':wake', 0, 99)
        redis.call('EXPIRE', queue .. ':wake', 60)
      end
    end
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[7])
return {seq, id, attempt}
"""
)

# KEYS: stream, meta, the thread's turn list, arq job key, arq queue, pending payload,
#       the queue's worker health key, the queue's wake-up list
# ARGV: job_id, arq job payload, now (ms), job ttl (ms), mode, maxlen, ttl seconds, ts,
#       turns ttl seconds, require a live worker ('1'/'0'), queue cap (0: none)
# Returns {status, entry id, turns ahead, running job id}; status is 'ok', 'busy' (mode
# reject and a turn is running or waiting), 'no_worker' or 'full' (then turns ahead is the
# queue's depth).
SUBMIT = """
if ARGV[10] == '1' and redis.call('EXISTS', KEYS[7]) == 0 then return {'no_worker', '', 0, ''} end
local cap = tonumber(ARGV[11])
if cap > 0 then
  local depth = redis.call('ZCARD', KEYS[5])
  if depth >= cap then return {'full', '', depth, ''} end
end
local ahead = redis.call('LLEN', KEYS[3])
local head = redis.call('LINDEX', KEYS[3], 0) or ''
if ARGV[5] == 'reject' and ahead > 0 then return {'busy', '', ahead, head} end
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[9])
redis.call('HSET', KEYS[2], 'seq', 1, 'turns', KEYS[3], 'queue', KEYS[5], 'attempt', 1)
local data = cjson.encode({ahead = ahead})
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], '*',
  'seq', 1, 'job_id', ARGV[1], 'type', 'queued', 'stage', '', 'status', '',
  'data', data, 'ts', ARGV[8], 'attempt', 1)
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[7])
if ahead == 0 then
  redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[4])
  redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
  redis.call('LPUSH', KEYS[8], 1)
  redis.call('LTRIM', KEYS[8], 0, 99)
  redis.call('EXPIRE', KEYS[8], 60)
else
  redis.call('SET', KEYS[6], ARGV[2], 'PX', ARGV[4])
end
return {'ok', id, ahead, head}
"""
