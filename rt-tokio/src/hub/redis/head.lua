
-- The channel's head (its epoch created if missing). ARGV: 1 ttl_ms (0: none).
-- Returns {epoch, seq}.
local epoch = ensure_epoch(tonumber(ARGV[1]))
return {epoch, tonumber(redis.call('HGET', meta, 'seq'))}
