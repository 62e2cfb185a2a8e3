#!/bin/sh
# http.sh: the HTTP front against the Unix socket, and streaming.
#
#  1. POST /v1/moderate on a loopback TCP port under wrk (keep-alive, one
#     request in flight per connection), against protocol v1 on the Unix
#     socket under build/bench/loadgen with the same connections, depth 1
#     and text size; requests/s, p50 and p99.
#  2. Streaming: bench/stream_latency.py appends chunks one at a time and
#     prints the latency per appended chunk (p50, p99) beside op ping, on
#     the socket and over HTTP (/v1/streams/ID beside GET /healthz).
#
# modgated runs the shipped rules, no classifier (no model in the tree
# yet) and no audit log, so that the front is what differs.
set -eu
BUILD=${BUILD:-build}
SECONDS_EACH=${SECONDS_EACH:-4}
CONNS=${CONNS:-16}
BYTES=${BYTES:-200}
top=$(pwd)
command -v wrk >/dev/null || { echo "http.sh: wrk is not installed" \
    "(scripts/deps.sh test)" >&2; exit 1; }
[ -x "$BUILD/bench/loadgen" ] || { echo "http.sh: $BUILD/bench/loadgen" \
    "missing (make bench)" >&2; exit 1; }
dir=$(mktemp -d "$top/$BUILD/bench-http.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
	return 0
}
trap cleanup EXIT INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "bench $token" >"$dir/tokens"
chmod 600 "$dir/tokens"
cat >"$dir/m.conf" <<CONF
server: { socket = "$dir/m.sock"; workers = 2; queue_max = 65536; };
rules: { paths = [ "$top/rules/*.rules" ]; };
classifier: { enabled = false; };
audit: { enabled = false; };
http: { enabled = true; listen = "127.0.0.1:$port";
	tokens_file = "$dir/tokens"; };
policies: { default: { }; };
CONF
"$BUILD/modgated" -F -c "$dir/m.conf" 2>"$dir/stderr" &
pid=$!
i=0
until [ -S "$dir/m.sock" ] && curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; do
	i=$((i + 1))
	[ $i -gt 600 ] && { echo "http.sh: modgated did not start" >&2
	    cat "$dir/stderr" >&2; exit 1; }
	sleep 0.05
done

code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{"text": "hello"}' \
    "http://127.0.0.1:$port/v1/moderate")
[ "$code" = 200 ] || { echo "http.sh: POST /v1/moderate answered $code" >&2
    exit 1; }

# wrk's latency table: "50%  1.23ms"; in microseconds.
us() {
	awk -v p="$1" '$1 == p {
	    v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
	    f = (u == "us") ? 1 : (u == "ms") ? 1000 : (u == "s") ? 1e6 : 0;
	    printf "%.0f", v * f }'
}
hrps=0 hp50=0 hp99=0 urps=0 up50=0 up99=0
for round in 1 2; do
	w=$(MODGATE_TOKEN=$token BENCH_BYTES=$BYTES wrk -t2 -c"$CONNS" \
	    -d"${SECONDS_EACH}s" --latency -s bench/http.lua \
	    "http://127.0.0.1:$port/v1/moderate")
	case $w in
	*Non-2xx*|*"Socket errors"*)
		echo "http.sh: wrk saw errors:" >&2; echo "$w" >&2; exit 1 ;;
	esac
	r=$(echo "$w" | awk '/^Requests\/sec/ { printf "%.0f", $2 }')
	if [ "$r" -gt "$hrps" ]; then
		hrps=$r
		hp50=$(echo "$w" | us 50%)
		hp99=$(echo "$w" | us 99%)
	fi
	l=$("$BUILD/bench/loadgen" -s "$dir/m.sock" -c "$CONNS" -d 1 \
	    -t "$SECONDS_EACH" -b "$BYTES")
	case $l in
	*"errors 0 "*) ;;
	*)	echo "http.sh: loadgen: $l" >&2; exit 1 ;;
	esac
	r=$(echo "$l" | awk '/^requests\/s/ { print $2 }')
	if [ "$r" -gt "$urps" ]; then
		urps=$r
		up50=$(echo "$l" | awk '/^latency_us/ { print $3 }')
		up99=$(echo "$l" | awk '/^latency_us/ { print $7 }')
	fi
done

echo "POST /v1/moderate (wrk, loopback TCP) against protocol v1 (loadgen," \
    "Unix socket): $CONNS connections, 1 in flight each, ${BYTES}-byte" \
    "texts, shipped rules, best of 2 runs of ${SECONDS_EACH}s"
printf '%-28s %10s %8s %10s %10s\n' "front" "req/s" "ratio" "p50 us" "p99 us"
printf '%-28s %10s %8s %10s %10s\n' "Unix socket, protocol v1" "$urps" "1.00" \
    "$up50" "$up99"
printf '%-28s %10s %8s %10s %10s\n' "HTTP/1.1 TCP, /v1/moderate" "$hrps" \
    "$(awk -v a="$hrps" -v b="$urps" 'BEGIN { printf "%.2f", a / b }')" \
    "$hp50" "$hp99"
echo
python3 bench/stream_latency.py "$dir/m.sock" "${STREAMS:-40}" \
    "${CHUNKS:-100}" "${CHUNK_BYTES:-16}" "http://127.0.0.1:$port" "$token"
