-- wrk script: POST one pre-signed 2 KB generic sale body with a unique Tillwise-Event-Id
-- per request (the idempotency key), so every request is a new durable delivery.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  path = args[1]
  signature = args[2]
  local f = assert(io.open(args[3], "rb"))
  body = f:read("*a")
  f:close()
  thread_id = tid
end

function request()
  counter = counter + 1
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Tillwise-Signature"] = signature
  headers["Tillwise-Event-Id"] = "bench-" .. thread_id .. "-" .. counter
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("BENCH p50_us=%d p99_us=%d requests=%d non2xx=%d errors=%d\n",
    latency:percentile(50), latency:percentile(99), summary.requests,
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
