// The Lua script that applies one flush in Redis, by the rule on FlushId (./store.ts).
// One flush by FlushId's rule. KEYS: hashes, wallet, recent coins, the worker's report, the
// writer's last applied seq; ARGV: seq, units, report, report TTL, recent coins kept, seq TTL,
// then hex and bytes of each coin. Redis does not undo a script's writes when a later command
// fails: every key is checked first, and the one write that can still fail (out of memory, a
// read-only replica) is the first. A refusal names the key, not the script.
export const RECORD_WORK = `
local kinds = { [1] = 'string', [2] = 'hash', [3] = 'list', [5] = 'string' }
for i, kind in pairs(kinds) do
  local found = redis.call('TYPE', KEYS[i])['ok']
  if found ~= 'none' and found ~= kind then
    return redis.error_reply('WRONGTYPE key ' .. KEYS[i] .. ' holds a ' .. found .. ', not a ' .. kind)
  end
end
local counter = redis.call('GET', KEYS[1])
if counter and not string.match(counter, '^-?%d+$') then
  return redis.error_reply('WRONGTYPE key ' .. KEYS[1] .. ' holds a string that is not an integer')
end
if tonumber(redis.call('GET', KEYS[5]) or '0') >= tonumber(ARGV[1]) then return 0 end
local counted = redis.pcall('INCRBY', KEYS[1], ARGV[2])
if type(counted) == 'table' and counted.err then return redis.error_reply(counted.err) end
for i = 7, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('LPUSH', KEYS[3], ARGV[i])
end
if #ARGV > 6 then redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1) end
redis.call('SET', KEYS[4], ARGV[3], 'EX', ARGV[4])
redis.call('SET', KEYS[5], ARGV[1], 'EX', ARGV[6])
return 1`;
