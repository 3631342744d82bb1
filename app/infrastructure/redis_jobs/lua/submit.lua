-- A submission, atomically: its `queued` event, its place in its thread's turn order, and
-- (when no earlier turn of the thread is unfinished) its arq job.
-- KEYS: stream, meta, the thread's turn list, arq job key, arq queue, pending payload,
--       the queue's worker health key, the queue's wake-up list, the waiting set, the run marker
-- ARGV: job_id, arq job payload, now (ms), job ttl (ms), mode, maxlen, ttl seconds, ts,
--       turns ttl seconds, require a live worker ('1'/'0'), queue cap (0: none), the paused
--       job this one answers ('' for a plain message), the thread id, key templates
-- Returns {status, entry id, turns ahead, running job id}; status is 'ok', 'busy' (mode
-- reject and a turn is running), 'no_worker', 'full' (then turns ahead is the queue's depth),
-- 'not_waiting' (the job to answer is not paused: the last field is its terminal kind when it
-- ended). A message for a thread whose turn is paused on a question takes the turn over: the
-- paused job ends with `resumed`.
if ARGV[10] == '1' and redis.call('EXISTS', KEYS[7]) == 0 then return {'no_worker', '', 0, ''} end
local cap = tonumber(ARGV[11])
if cap > 0 then
  local depth = redis.call('ZCARD', KEYS[5])
  if depth >= cap then return {'full', '', depth, ''} end
end
-- Keys of the wrong type are dropped where met (a planted string where the turn list
-- belongs...): `checked`, no TYPE check on the happy path.
-- When this Redis's data began: kept from the first submission after it was empty.
checked(dropper(KEYS[10]), 'SET', KEYS[10], ARGV[3], 'NX')
local ahead = checked(dropper(KEYS[3]), 'LLEN', KEYS[3])
local head = ahead > 0 and (redis.call('LINDEX', KEYS[3], 0) or '') or ''
local paused = false
if head ~= '' then
  -- Paused: waiting on a question that is not past its time (a sweep ends that one with
  -- `input_expired`; until then it holds the turn, and nothing answers it late).
  local state = redis.call('HMGET', meta_of(head), 'waiting', 'terminal')
  paused = state[1] and not state[2] and tonumber(state[1]) > tonumber(ARGV[3]) or false
end
if ARGV[12] ~= '' and (head ~= ARGV[12] or not paused) then
  local ended = redis.call('HGET', meta_of(ARGV[12]), 'terminal') or ''
  return {'not_waiting', '', ahead, ended}
end
if ARGV[5] == 'reject' and ahead > 0 and not paused then return {'busy', '', ahead, head} end
if paused and ahead == 1 then
  expect(KEYS[9], 'zset')
  takeover(head, ARGV[1], KEYS[3], KEYS[9], ARGV[8], ARGV[6], ARGV[7])
  ahead = 0
end
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[9])
-- `held`: the payload waits behind an earlier turn (the terminal step deletes what is left).
local held = ahead > 0 and {'held', 1} or {}
checked(dropper(KEYS[2]), 'HSET', KEYS[2], 'seq', 1, 'turns', KEYS[3], 'queue', KEYS[5],
  'attempt', 1, 'thread', ARGV[13], 'since', ARGV[3], unpack(held))
local data = cjson.encode({ahead = ahead})
local id = checked(dropper(KEYS[1]), 'XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], '*',
  'seq', 1, 'job_id', ARGV[1], 'type', 'queued', 'stage', '', 'status', '',
  'data', data, 'ts', ARGV[8], 'attempt', 1)
redis.call('EXPIRE', KEYS[1], lives(ARGV[7]))
redis.call('EXPIRE', KEYS[2], lives(ARGV[7]))
if ahead == 0 then
  redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[4])
  redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
  wake(KEYS[8])
else
  redis.call('SET', KEYS[6], ARGV[2], 'PX', ARGV[4])
end
return {'ok', id, ahead, head}
