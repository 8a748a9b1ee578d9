
-- Publish: the next seq, the entry appended (history trimmed), the announcement, in one
-- atomic step. ARGV: 1 payload, 2 pub/sub channel, 3 max_messages, 4 max_bytes,
-- 5 max_age_ms (0: none), 6 ttl_ms (0: none).
-- Returns {epoch, seq}. The announcement is "EPOCH:SEQ PAYLOAD".
local data = ARGV[1]
local ttl_ms = tonumber(ARGV[6])
local epoch = ensure_epoch(ttl_ms)
local seq = redis.call('HINCRBY', meta, 'seq', 1)
local id = '0-' .. string.format('%d', seq)
redis.call('XADD', stream, id, 'd', data, 't', now_ms)
redis.call('HINCRBY', meta, 'bytes', #data)
local max_age = tonumber(ARGV[5])
local cutoff = 0
if max_age > 0 then
  cutoff = now_ms - max_age
end
trim(tonumber(ARGV[3]), tonumber(ARGV[4]), cutoff, true)
if ttl_ms > 0 then
  redis.call('PEXPIRE', meta, ttl_ms)
  redis.call('PEXPIRE', stream, ttl_ms)
end
redis.call('PUBLISH', ARGV[2], epoch .. ':' .. string.format('%d', seq) .. ' ' .. data)
return {epoch, seq}
