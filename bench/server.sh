#!/bin/sh
# server.sh: round trips through modgated's socket.  Starts the daemon on a
# temporary socket and drives it with build/bench/loadgen: 32 connections,
# one request in flight each (closed loop), 200-byte texts cut from the
# AlpacaEval outputs corpus, $SECONDS_EACH seconds per run, best of two.
# Two set-ups: the server alone (rules and classifier off, audit off) and
# the shipped pipeline (the repository's rules and model, audit log with
# fsync = interval) when it loads.
set -eu
BUILD=${BUILD:-build}
SECONDS_EACH=${SECONDS_EACH:-3}
CONNS=${CONNS:-32}
BYTES=${BYTES:-200}
top=$(pwd)
corpus=$top/../shared/data/alpacaeval-outputs/alpacaeval_outputs_5models.jsonl
[ -f "$corpus" ] && src="-f $corpus" || src=
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-server.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
	return 0
}
trap cleanup EXIT INT TERM

start() {	# config text
	printf '%s\n' "$1" >"$dir/m.conf"
	"$BUILD/modgated" -F -c "$dir/m.conf" -s "$dir/m.sock" \
	    2>"$dir/stderr" &
	pid=$!
	i=0
	while [ ! -S "$dir/m.sock" ] && [ $i -lt 600 ]; do
		kill -0 "$pid" 2>/dev/null || { pid=; return 1; }
		sleep 0.05; i=$((i + 1))
	done
	[ -S "$dir/m.sock" ]
}

stop() {
	kill "$pid"; wait "$pid" || true; pid=
}

# Best of two runs: "req/s p50 p99" of the run with more requests/s.
measure() {
	best=
	for round in 1 2; do
		out=$("$BUILD/bench/loadgen" -s "$dir/m.sock" -c "$CONNS" \
		    -d 1 -t "$SECONDS_EACH" -b "$BYTES" $src) || {
			echo "server.sh: loadgen: $out" >&2; return 1; }
		line=$(echo "$out" | awk '
		    /^requests\/s/ { r = $2 }
		    /^latency_us/ { p50 = $3; p99 = $7; p999 = $9 }
		    END { print r, p50, p99, p999 }')
		if [ -z "$best" ] || [ "${line%% *}" -gt "${best%% *}" ]; then
			best=$line
		fi
	done
	echo "$best"
}

alone="server: { socket = \"$dir/m.sock\"; workers = 2; };
rules: { paths = []; };
classifier: { enabled = false; };
audit: { enabled = false; path = \"$dir/audit.jsonl\"; };
policies: { default: { }; };"

shipped="server: { socket = \"$dir/m.sock\"; };
rules: { paths = [ \"$top/rules/*.rules\" ]; };
classifier: { model = \"$top/models/default\"; };
audit: { path = \"$dir/audit.jsonl\"; fsync = \"interval\"; };
policies: { default: { }; };"

echo "modgated round trips: $CONNS connections, 1 request in flight each," \
    "$BYTES-byte texts, best of 2 runs of ${SECONDS_EACH}s"
printf '%-34s %9s %9s %9s %9s\n' "set-up" "req/s" "p50 us" "p99 us" \
    "p99.9 us"
start "$alone" || { cat "$dir/stderr" >&2; exit 1; }
set -- $(measure)
stop
printf '%-34s %9s %9s %9s %9s\n' "server alone (stages off)" "$1" "$2" \
    "$3" "$4"
if start "$shipped"; then
	stages=$("$BUILD/modgate" check -j -s "$dir/m.sock" hello |
	    sed -n 's/.*"stages":{\([^}]*\)}.*/\1/p' | tr -d '"')
	set -- $(measure)
	stop
	printf '%-34s %9s %9s %9s %9s\n' "shipped rules, model, audit" "$1" \
	    "$2" "$3" "$4"
	echo "  (stages of the shipped set-up: $stages)"
else
	printf '%-34s %s\n' "shipped rules, model, audit" \
	    "did not start: $(tail -1 "$dir/stderr")"
fi
