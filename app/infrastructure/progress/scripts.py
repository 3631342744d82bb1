"""The Lua steps that keep a chat's stream, its thread's turn order and arq's queue consistent.

Each runs atomically in Redis. Keys of the *next* turn are derived inside PUBLISH (the next
job id is only known there), which standalone Redis allows; Redis Cluster would not.
"""

from __future__ import annotations

from arq.constants import job_key_prefix

WAITING = "chat:waiting"  # ZSET: paused jobs by the time (ms) their question expires

# A paused job handing its turn to the job that answers it: its stream ends with `resumed`
# (naming the new job), it leaves the thread's turn list and the expiry set. Used by PUBLISH
# (a turn queued behind the job when it paused) and SUBMIT (a message for a paused thread).
# args: the paused job, the job taking over, the turn list key, ts, maxlen, ttl seconds
TAKEOVER = (
    """
local function takeover(paused, successor, turns, ts, maxlen, ttl)
  local meta = 'chat:' .. paused .. ':meta'
  local stream = 'chat:' .. paused .. ':events'
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  local attempt = redis.call('HGET', meta, 'attempt') or '1'
  redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
    'seq', seq, 'job_id', paused, 'type', 'resumed', 'stage', '', 'status', '',
    'data', cjson.encode({job_id = successor}), 'ts', ts, 'attempt', attempt)
  redis.call('HSET', meta, 'terminal', 'resumed')
  redis.call('HDEL', meta, 'waiting')
  redis.call('LREM', turns, 0, paused)
  redis.call('ZREM', '"""
    + WAITING
    + """', paused)
  redis.call('EXPIRE', stream, ttl)
  redis.call('EXPIRE', meta, ttl)
end
"""
)

# The thread's next turn, held back as `pending` while an earlier turn ran, put into arq's
# queue (and its workers woken). args: the next job, now (ms)
RELEASE = (
    """
local function release(nxt, now)
  local pending = 'chat:' .. nxt .. ':pending'
  local payload = redis.call('GET', pending)
  local queue = redis.call('HGET', 'chat:' .. nxt .. ':meta', 'queue')
  if payload and queue then
    redis.call('SET', '"""
    + job_key_prefix
    + """' .. nxt, payload, 'PX', redis.call('PTTL', pending))
    redis.call('ZADD', queue, now, nxt)
    redis.call('DEL', pending)
    redis.call('LPUSH', queue .. ':wake', 1)
    redis.call('LTRIM', queue .. ':wake', 0, 99)
    redis.call('EXPIRE', queue .. ':wake', 60)
  end
end
"""
)

# KEYS: stream, meta
# ARGV: type, stage, status, data (JSON), ts, maxlen, ttl seconds, job_id, attempt (0: keep),
#       now (ms)
# Returns {seq, entry id, attempt}; seq 0 when the event was dropped (after the terminal
# event, or a second `answer`). A terminal event also ends the job's turn on its thread and
# releases the thread's next turn into arq's queue.
PUBLISH = (
    TAKEOVER
    + RELEASE
    + """
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
if kind == 'needs_input' then
  -- Paused: the job keeps its thread's turn until an answer takes it over or it expires.
  local expires = tonumber(cjson.decode(ARGV[4]).expires_at or 0) * 1000
  redis.call('HSET', KEYS[2], 'waiting', expires)
  redis.call('ZADD', '"""
    + WAITING
    + """', expires, ARGV[8])
  local turns = redis.call('HGET', KEYS[2], 'turns')
  local nxt = turns and redis.call('LINDEX', turns, 1)
  if nxt and redis.call('LINDEX', turns, 0) == ARGV[8] then
    -- A message queued behind this turn while it ran: it is the answer (or the next turn).
    takeover(ARGV[8], nxt, turns, ARGV[5], ARGV[6], ARGV[7])
    release(nxt, ARGV[10])
  end
end
if kind == 'done' or kind == 'error' then
  redis.call('HSET', KEYS[2], 'terminal', kind)
  redis.call('HDEL', KEYS[2], 'waiting')
  redis.call('ZREM', '"""
    + WAITING
    + """', ARGV[8])
  redis.call('DEL', 'chat:' .. ARGV[8] .. ':pending')
  local turns = redis.call('HGET', KEYS[2], 'turns')
  if turns then
    local head = redis.call('LINDEX', turns, 0)
    redis.call('LREM', turns, 0, ARGV[8])
    local nxt = redis.call('LINDEX', turns, 0)
    if head == ARGV[8] and nxt then release(nxt, ARGV[10]) end
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
#       turns ttl seconds, require a live worker ('1'/'0'), queue cap (0: none), the paused
#       job this one answers ('' for a plain message), the thread id
# Returns {status, entry id, turns ahead, running job id}; status is 'ok', 'busy' (mode
# reject and a turn is running), 'no_worker', 'full' (then turns ahead is the queue's depth),
# 'not_waiting' (the job to answer is not paused: running job id says what is, and its
# terminal kind follows after a colon when it ended). A message for a thread whose turn is
# paused on a question takes the turn over: the paused job ends with `resumed`.
SUBMIT = (
    TAKEOVER
    + """
if ARGV[10] == '1' and redis.call('EXISTS', KEYS[7]) == 0 then return {'no_worker', '', 0, ''} end
local cap = tonumber(ARGV[11])
if cap > 0 then
  local depth = redis.call('ZCARD', KEYS[5])
  if depth >= cap then return {'full', '', depth, ''} end
end
local ahead = redis.call('LLEN', KEYS[3])
local head = redis.call('LINDEX', KEYS[3], 0) or ''
local paused = head ~= '' and redis.call('HEXISTS', 'chat:' .. head .. ':meta', 'waiting') == 1
  and redis.call('HEXISTS', 'chat:' .. head .. ':meta', 'terminal') == 0
if ARGV[12] ~= '' and (head ~= ARGV[12] or not paused) then
  local ended = redis.call('HGET', 'chat:' .. ARGV[12] .. ':meta', 'terminal') or ''
  return {'not_waiting', '', ahead, ended}
end
if ARGV[5] == 'reject' and ahead > 0 and not paused then return {'busy', '', ahead, head} end
if paused and ahead == 1 then
  takeover(head, ARGV[1], KEYS[3], ARGV[8], ARGV[6], ARGV[7])
  ahead = 0
end
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[9])
redis.call('HSET', KEYS[2], 'seq', 1, 'turns', KEYS[3], 'queue', KEYS[5], 'attempt', 1,
  'thread', ARGV[13])
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
)
