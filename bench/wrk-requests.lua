-- wrk's script for the bench's load (bench/lib/load-generator.mjs runs it):
--   wrk ... -s bench/wrk-requests.lua <url> -- <job file>
-- The job file holds, one per line: the credential kind (`bearer` or `cookie`), the method, the body
-- (`-` for none), the headers as `name: value` lines up to a `--` line, then one token per line.
-- Every request is built once, at start: during the run a request costs wrk a table lookup, so the
-- load generator takes as little of the machine's CPU as it can.
-- Each thread counts the answers by status; `done` adds them up and prints one JSON line.

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local requests = {}
local next_request = 1
statuses = {}

local function read_job(path)
  local lines = {}
  for line in io.lines(path) do
    table.insert(lines, line)
  end
  return lines
end

function init(args)
  local lines = read_job(args[1])
  local credential, method, body = lines[1], lines[2], lines[3]
  if body == "-" then
    body = nil
  end
  local base = {}
  local index = 4
  while lines[index] ~= "--" do
    local name, value = lines[index]:match("^([^:]+): (.*)$")
    base[name] = value
    index = index + 1
  end
  local function headers_with(extra_name, extra_value)
    local headers = {}
    for name, value in pairs(base) do
      headers[name] = value
    end
    if extra_name then
      headers[extra_name] = extra_value
    end
    return headers
  end
  for i = index + 1, #lines do
    local token = lines[i]
    local headers = credential == "cookie" and headers_with("Cookie", token)
      or headers_with("Authorization", "Bearer " .. token)
    table.insert(requests, wrk.format(method, nil, headers, body))
  end
  if #requests == 0 then
    table.insert(requests, wrk.format(method, nil, headers_with(), body))
  end
  -- Threads start at different places in the rotation, so they do not hit the same session at once.
  next_request = (thread_index * 7919) % #requests + 1
end

function request()
  local chosen = requests[next_request]
  next_request = next_request % #requests + 1
  return chosen
end

function response(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local status_json = {}
  for status, count in pairs(counts) do
    table.insert(status_json, string.format('"%d":%d', status, count))
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"durationMicros":%d,"requests":%d,"p50Micros":%d,"p99Micros":%d,'
      .. '"statuses":{%s},"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}}\n',
    summary.duration,
    summary.requests,
    latency:percentile(50),
    latency:percentile(99),
    table.concat(status_json, ","),
    errors.connect,
    errors.read,
    errors.write,
    errors.timeout
  ))
end
