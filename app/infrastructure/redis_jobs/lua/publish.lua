-- A job's progress events, atomically and in one round trip: numbered, added to its stream,
-- the answer and terminal markers set.
-- KEYS: stream, meta, the waiting set, the job's pending payload
-- ARGV: job_id, attempt (0: keep), now (ms), maxlen, ttl seconds, ts, flush token ('' for a
--       best-effort batch), then four per event (type, stage, status, data as JSON), and last
--       the key templates
-- Returns {last seq, last entry id, attempt, events written, the last written event's place
-- in the batch (1-based)}; written 0 when every event was dropped (after the terminal event,
-- a second `answer`). A batch whose token was applied already (a retry after the first try's
-- reply was lost) is not applied again: it returns what that try wrote. A terminal event
-- also ends the job's turn on its thread and releases the thread's next turn into the queue.
-- Keys of the wrong type are mended where met (`checked`): no TYPE check per event.
local id, stream, meta, token = ARGV[1], KEYS[1], KEYS[2], ARGV[7]
local FIRST = 8
local state = checked(function() meta_of(id) end,
  'HMGET', meta, 'terminal', 'answered', 'attempt', 'flush')
if token ~= '' and state[4] then
  local done, seq, entry, attempt, written, place = string.match(state[4],
    '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$')
  if done == token then return {tonumber(seq), entry, tonumber(attempt), tonumber(written),
    tonumber(place)} end
end
if state[1] then return {0, '', 0, 0, 0} end
-- Which events go out: one answer per job, nothing after a terminal event.
local chosen, answered = {}, state[2]
for place = 1, (#ARGV - FIRST) / 4 do
  local kind = ARGV[FIRST + 4 * (place - 1)]
  if kind ~= 'answer' or not answered then
    chosen[#chosen + 1] = place
    if kind == 'answer' then answered = true end
    if kind == 'done' or kind == 'error' then break end
  end
end
if #chosen == 0 then return {0, '', 0, 0, 0} end
local sets = {}
local attempt = tonumber(ARGV[2])
if attempt > 0 then
  sets[#sets + 1], sets[#sets + 2] = 'attempt', attempt
else
  attempt = tonumber(state[3] or '1')
end
local last = redis.call('HINCRBY', meta, 'seq', #chosen)
local seq, entry, durable = last - #chosen, '', token ~= '' or ARGV[2] ~= '0' or last == #chosen
for _, place in ipairs(chosen) do
  local at = FIRST + 4 * (place - 1)
  local kind, data = ARGV[at], ARGV[at + 3]
  seq = seq + 1
  entry = checked(dropper(stream),
    'XADD', stream, 'MAXLEN', '~', ARGV[4], '*',
    'seq', seq, 'job_id', id, 'type', kind, 'stage', ARGV[at + 1], 'status', ARGV[at + 2],
    'data', data, 'ts', ARGV[6], 'attempt', attempt)
  if kind == 'answer' then sets[#sets + 1], sets[#sets + 2] = 'answered', 1 end
  if kind == 'needs_input' then
    -- Paused: the job keeps its thread's turn until an answer takes it over or it expires.
    local expires = tonumber(cjson.decode(data).expires_at or 0) * 1000
    redis.call('HSET', meta, 'waiting', expires)
    checked(dropper(KEYS[3]), 'ZADD', KEYS[3], expires, id)
    local turns = redis.call('HGET', meta, 'turns')
    local nxt = turns and expect(turns, 'list') and redis.call('LINDEX', turns, 1)
    if nxt and redis.call('LINDEX', turns, 0) == id then
      -- A message queued behind this turn while it ran: it is the answer (or the next turn).
      takeover(id, nxt, turns, KEYS[3], ARGV[6], ARGV[4], ARGV[5])
      release(nxt, ARGV[3])
    end
  end
  if kind == 'done' or kind == 'error' then
    sets[#sets + 1], sets[#sets + 2] = 'terminal', kind
    redis.call('HDEL', meta, 'waiting')
    checked(dropper(KEYS[3]), 'ZREM', KEYS[3], id)
    redis.call('DEL', KEYS[4])
    local turns = redis.call('HGET', meta, 'turns')
    if turns and expect(turns, 'list') then
      local head = redis.call('LINDEX', turns, 0)
      redis.call('LREM', turns, 0, id)
      local nxt = redis.call('LINDEX', turns, 0)
      if head == id and nxt then release(nxt, ARGV[3]) end
    end
  end
end
local place = chosen[#chosen]
if token ~= '' then
  sets[#sets + 1] = 'flush'
  sets[#sets + 1] = table.concat({token, last, entry, attempt, #chosen, place}, ' ')
end
if #sets > 0 then redis.call('HSET', meta, unpack(sets)) end
-- The TTLs run from the durable events (a chat is far shorter than them) and from a stream's
-- first event; best-effort events in between leave them as they are.
if durable then
  redis.call('EXPIRE', stream, ARGV[5])
  redis.call('EXPIRE', meta, ARGV[5])
end
return {last, entry, attempt, #chosen, place}
