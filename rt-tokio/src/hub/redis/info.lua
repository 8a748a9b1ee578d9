
-- Facts for a status page, read-only: {} when the channel has no epoch, else
-- {epoch, head, oldest, messages, bytes}.
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  return {}
end
local head = tonumber(redis.call('HGET', meta, 'seq'))
local bytes = tonumber(redis.call('HGET', meta, 'bytes') or '0')
return {epoch, head, oldest(head), redis.call('XLEN', stream), bytes}
