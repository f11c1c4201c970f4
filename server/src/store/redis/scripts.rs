//! The Lua scripts the Redis store runs: each is one atomic step on the server.

use super::encode;
use crate::store::{Write, versions};

/// Checks everything, then writes everything: Redis does not roll a script back when a
/// command fails midway, so the write phase only runs once every check has passed.
pub const COMMIT_LUA: &str = r#"
local p = ARGV[1]
local n = tonumber(ARGV[2])
local m = tonumber(ARGV[3])
local keep = tonumber(ARGV[4])
local flags, tokens, segments = p .. ':flags', p .. ':tokens', p .. ':segments'
local base = 5
local per = 7
local function arg(i, field) return ARGV[base + i * per + field] end
local function version_of(hash, key)
  local raw = redis.call('HGET', hash, key)
  if not raw then return nil end
  return tonumber(cjson.decode(raw)['version'])
end
for i = 0, n - 1 do
  local op, key, expected = arg(i, 0), arg(i, 1), arg(i, 2)
  if op == 'put' or op == 'delete' or op == 'seg_put' or op == 'seg_delete' then
    local hash = flags
    if op == 'seg_put' or op == 'seg_delete' then hash = segments end
    local current = version_of(hash, key)
    local want = nil
    if expected ~= '' then want = tonumber(expected) end
    if current ~= want then
      local shown = ''
      if current then shown = string.format('%d', current) end
      return {'conflict', key, expected, shown}
    end
  elseif op == 'token_create' then
    local name = cjson.decode(arg(i, 3))['name']
    for _, raw in ipairs(redis.call('HVALS', tokens)) do
      if cjson.decode(raw)['name'] == name then
        return {'token', 'a token named "' .. name .. '" exists already'}
      end
    end
  elseif op == 'token_revoke' then
    if redis.call('HEXISTS', tokens, key) == 0 then
      return {'token', 'no token has id "' .. key .. '"'}
    end
  end
end
-- Audit ids must grow past the stream's last id, even if the counter was lost.
local seq = tonumber(redis.call('GET', p .. ':audit:seq') or '0')
local last = redis.call('XREVRANGE', p .. ':audit', '+', '-', 'COUNT', 1)[1]
if last then
  local last_id = tonumber(string.match(last[1], '^(%d+)'))
  if last_id > seq then seq = last_id end
end
-- What the announcement names: the flags written or deleted, a kill switch; a token or
-- segment change is announced bare (readers load everything).
local changed, kill, tok = {}, false, false
for i = 0, n - 1 do
  local op, key, payload = arg(i, 0), arg(i, 1), arg(i, 3)
  if op == 'put' or op == 'delete' then
    changed[#changed + 1] = key
  elseif op == 'kill' then
    kill = true
  else
    tok = true
  end
  if op == 'put' then
    redis.call('HSET', flags, key, payload)
    local version = string.format('%d', cjson.decode(payload)['version'])
    local history = p .. ':history:' .. key
    local record, wl_id = arg(i, 4), arg(i, 5)
    -- A large whitelist is kept once per flag, counted by the versions that refer to it.
    if wl_id ~= '' then
      if redis.call('HINCRBY', history .. ':wl_refs', wl_id, 1) == 1 then
        redis.call('HSET', history .. ':wl', wl_id, arg(i, 6))
      end
    end
    redis.call('HSET', history, version, record)
    if keep > 0 then
      local oldest = tonumber(version) - keep + 1
      for _, v in ipairs(redis.call('HKEYS', history)) do
        if tonumber(v) < oldest then
          local ref = cjson.decode(redis.call('HGET', history, v))['whitelist_ref']
          if type(ref) == 'string' and
             redis.call('HINCRBY', history .. ':wl_refs', ref, -1) <= 0 then
            redis.call('HDEL', history .. ':wl_refs', ref)
            redis.call('HDEL', history .. ':wl', ref)
          end
          redis.call('HDEL', history, v)
        end
      end
    end
  elseif op == 'delete' then
    redis.call('HDEL', flags, key)
  elseif op == 'kill' then
    redis.call('SET', p .. ':kill_switch', payload)
  elseif op == 'seg_put' then
    redis.call('HSET', segments, key, payload)
  elseif op == 'seg_delete' then
    redis.call('HDEL', segments, key)
  elseif op == 'token_create' then
    redis.call('HSET', tokens, key, payload)
  elseif op == 'token_revoke' then
    redis.call('HDEL', tokens, key)
  end
end
for j = 0, m - 1 do
  seq = seq + 1
  local id = string.format('%d', seq)
  local at = base + n * per + j * 3
  redis.call('XADD', p .. ':audit', id .. '-0', 'e', ARGV[at])
  if ARGV[at + 1] ~= '' then
    redis.call('ZADD', p .. ':audit:flag:' .. ARGV[at + 1], seq, id)
  end
  redis.call('ZADD', p .. ':audit:actor:' .. ARGV[at + 2], seq, id)
end
redis.call('SET', p .. ':audit:seq', string.format('%d', seq))
local rev = redis.call('INCR', p .. ':revision')
-- "rev": what changed rides along (at most 64 keys), so other instances can read just that.
local told = string.format('%d', rev)
if not tok and #changed <= 64 then
  local k = '0'
  if kill then k = '1' end
  told = told .. ' ' .. k .. ' ' .. table.concat(changed, ',')
end
redis.call('PUBLISH', p .. ':changes', told)
return {'ok', string.format('%d', rev)}
"#;

/// Moves the revision up to ARGV[2] and the version floor up to ARGV[3] (never down), then
/// announces the revision like a commit does. Versions stay below 2^53: exact in Lua.
pub const RAISE_LUA: &str = r#"
local p = ARGV[1]
local rev = tonumber(redis.call('GET', p .. ':revision') or '0')
local want = tonumber(ARGV[2])
if want > rev then
  rev = want
  redis.call('SET', p .. ':revision', string.format('%d', rev))
end
local floor = tonumber(redis.call('GET', p .. ':version_floor') or '0')
if tonumber(ARGV[3]) > floor then
  redis.call('SET', p .. ':version_floor', ARGV[3])
end
redis.call('PUBLISH', p .. ':changes', rev)
return string.format('%d', rev)
"#;

/// Writes one heartbeat, stamped with Redis's own clock (instances' clocks may disagree):
/// the record under `{p}:fleet:beat:{id}` expiring with the forget time, its time in the
/// `{p}:fleet` sorted set (what readers range over, never a keyspace scan), acks handed to
/// other instances' `{p}:fleet:acks:{id}` hashes; then takes this instance's acks and
/// returns them after the revision.
/// ARGV: prefix, id, heartbeat JSON, forget ms, ack count, then (instance, client, version)
/// per ack.
pub const BEAT_LUA: &str = r#"
local p, id, forget = ARGV[1], ARGV[2], tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', p .. ':fleet:beat:' .. id, ARGV[3], 'PX', forget)
redis.call('ZADD', p .. ':fleet', now, id)
redis.call('ZREMRANGEBYSCORE', p .. ':fleet', '-inf', now - forget)
local n = tonumber(ARGV[5])
for i = 0, n - 1 do
  local acks = p .. ':fleet:acks:' .. ARGV[6 + i * 3]
  redis.call('HSET', acks, ARGV[7 + i * 3], ARGV[8 + i * 3])
  redis.call('PEXPIRE', acks, forget)
end
local mine = p .. ':fleet:acks:' .. id
local taken = redis.call('HGETALL', mine)
redis.call('DEL', mine)
local out = {redis.call('GET', p .. ':revision') or '0'}
for _, v in ipairs(taken) do table.insert(out, v) end
return out
"#;

/// Reads the fleet: Redis's time, the revision, then (age ms, heartbeat JSON) per instance
/// seen within the forget time. ARGV: prefix, forget ms.
pub const FLEET_LUA: &str = r#"
local p, forget = ARGV[1], tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {redis.call('GET', p .. ':revision') or '0'}
local seen = redis.call('ZRANGEBYSCORE', p .. ':fleet', now - forget, '+inf', 'WITHSCORES')
for i = 1, #seen, 2 do
  local raw = redis.call('GET', p .. ':fleet:beat:' .. seen[i])
  if raw then
    table.insert(out, string.format('%d', now - tonumber(seen[i + 1])))
    table.insert(out, raw)
  end
end
return out
"#;

/// One change as the script's seven arguments: op, key, expected version, payload, and for a
/// flag its history record, shared whitelist id and whitelist (see `store::versions`).
pub(super) fn script_args(change: &Write) -> [String; 7] {
    let version = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let plain = |op: &str, key: &str, expected: String, payload: String| {
        [
            op.into(),
            key.into(),
            expected,
            payload,
            String::new(),
            String::new(),
            String::new(),
        ]
    };
    match change {
        Write::PutFlag { flag, expected } => {
            let stored = versions::store(flag);
            let (id, users) = stored.whitelist.unwrap_or_default();
            let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap_or_default();
            [
                "put".into(),
                flag.key.clone(),
                version(*expected),
                encode(flag),
                text(stored.record),
                id,
                text(users),
            ]
        }
        Write::DeleteFlag { key, expected } => {
            plain("delete", key, version(Some(*expected)), String::new())
        }
        Write::PutSegment { segment, expected } => {
            plain("seg_put", &segment.key, version(*expected), encode(segment))
        }
        Write::DeleteSegment { key, expected } => {
            plain("seg_delete", key, version(Some(*expected)), String::new())
        }
        Write::SetGlobalKillSwitch(switch) => plain("kill", "", String::new(), encode(switch)),
        Write::CreateToken(record) => {
            plain("token_create", &record.id, String::new(), encode(record))
        }
        Write::RevokeToken { id } => plain("token_revoke", id, String::new(), String::new()),
    }
}
