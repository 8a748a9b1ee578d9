-- Shared by every script of the Redis hub backend (prepended to each one).
-- KEYS[1]: the channel's meta hash (epoch, seq, bytes); KEYS[2]: its stream. Stream entry
-- ids are "0-SEQ"; fields: d (the payload), t (publish time, ms, from the server's clock).

local meta, stream = KEYS[1], KEYS[2]
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)

-- The channel's epoch, created (with an empty history) when the meta hash is missing: a
-- first use, an expired or evicted key, a restart without persistence. The new epoch is the
-- server's clock in microseconds, so it differs from every earlier epoch of the channel.
local function ensure_epoch(ttl_ms)
  local epoch = redis.call('HGET', meta, 'epoch')
  if epoch then
    return epoch, false
  end
  epoch = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'epoch', epoch, 'seq', 0, 'bytes', 0)
  if ttl_ms > 0 then
    redis.call('PEXPIRE', meta, ttl_ms)
  end
  return epoch, true
end

-- Drops the oldest entries while the history holds more than max_messages entries or
-- max_bytes payload bytes, or entries published at or before cutoff_ms (0: no age bound).
-- With keep_newest, the newest entry is never dropped. Keeps the meta's byte count.
local function trim(max_messages, max_bytes, cutoff_ms, keep_newest)
  local len = redis.call('XLEN', stream)
  local bytes = tonumber(redis.call('HGET', meta, 'bytes') or '0')
  if len == 0 then
    if bytes ~= 0 then
      redis.call('HSET', meta, 'bytes', 0)
    end
    return
  end
  -- The common case, in O(1): within count and bytes, and the oldest entry young enough.
  if len <= max_messages and bytes <= max_bytes then
    if cutoff_ms <= 0 then
      return
    end
    local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
    if tonumber(first[2][4]) > cutoff_ms then
      return
    end
  end
  local floor = 0
  if keep_newest then
    floor = 1
  end
  local last = nil
  local from = '-'
  local done = false
  while not done and len > floor do
    local batch = redis.call('XRANGE', stream, from, '+', 'COUNT', 16)
    if #batch == 0 then
      break
    end
    for _, e in ipairs(batch) do
      if len <= floor then
        done = true
        break
      end
      local d, t = e[2][2], tonumber(e[2][4])
      if len > max_messages or bytes > max_bytes or (cutoff_ms > 0 and t <= cutoff_ms) then
        len = len - 1
        bytes = bytes - #d
        last = e[1]
      else
        done = true
        break
      end
    end
    from = '(' .. batch[#batch][1]
  end
  if last then
    local seq = tonumber(string.sub(last, 3))
    redis.call('XTRIM', stream, 'MINID', '0-' .. string.format('%d', seq + 1))
    if bytes < 0 then
      bytes = 0
    end
    redis.call('HSET', meta, 'bytes', bytes)
  end
end

-- The seq of the oldest entry held, or head + 1 when none is.
local function oldest(head)
  local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
  if first then
    return tonumber(string.sub(first[1], 3))
  end
  return head + 1
end
