#!/usr/bin/env bash
# Side by side: `promlite serve` and the real Prometheus (Debian's 2.42) serving the same
# kube-controller-manager data, loaded with wrk over keep-alive with the dashboard
# queries (instant queries, cycled). Loopback only; both servers are stopped on exit.
#
#   bash benches/serve-wrk.sh [PROMLITE_BINARY] [SECONDS] [CONNECTIONS]
#
# Needs: python3, ../shared/tools/gen-kcm, prometheus, promtool, wrk.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/target/release/promlite}"
secs="${2:-20}"
conns="${3:-8}"
work="$(mktemp -d /tmp/promlite-serve-wrk.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$1/-/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server on port $1 did not become ready" >&2
  return 1
}

start=1700000000
python3 "$root/../shared/tools/gen-kcm" --instances 2 --queues 48 --scrapes 40 --interval 15 \
  --format openmetrics --start "$start" -q --out "$work/kcm.om"
promtool tsdb create-blocks-from openmetrics "$work/kcm.om" "$work/tsdb" >/dev/null
printf 'global:\n  scrape_interval: 15s\n' >"$work/prometheus.yml"

pp=$(free_port)
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$pp" \
  >"$work/prometheus.log" 2>&1 &
pids+=($!)
lp=$(free_port)
"$bin" serve --listen "127.0.0.1:$lp" --data "$work/kcm.om" >"$work/promlite.log" 2>&1 &
pids+=($!)
wait_ready "$pp"
wait_ready "$lp"

cat >"$work/q.lua" <<'EOF'
local qs = {
  "histogram_quantile(0.99, sum by (name, le) (rate(workqueue_queue_duration_seconds_bucket[1m])))",
  "sum by (name) (rate(workqueue_adds_total[1m]))",
  "sum by (name) (workqueue_depth)",
  "sum by (code) (rate(rest_client_requests_total[1m]))",
  "histogram_quantile(0.99, sum by (url, le) (rate(rest_client_request_duration_seconds_bucket[1m])))",
  "rate(process_cpu_seconds_total[1m])",
  "process_resident_memory_bytes",
}
local function enc(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
local paths = {}
for i, q in ipairs(qs) do paths[i] = "/api/v1/query?time=1700000580&query=" .. enc(q) end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("requests/s %.0f  p50 %.2f ms  p99 %.2f ms  non-2xx %d  errors %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end
EOF

# Warm-up, then the measured runs.
for name in prometheus:$pp promlite:$lp; do
  port=${name#*:}
  wrk -t2 -c"$conns" -d2s -s "$work/q.lua" "http://127.0.0.1:$port" >/dev/null
done
for name in prometheus:$pp promlite:$lp; do
  port=${name#*:}
  printf '%-10s ' "${name%%:*}"
  wrk -t2 -c"$conns" -d"${secs}s" -s "$work/q.lua" "http://127.0.0.1:$port" | tail -1
done
