-- Shared by publish.lua and submit.lua: prepended to each by `lua.script()`.
-- The last ARGV of every step is keys.lua_templates(): the templates of the keys of a job
-- known only in here (the thread's next turn, a paused job), filled in by `key`.
local templates = cjson.decode(ARGV[#ARGV])

local function key(name, id)
  return string.format(templates[name], id)
end

-- A key of the wrong type (planted, corrupt) is dropped rather than failing the step with
-- WRONGTYPE (which every client would see as the queue being down). False when it was dropped.
local function expect(name, kind)
  local found = redis.call('TYPE', name)['ok']
  if found == kind or found == 'none' then return true end
  redis.log(redis.LOG_WARNING, 'eco2: dropped ' .. name .. ' (a ' .. found .. ', not a ' .. kind .. ')')
  redis.call('DEL', name)
  return false
end

-- The mender of a key that must go when it holds the wrong type (for `checked`).
local function dropper(name)
  return function()
    redis.log(redis.LOG_WARNING, 'eco2: dropped ' .. name .. ' (of the wrong type)')
    redis.call('DEL', name)
  end
end

-- A command on a key that may hold another type, without a TYPE check on the happy path (a
-- chat's events are most of the protocol's commands): on WRONGTYPE, `mend` repairs the key
-- (drops it, or rebuilds a meta) and the command is made once more. Other errors are raised.
local function checked(mend, ...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then
    if string.sub(reply.err, 1, 9) ~= 'WRONGTYPE' then error(reply) end
    mend()
    return redis.call(...)
  end
  return reply
end

-- A submitted job's stream and meta live `ttl` and a quarter more from the submission, so a
-- terminal event within that quarter leaves them `ttl` or more to live with no EXPIRE (two
-- commands of every chat, issue 22); a later one (a long queue, a question back) sets `ttl`
-- again. `since` is the submission's time (ms) from the job's meta, nil when it has none.
local function lives(ttl)
  return tonumber(ttl) + math.floor(tonumber(ttl) / 4)
end

local function refresh_due(since, now, ttl)
  return not since or tonumber(now) - tonumber(since) > math.floor(tonumber(ttl) / 4) * 1000
end

-- A job's meta, checked: a dropped (corrupt) one is rebuilt from the job's stream, so seq
-- still grows and a job that had ended stays ended (no second terminal event).
local function meta_of(id)
  local meta = key('meta', id)
  if not expect(meta, 'hash') then
    local stream = key('events', id)
    local seq = 0
    if expect(stream, 'stream') then
      seq = redis.call('XLEN', stream)
      local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
      local fields = last and last[2] or {}
      local first, count = 0, 1
      for i = 1, #fields - 1, 2 do
        local value = fields[i + 1]
        if fields[i] == 'seq' then first = tonumber(value) or 0 end
        if fields[i] == 'n' then count = tonumber(value) or 1 end  -- a batch: its last event's
        if fields[i] == 'type' and (value == 'done' or value == 'error' or value == 'resumed') then
          redis.call('HSET', meta, 'terminal', value)
        end
      end
      seq = math.max(seq, first + count - 1)
    end
    redis.call('HSET', meta, 'seq', seq)
  end
  return meta
end

-- A paused job handing its turn to the job that answers it: its stream ends with `resumed`
-- (naming the new job), it leaves the thread's turn list and the expiry set. Used by publish
-- (a turn queued behind the job when it paused) and submit (a message for a paused thread).
local function takeover(paused, successor, turns, waiting, ts, maxlen, ttl)
  local meta = meta_of(paused)
  local stream = key('events', paused)
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  local attempt = redis.call('HGET', meta, 'attempt') or '1'
  redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
    'seq', seq, 'job_id', paused, 'type', 'resumed', 'stage', '', 'status', '',
    'data', cjson.encode({job_id = successor}), 'ts', ts, 'attempt', attempt)
  redis.call('HSET', meta, 'terminal', 'resumed')
  redis.call('HDEL', meta, 'waiting')
  redis.call('LREM', turns, 0, paused)
  redis.call('ZREM', waiting, paused)
  redis.call('EXPIRE', stream, ttl)
  redis.call('EXPIRE', meta, ttl)
end

-- A queue's wake-up list (its workers BLPOP it between polls): a hint, bounded in length and
-- life. The TTL runs from the list's first push, the trim only when it is long (then back to
-- 100 from 150: a burst of submissions trims once in 50 pushes, not at each), so a push is
-- one command (most are of a list emptied by a worker, or created by this push).
local function wake(list)
  local length = checked(dropper(list), 'LPUSH', list, 1)
  if length == 1 then redis.call('EXPIRE', list, 60) end
  if length > 150 then redis.call('LTRIM', list, 0, 99) end
end

-- The thread's next turn, held back as `pending` while an earlier turn ran, put into arq's
-- queue (and its workers woken).
local function release(nxt, now)
  local pending = key('pending', nxt)
  local payload = expect(pending, 'string') and redis.call('GET', pending)
  local queue = redis.call('HGET', meta_of(nxt), 'queue')
  if payload and queue then
    redis.call('SET', key('job', nxt), payload, 'PX', redis.call('PTTL', pending))
    redis.call('ZADD', queue, now, nxt)
    redis.call('DEL', pending)
    wake(key('wake', queue))
  end
end
