-- report.lua -- machine-readable summary for wrk (pxcy bench harness).
-- Use directly (wrk -s report.lua URL) or dofile()'d by the other scripts.
-- done() prints ONE line:
--   WRK_JSON {"requests":..,"duration_us":..,"rps":..,"p50_us":..,"p90_us":..,"p99_us":..,
--             "max_us":..,"bytes":..,"errors":{"connect":..,"read":..,"write":..,"status":..,"timeout":..}}
-- Latencies are wrk's: one sample per request, or per pipelined batch.
-- errors.status is wrk's count of responses with status > 399; a 1xx/3xx would pass uncounted,
-- which is why the harness checks each server's answer (200/206 and the body) before measuring.
-- No response() callback on purpose: a Lua call per response would lower wrk's ceiling.
-- bench/harness.py fails a run on ANY nonzero error count.

done = function(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
end
