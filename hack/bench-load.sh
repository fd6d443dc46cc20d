#!/usr/bin/env bash
# How fast `kubectl infer-hpa load` drives streamed requests, and what it
# adds to the latencies it measures. Against a trivial OpenAI server on
# loopback (hack/benchload serve: 8 SSE chunks per request, each flushed on
# its own), in a separate process, it runs:
#   - `load --concurrency C` (full SSE parsing, per-token timing, stats),
#   - the baseline a user would otherwise write: a plain Go net/http loop
#     posting the same request and reading the body, parsing nothing
#     (hack/benchload baseline),
#   - wrk (C, no parsing) with the same POST, when installed (apt-get install wrk),
# first at C=32 for throughput, then at C=1 for the per-request overhead
# (our e2e p50 minus the baseline's). Prints requests/s and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${D:-10s}   # duration of each run
C=${C:-32}    # concurrency of the throughput runs
TOKENS=8
tmp=$(mktemp -d)
go build -o "$tmp/kih" ./cmd/kubectl-infer-hpa
go build -o "$tmp/benchload" ./hack/benchload
"$tmp/benchload" serve -addr-file "$tmp/url" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [ -s "$tmp/url" ] && break; sleep 0.1; done
url=$(cat "$tmp/url")

field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
ours() { # concurrency -> JSON report
  "$tmp/kih" load --url "$url" --concurrency "$1" --duration "$D" --prompt-tokens 5 --output-tokens $TOKENS -o json --plain 2>/dev/null
}
base() { "$tmp/benchload" baseline -url "$url" -c "$1" -d "$D" -tokens $TOKENS; }

echo "server: $url ($TOKENS streamed tokens per request), $(nproc) cores, runs of $D"
o=$(ours "$C"); b=$(base "$C")
o_rps=$(echo "$o" | field 'd["stages"][0]["requestsPerSecond"]')
o_err=$(echo "$o" | field 'sum(d["stages"][0]["errors"].values()) if d["stages"][0]["errors"] else 0')
b_rps=$(echo "$b" | field 'd["requestsPerSecond"]')
printf "load --concurrency %d:          %8.0f req/s (%s errors)\n" "$C" "$o_rps" "$o_err"
printf "net/http loop, %d clients:      %8.0f req/s\n" "$C" "$b_rps"
if command -v wrk >/dev/null; then
  cat >"$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"fake-model","prompt":"the cat sat one mat.","max_tokens":$TOKENS,"stream":true}'
wrk.path = "/v1/completions"
LUA
  w_rps=$(wrk -t2 -c"$C" -d"$D" -s "$tmp/post.lua" "$url" | awk '/Requests\/sec/ {print $2}')
  printf "wrk -t2 -c%d:                    %8.0f req/s\n" "$C" "$w_rps"
fi
awk -v a="$o_rps" -v b="$b_rps" 'BEGIN { printf "ratio load / net/http loop:      %.2fx\n", a / b }'
[ -n "${w_rps:-}" ] && awk -v a="$o_rps" -v b="$w_rps" 'BEGIN { printf "ratio load / wrk:                %.2fx\n", a / b }'

o=$(ours 1); b=$(base 1)
o50=$(echo "$o" | field 'd["stages"][0]["e2eSeconds"]["p50"]*1e6')
o90=$(echo "$o" | field 'd["stages"][0]["e2eSeconds"]["p90"]*1e6')
b50=$(echo "$b" | field 'd["e2eP50Seconds"]*1e6')
b90=$(echo "$b" | field 'd["e2eP90Seconds"]*1e6')
printf "one client, e2e p50/p90: load %.0f/%.0f µs, net/http loop %.0f/%.0f µs\n" "$o50" "$o90" "$b50" "$b90"
awk -v a="$o50" -v b="$b50" 'BEGIN { printf "generator overhead per request (p50): %+.0f µs\n", a - b }'
