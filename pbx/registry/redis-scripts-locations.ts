/** Lua scripts of the Redis LocationStore: the §10.3 CSeq check and the update run as one atomic step. */

// Loads an AOR's live bindings; expired ones are deleted on the way (lazy expiry).
const LOAD = `
local function aorKey(P, aor) return P .. 'aor:' .. aor end
local function member(aor, uri) return aor .. ' ' .. uri end
local function loadLive(P, aor, now)
  local key = aorKey(P, aor)
  local flat = redis.call('HGETALL', key)
  local live, raw = {}, {}
  for i = 1, #flat, 2 do
    local b = cjson.decode(flat[i + 1])
    if b.expiresAt > now then
      live[flat[i]] = b
      raw[flat[i]] = flat[i + 1]
    else
      redis.call('HDEL', key, flat[i])
      redis.call('ZREM', P .. 'bindings', member(aor, flat[i]))
    end
  end
  return live, raw
end
local function unbind(P, aor, uri)
  redis.call('HDEL', aorKey(P, aor), uri)
  redis.call('ZREM', P .. 'bindings', member(aor, uri))
end
`;

/**
 * ARGV: prefix, aor, now, callId, cseq, mode ('set' | 'all'), then (uri, expiresAt, json) triples.
 * Returns {1, json...} with the bindings now stored, or {0, contact, storedCseq} when out of order.
 */
export const registerAor = `${LOAD}
local P, aor, now, cid, cseq, mode = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), ARGV[6]
local live, raw = loadLive(P, aor, now)
if mode == 'all' then
  for uri, b in pairs(live) do
    if b.callId == cid and cseq <= b.cseq then return {0, uri, b.cseq} end
  end
  for uri, _ in pairs(live) do unbind(P, aor, uri) end
  return {1}
end
for i = 7, #ARGV, 3 do
  local b = live[ARGV[i]]
  if b and b.callId == cid and cseq <= b.cseq then return {0, ARGV[i], b.cseq} end
end
for i = 7, #ARGV, 3 do
  local uri, exp = ARGV[i], tonumber(ARGV[i + 1])
  if exp > now then
    redis.call('HSET', aorKey(P, aor), uri, ARGV[i + 2])
    redis.call('ZADD', P .. 'bindings', exp, member(aor, uri))
    live[uri] = { expiresAt = exp }
    raw[uri] = ARGV[i + 2]
  else
    unbind(P, aor, uri)
    live[uri] = nil
    raw[uri] = nil
  end
end
local out, latest = {1}, 0
for uri, b in pairs(live) do
  out[#out + 1] = raw[uri]
  if b.expiresAt > latest then latest = b.expiresAt end
end
if latest > 0 then redis.call('PEXPIRE', aorKey(P, aor), math.ceil(latest - now)) end
return out
`;

/** ARGV: prefix, aor, now. Returns the JSON of the AOR's live bindings. */
export const lookupAor = `${LOAD}
local _, raw = loadLive(ARGV[1], ARGV[2], tonumber(ARGV[3]))
local out = {}
for _, json in pairs(raw) do out[#out + 1] = json end
return out
`;

/** ARGV: prefix, now, limit. Removes up to \`limit\` expired bindings; returns how many. */
export const sweepAors = `${LOAD}
local P, now = ARGV[1], tonumber(ARGV[2])
local gone = redis.call('ZRANGEBYSCORE', P .. 'bindings', '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(gone) do
  local sp = string.find(m, ' ', 1, true)
  local aor, uri = string.sub(m, 1, sp - 1), string.sub(m, sp + 1)
  local json = redis.call('HGET', aorKey(P, aor), uri)
  if json and cjson.decode(json).expiresAt <= now then redis.call('HDEL', aorKey(P, aor), uri) end
  redis.call('ZREM', P .. 'bindings', m)
end
return #gone
`;

/**
 * ARGV: prefix, now, then (aor, uri, json, expiresAt, callId, cseq, registeredAt) 7-tuples.
 * Writes each binding unless the stored one is newer (same Call-ID: higher CSeq; else later registration).
 */
export const resyncAors = `${LOAD}
local P, now = ARGV[1], tonumber(ARGV[2])
for i = 3, #ARGV, 7 do
  local aor, uri, json, exp = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local cid, cseq, reg = ARGV[i + 4], tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
  local key = aorKey(P, aor)
  local take = exp > now
  local stored = take and redis.call('HGET', key, uri)
  if stored then
    local s = cjson.decode(stored)
    if s.expiresAt > now then
      if s.callId == cid then take = cseq > s.cseq else take = reg > s.registeredAt end
    end
  end
  if take then
    redis.call('HSET', key, uri, json)
    redis.call('ZADD', P .. 'bindings', exp, member(aor, uri))
    if redis.call('PTTL', key) < exp - now then redis.call('PEXPIRE', key, math.ceil(exp - now)) end
  end
end
return 1
`;
