
-- Read what follows a cursor. ARGV: 1 cursor epoch, 2 cursor seq, 3 most messages,
-- 4 most bytes, 5 max_age_ms (0: none), 6 ttl_ms (0: none).
-- Returns {'reset', epoch} | {'ahead', epoch, head} | {'athead', epoch, head}
--       | {'gap', epoch, missed_from, missed_to} | {'msgs', epoch, seq1, data1, seq2, ...}.
local epoch = ensure_epoch(tonumber(ARGV[6]))
local max_age = tonumber(ARGV[5])
if max_age > 0 then
  trim(math.huge, math.huge, now_ms - max_age, false)
end
local head = tonumber(redis.call('HGET', meta, 'seq'))
if ARGV[1] ~= epoch then
  return {'reset', epoch}
end
local after = tonumber(ARGV[2])
if after > head then
  return {'ahead', epoch, head}
end
if after == head then
  return {'athead', epoch, head}
end
local first = oldest(head)
if after + 1 < first then
  return {'gap', epoch, after + 1, first - 1}
end
local entries = redis.call('XRANGE', stream, '0-' .. string.format('%d', after + 1), '+',
  'COUNT', tonumber(ARGV[3]))
local max_bytes = tonumber(ARGV[4])
local out = {'msgs', epoch}
local total = 0
for i, e in ipairs(entries) do
  local d = e[2][2]
  if i > 1 and total + #d > max_bytes then
    break
  end
  total = total + #d
  out[#out + 1] = string.sub(e[1], 3)
  out[#out + 1] = d
end
return out
