-- wrk script for the peers benchmark (bench/peers-load.ts). WRK_PATH is the request target: the
-- origin's absolute URL through a proxy (absolute-form, as a browser sends to an HTTP proxy), or "/"
-- when going direct. done() prints one JSON line the benchmark parses.
wrk.method = "GET"
wrk.path = os.getenv("WRK_PATH")
wrk.headers["Host"] = os.getenv("WRK_HOST")

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p99Us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
