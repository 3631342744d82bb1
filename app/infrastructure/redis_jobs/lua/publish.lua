-- A job's progress events, atomically and in one round trip: numbered, added to its stream
-- as one entry, the answer and terminal markers set.
-- KEYS: stream, meta, the waiting set, the job's pending payload
-- ARGV: job_id, attempt (0: keep), now (ms), maxlen, ttl seconds, ts, flush token ('' for a
--       best-effort batch), then four per event (type, stage, status, data as JSON), and last
--       the key templates
-- Returns {last seq, the last written event's id, attempt, events written, the last written
-- event's place in the batch (1-based)}; written 0 when every event was dropped (after the
-- terminal event, a second `answer`). A batch whose token was applied already (a retry after
-- the first try's reply was lost) is not applied again: it returns what that try wrote. A
-- terminal event also ends the job's turn on its thread and releases the thread's next turn.
--
-- One entry per batch (issue 22: an XADD per event was most of a chat's Redis commands). An
-- entry of one event has the fields `seq job_id type stage status data ts attempt`; an entry
-- of n > 1 events has `seq` (the first's), `job_id`, `type` (the last's: a reader looking for
-- the terminal event reads one field), `n`, `events` (a JSON array of [type, stage, status,
-- data]), `ts` and `attempt`. The k-th event (k >= 1) of an entry E has the id `E.k`.
-- Keys of the wrong type are mended where met (`checked`): no TYPE check per event.
local id, stream, meta, token = ARGV[1], KEYS[1], KEYS[2], ARGV[7]
local FIRST = 8
-- Everything the step reads, in one command: the seq is written back with the markers.
local state = checked(function() meta_of(id) end,
  'HMGET', meta, 'terminal', 'answered', 'attempt', 'flush', 'seq', 'waiting', 'turns', 'held',
  'since')
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
local first = (tonumber(state[5]) or 0) + 1
local last = first + #chosen - 1
sets[#sets + 1], sets[#sets + 2] = 'seq', last
local durable = ARGV[2] ~= '0' or first == 1
local parts, asked, ended = {}, nil, nil
for _, place in ipairs(chosen) do
  local at = FIRST + 4 * (place - 1)
  local kind = ARGV[at]
  parts[#parts + 1] = '[' .. cjson.encode(kind) .. ',' .. cjson.encode(ARGV[at + 1]) .. ','
    .. cjson.encode(ARGV[at + 2]) .. ',' .. ARGV[at + 3] .. ']'
  if kind == 'answer' then sets[#sets + 1], sets[#sets + 2] = 'answered', 1 end
  if kind == 'needs_input' then asked = ARGV[at + 3] end
  if kind == 'done' or kind == 'error' then
    ended = kind
    sets[#sets + 1], sets[#sets + 2] = 'terminal', kind
  end
end
local entry
if #chosen == 1 then
  local at = FIRST + 4 * (chosen[1] - 1)
  entry = checked(dropper(stream),
    'XADD', stream, 'MAXLEN', '~', ARGV[4], '*',
    'seq', first, 'job_id', id, 'type', ARGV[at], 'stage', ARGV[at + 1],
    'status', ARGV[at + 2], 'data', ARGV[at + 3], 'ts', ARGV[6], 'attempt', attempt)
else
  local made = checked(dropper(stream),
    'XADD', stream, 'MAXLEN', '~', ARGV[4], '*',
    'seq', first, 'job_id', id, 'type', ARGV[FIRST + 4 * (chosen[#chosen] - 1)],
    'n', #chosen, 'events', '[' .. table.concat(parts, ',') .. ']', 'ts', ARGV[6],
    'attempt', attempt)
  entry = made .. '.' .. (#chosen - 1)
end
local place = chosen[#chosen]
if token ~= '' then
  sets[#sets + 1] = 'flush'
  sets[#sets + 1] = table.concat({token, last, entry, attempt, #chosen, place}, ' ')
end
redis.call('HSET', meta, unpack(sets))
if asked then
  durable = true
  -- Paused: the job keeps its thread's turn until an answer takes it over or it expires.
  local expires = tonumber(cjson.decode(asked).expires_at or 0) * 1000
  redis.call('HSET', meta, 'waiting', expires)
  checked(dropper(KEYS[3]), 'ZADD', KEYS[3], expires, id)
  local turns = state[7]
  local nxt = turns and expect(turns, 'list') and redis.call('LINDEX', turns, 1)
  if nxt and redis.call('LINDEX', turns, 0) == id then
    -- A message queued behind this turn while it ran: it is the answer (or the next turn).
    takeover(id, nxt, turns, KEYS[3], ARGV[6], ARGV[4], ARGV[5])
    release(nxt, ARGV[3])
  end
end
if ended then
  durable = durable or refresh_due(state[9], ARGV[3], ARGV[5])
  -- Only what the job holds is undone (its meta says what): its place in the waiting set
  -- (paused), its payload held back behind an earlier turn, its turn on its thread.
  if state[6] or asked then
    redis.call('HDEL', meta, 'waiting')
    checked(dropper(KEYS[3]), 'ZREM', KEYS[3], id)
  end
  if state[8] then redis.call('DEL', KEYS[4]) end
  local turns = state[7]
  if turns then
    local head = checked(dropper(turns), 'LRANGE', turns, 0, 1)
    if head[1] then
      redis.call('LREM', turns, 0, id)
      if head[1] == id and head[2] then release(head[2], ARGV[3]) end
    end
  end
end
-- The TTLs were set with the stream's first entry (the submission's `queued`); they run
-- again from a question back, a new attempt and a terminal event (unless the submission's
-- grace covers it: `lives`).
if durable then
  redis.call('EXPIRE', stream, ARGV[5])
  redis.call('EXPIRE', meta, ARGV[5])
end
return {last, entry, attempt, #chosen, place}
