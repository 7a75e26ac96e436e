-- wrk script for the benchmarks (bench/common.py writes the request bodies, one JSON document a line).
-- Each wrk thread sends its own share of the lines in turn (so unique codes are never sent twice while
-- lines last), counts answers by status, and done() prints one JSON line for common.py to read.
-- With a rate (requests/s, all threads together) each thread paces its requests to its share of it: the
-- clients then behave like checkouts at that load instead of sending back to back.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local clock = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  method, path = args[3], args[4]
  local rate = tonumber(args[5] or "0")
  interval = rate > 0 and nthreads * 1000 / rate or 0
  next_slot = 0
  bodies, statuses, sent = {}, {}, 0
  if file ~= "" then
    local n = 0
    for line in io.lines(file) do
      if n % nthreads == tid then bodies[#bodies + 1] = line end
      n = n + 1
    end
  end
end

function delay()
  if interval == 0 then
    return 0
  end
  local now = now_ms()
  if next_slot < now then
    next_slot = now  -- behind schedule (every connection was busy): no burst to catch up
  end
  local wait = next_slot - now
  next_slot = next_slot + interval
  return wait
end

function request()
  sent = sent + 1
  if #bodies == 0 then
    return wrk.format(method, path)
  end
  return wrk.format(method, path, nil, bodies[((sent - 1) % #bodies) + 1])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(counts) do
    parts[#parts + 1] = string.format('"%d": %d', status, count)
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests": %d, "duration_us": %d, "p50": %d, "p95": %d, "p99": %d, "max": %d, ' ..
    '"errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max,
    errors.connect + errors.read + errors.write + errors.timeout, table.concat(parts, ", ")))
end
