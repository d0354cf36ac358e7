#!lua
-- One vote, one round trip: everything ingest asks of Redis for a vote, atomically.
-- The shebang makes Redis refuse the whole script up front when it is out of memory
-- (noeviction), so nothing is ever half-written. Loaded and called by votes/stream.py.
--
-- KEYS[1]          the votes stream
-- KEYS[2]          the voter's quota list in this window (its length is the quota used)
-- KEYS[3]          the new vote's receipt hash
-- KEYS[4]          the press key: this press of the Vote button -> its vote id (resends)
-- KEYS[5..4+n]     one fixed-window counter per rate limit, in the order of ARGV's limits
-- KEYS[5+n..]      the fraud gate's keys (fraud/budget.py Gate): new-voter mode (a vote
--                  without a known voter cookie): the IP's and the subnet's new voters this
--                  window, then the IP's and the subnet's suspect flags; solved mode (a vote
--                  with a solved challenge, any voter): the challenge's used marker; known
--                  mode: none
--
-- ARGV[1]  max votes per voter in this window     ARGV[2]  quota list ttl (s)
-- ARGV[3]  receipt and press key ttl (s)          ARGV[4]  the new vote id
-- ARGV[5]  category id                            ARGV[6]  nominee id
-- ARGV[7]  window opens (Unix ms)                 ARGV[8]  window closes (Unix ms)
-- ARGV[9]  ingest's clock (Unix ms)               ARGV[10] largest skew allowed (ms)
-- ARGV[11] n, the number of rate limits; then n triples (amount, ceiling, window seconds)
-- then     the gate: its mode (known | new | solved), then for new: budget per IP, per subnet,
--          the counters' ttl (s); for solved: the used marker's ttl (s)
-- then     the stream entry's field/value pairs, without the cast time: the script adds it.
--
-- Replies, first element the outcome:
--   {'queued', 'vote-id nominee', Redis's clock (Unix ms)}  appended to the stream just now
--   {'again', 'vote-id nominee'}   this press was queued before: the same receipt, no new entry
--   {'limited', retry after s, i}  the i-th rate limit (1-based, KEYS[4+i]) is at its ceiling
--   {'over_quota', receipt}        the voter's quota is used; their latest receipt
--   {'challenge'}                  past a rate limit's amount, or a new voter past its IP's or
--                                  subnet's budget, without a solved challenge: not queued
--   {'replayed'}                   a challenge solution that was used before: not queued
--   {'not_open' | 'closed'}        outside the window by Redis's clock
--   {'skew', ingest minus Redis ms} ingest's clock is ahead by more than allowed: nothing done

-- A resend of a press that was queued answers the same receipt, before any limit is charged.
local earlier = redis.call('GET', KEYS[4])
if earlier then
  return {'again', earlier}
end

-- The cast time is Redis's clock, shared by every ingest host: a host whose own clock runs
-- behind cannot admit votes after the real close. Only a clock *ahead* is refused here: ingest
-- stamped the vote before it waited for this script (in a spike, seconds), so a stamp behind
-- Redis's is normal; ingest judges "behind" after the reply, knowing how long it waited.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local skew = tonumber(ARGV[9]) - now
if skew > tonumber(ARGV[10]) then
  return {'skew', skew}
end
if now < tonumber(ARGV[7]) then
  return {'not_open'}
end
if now >= tonumber(ARGV[8]) then
  return {'closed'}
end

-- Rate limits, fixed windows that start at their first hit (the `limits` package's
-- fixed-window strategy). Each has an amount and a ceiling. Past its ceiling a vote is refused
-- (429); between the two it must carry a solved challenge: per IP and per subnet the ceiling is
-- a multiple of the amount, so a stadium behind one NAT is challenged, never refused; per voter
-- the two are equal. All ceilings are checked before any is charged, so a refusal costs
-- nothing; a challenged vote is charged, so the ceiling bounds what an IP can ask at all.
local limits = tonumber(ARGV[11])
local over_amount = false
for i = 1, limits do
  local used = tonumber(redis.call('GET', KEYS[4 + i]) or '0')
  local arg = 9 + 3 * i  -- ARGV[arg] amount, ARGV[arg + 1] ceiling, ARGV[arg + 2] seconds
  if used >= tonumber(ARGV[arg + 1]) then
    local ttl = redis.call('TTL', KEYS[4 + i])
    return {'limited', math.max(ttl, 1), i}
  end
  over_amount = over_amount or used >= tonumber(ARGV[arg])
end
for i = 1, limits do
  if redis.call('INCR', KEYS[4 + i]) == 1 then
    redis.call('EXPIRE', KEYS[4 + i], ARGV[11 + 3 * i])
  end
end

-- The fraud gate (issue 14). A solved challenge is accepted once, whatever else holds. Without
-- one, a vote past a rate limit's amount is challenged; so is a vote without a known voter past
-- its IP's or subnet's new-voter budget for the window, or from a network detection flagged.
-- The budget is spent only by votes that are queued.
local gate = 12 + 3 * limits
local mode = ARGV[gate]
local g = 4 + limits
local first_field = gate + 1
if mode == 'solved' then
  first_field = gate + 2
  if redis.call('EXISTS', KEYS[g + 1]) == 1 then
    return {'replayed'}
  end
elseif over_amount then
  return {'challenge'}
elseif mode == 'new' then
  first_field = gate + 4
  if redis.call('EXISTS', KEYS[g + 3]) == 1 or redis.call('EXISTS', KEYS[g + 4]) == 1
      or tonumber(redis.call('GET', KEYS[g + 1]) or '0') >= tonumber(ARGV[gate + 1])
      or tonumber(redis.call('GET', KEYS[g + 2]) or '0') >= tonumber(ARGV[gate + 2]) then
    return {'challenge'}
  end
end

-- The quota: a refused vote still counted against the limits above, as it did before.
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[1]) then
  return {'over_quota', redis.call('LINDEX', KEYS[2], -1)}
end

local fields = {}
for i = first_field, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
fields[#fields + 1] = 't'
fields[#fields + 1] = tostring(now)
redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[3], 's', 'queued', 'c', ARGV[5], 'n', ARGV[6])
redis.call('EXPIRE', KEYS[3], ARGV[3])
if mode == 'new' then
  for k = g + 1, g + 2 do
    redis.call('INCR', KEYS[k])
    redis.call('EXPIRE', KEYS[k], ARGV[gate + 3])
  end
elseif mode == 'solved' then
  redis.call('SET', KEYS[g + 1], '1', 'EX', ARGV[gate + 1])
end
local press = ARGV[4] .. ' ' .. ARGV[6]
redis.call('SET', KEYS[4], press, 'EX', ARGV[3])
return {'queued', press, now}
