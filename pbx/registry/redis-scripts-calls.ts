/** Lua scripts of the Redis CallRegistry: each runs atomically, so a call is never half-registered. */

// Key names are derived inside the scripts from the prefix (ARGV[1]); docs/redis.md lists them.
const KEYS = `
local function callKey(P, sip) return P .. 'call:' .. sip end
local function podCalls(P, pod) return P .. 'pod:' .. pod .. ':calls' end
local function podExpiry(P, pod) return P .. 'pod:' .. pod .. ':expiry' end
`;

// Removes one call of a pod: both Call-ID keys (legs from the stored entry, else a, b), field and score.
const DROP = `
local function dropCall(P, pod, id, a, b)
  local json = redis.call('HGET', podCalls(P, pod), id)
  if json then
    local e = cjson.decode(json)
    a, b = e.legs.a, e.legs.b
  end
  local n = 0
  if a ~= '' then n = n + redis.call('DEL', callKey(P, a), callKey(P, b)) end
  if json then
    n = n + redis.call('HDEL', podCalls(P, pod), id)
    redis.call('ZREM', podExpiry(P, pod), id)
  end
  return n
end
`;

// Writes one call: both Call-ID keys with TTL, the pod's hash field and expiry score, the pods index.
const PUT = `
local function putCall(P, pod, id, a, b, json, exp, ttl)
  dropCall(P, pod, id, '', '')
  redis.call('SET', callKey(P, a), json, 'PX', ttl)
  if b ~= a then redis.call('SET', callKey(P, b), json, 'PX', ttl) end
  redis.call('HSET', podCalls(P, pod), id, json)
  redis.call('ZADD', podExpiry(P, pod), exp, id)
end
local function touchPod(P, pod, ttl)
  redis.call('PEXPIRE', podCalls(P, pod), ttl)
  redis.call('PEXPIRE', podExpiry(P, pod), ttl)
  redis.call('SADD', P .. 'pods', pod)
end
`;

/** ARGV: prefix, id, pod, json, expiresAt, ttlMs, legA, legB. */
export const registerCall = `${KEYS}${DROP}${PUT}
local P, id, pod, json, exp, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
putCall(P, pod, id, ARGV[7], ARGV[8], json, exp, ttl)
touchPod(P, pod, ttl)
return 1
`;

/** ARGV: prefix, sipCallId, now. Returns the entry JSON, or nil when absent or logically expired. */
export const lookupCall = `${KEYS}
local P, now = ARGV[1], tonumber(ARGV[3])
local json = redis.call('GET', callKey(P, ARGV[2]))
if not json then return false end
local e = cjson.decode(json)
local exp = redis.call('ZSCORE', podExpiry(P, e.owner.pod), e.callId)
if not exp or tonumber(exp) <= now then return false end
return json
`;

/** ARGV: prefix, id, pod ('' = search the pods index), legA, legB ('' = unknown). Returns 1 if removed. */
export const removeCall = `${KEYS}${DROP}
local P, id, pod = ARGV[1], ARGV[2], ARGV[3]
if pod == '' then
  for _, p in ipairs(redis.call('SMEMBERS', P .. 'pods')) do
    if redis.call('HEXISTS', podCalls(P, p), id) == 1 then pod = p break end
  end
  if pod == '' then return 0 end
end
if dropCall(P, pod, id, ARGV[4], ARGV[5]) > 0 then return 1 end
return 0
`;

/** ARGV: prefix, pod, now, expiresAt, ttlMs, then (id, legA, legB) triples. Returns how many were live. */
export const refreshCalls = `${KEYS}${DROP}${PUT}
local P, pod, now, exp, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', podExpiry(P, pod), '-inf', now)) do
  dropCall(P, pod, dead, '', '')
end
local n = 0
for i = 6, #ARGV, 3 do
  local id = ARGV[i]
  if redis.call('ZSCORE', podExpiry(P, pod), id) then
    redis.call('ZADD', podExpiry(P, pod), exp, id)
    redis.call('PEXPIRE', callKey(P, ARGV[i + 1]), ttl)
    redis.call('PEXPIRE', callKey(P, ARGV[i + 2]), ttl)
    n = n + 1
  end
end
if n > 0 then touchPod(P, pod, ttl) end
return n
`;

/** ARGV: prefix, pod, now. Returns the JSON of the pod's live calls (nil for a field gone missing). */
export const listCalls = `${KEYS}
local P, pod, now = ARGV[1], ARGV[2], ARGV[3]
local ids = redis.call('ZRANGEBYSCORE', podExpiry(P, pod), '(' .. now, '+inf')
local out = {}
for i = 1, #ids, 500 do
  local chunk = {}
  for j = i, math.min(i + 499, #ids) do chunk[#chunk + 1] = ids[j] end
  for _, v in ipairs(redis.call('HMGET', podCalls(P, pod), unpack(chunk))) do out[#out + 1] = v end
end
return out
`;

/** ARGV: prefix, pod, expiresAt, ttlMs, then (id, legA, legB, json) quadruples: the pod's live calls. */
export const resyncCalls = `${KEYS}${DROP}${PUT}
local P, pod, exp, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local keep = {}
for i = 5, #ARGV, 4 do keep[ARGV[i]] = true end
for _, id in ipairs(redis.call('HKEYS', podCalls(P, pod))) do
  if not keep[id] then dropCall(P, pod, id, '', '') end
end
for _, id in ipairs(redis.call('ZRANGE', podExpiry(P, pod), 0, -1)) do
  if not keep[id] then redis.call('ZREM', podExpiry(P, pod), id) end
end
for i = 5, #ARGV, 4 do putCall(P, pod, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], exp, ttl) end
if #ARGV >= 5 then touchPod(P, pod, ttl) end
return 1
`;

/** ARGV: prefix, pod, json, ttlMs. The heartbeat key and the pods index. */
export const setPodState = `
redis.call('SET', ARGV[1] .. 'pod:' .. ARGV[2] .. ':state', ARGV[3], 'PX', ARGV[4])
redis.call('SADD', ARGV[1] .. 'pods', ARGV[2])
return 1
`;

/** ARGV: prefix. Returns (pod, state JSON) pairs; drops index members whose keys have all expired. */
export const listPods = `${KEYS}
local P = ARGV[1]
local out = {}
for _, p in ipairs(redis.call('SMEMBERS', P .. 'pods')) do
  local v = redis.call('GET', P .. 'pod:' .. p .. ':state')
  if v then
    out[#out + 1] = p
    out[#out + 1] = v
  elseif redis.call('EXISTS', podCalls(P, p), podExpiry(P, p)) == 0 then
    redis.call('SREM', P .. 'pods', p)
  end
end
return out
`;
