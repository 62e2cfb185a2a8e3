#!/bin/sh
# audit.sh: the cost of writing the audit log.  One run: modgated with the
# audit log off, then with fsync = never, interval and always (text = hash,
# checkpoints signed every 1000 records), each driven by build/bench/loadgen
# for $SECONDS_EACH seconds (best of two rounds); prints requests/s, the ratio
# to "off" and the p99 latency.
# The pipeline runs without rules and classifier so that the audit stage is
# what is measured.  The log goes to $AUDIT_DIR (default: a directory under
# the build tree, i.e. the disk the build is on).
set -eu
BUILD=${BUILD:-build}
SECONDS_EACH=${SECONDS_EACH:-3}
CONNS=${CONNS:-4}
top=$(pwd)
dir=$(mktemp -d "$top/$BUILD/bench-audit.XXXXXX")
adir=${AUDIT_DIR:-$dir}
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
	[ "$adir" != "$dir" ] && rm -f "$adir"/bench-audit.log*
	return 0
}
trap cleanup EXIT INT TERM

"$BUILD/modgate" audit keygen "$dir/key" >/dev/null 2>&1

run() {	# name enabled fsync
	rm -f "$adir"/bench-audit.log*
	cat >"$dir/m.conf" <<CONF
server: { socket = "$dir/m.sock"; workers = 2; queue_max = 65536; };
rules: { paths = []; };
classifier: { enabled = false; };
audit: { enabled = $2; path = "$adir/bench-audit.log"; fsync = "$3";
	 fsync_interval_ms = 1000; key = "$dir/key"; checkpoint_every = 1000; };
policies: { default: { }; };
CONF
	"$BUILD/modgated" -F -c "$dir/m.conf" 2>"$dir/stderr" &
	pid=$!
	i=0
	while [ ! -S "$dir/m.sock" ] && [ $i -lt 100 ]; do
		sleep 0.05; i=$((i + 1))
	done
	out=$("$BUILD/bench/loadgen" -s "$dir/m.sock" -c "$CONNS" -d 16 \
	    -t "$SECONDS_EACH" -b 200) || {
		echo "audit.sh: $1: $out" >&2; cat "$dir/stderr" >&2; exit 1; }
	case $out in
	*"errors 0 "*) ;;
	*)	echo "audit.sh: $1: errors: $out" >&2; exit 1 ;;
	esac
	kill "$pid"; wait "$pid" || true; pid=
	if [ "$2" = true ]; then
		"$BUILD/modgate" audit verify -q -k "$dir/key.pub" \
		    "$adir/bench-audit.log" >&2 || {
			echo "audit.sh: $1: the log does not verify" >&2
			exit 1; }
	fi
	echo "$out" | awk '/^requests\/s/ { r = $2 }
	    /^latency_us/ { p = $7 } END { print r "/" p }'
}

# Two rounds, best of each (by requests/s): the machine may be shared.
best() {
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, "/"); split(b, y, "/");
	    print (x[1] + 0 > y[1] + 0 ? a : b) }'
}
off=0 never=0 interval=0 always=0
for round in 1 2; do
	off=$(best "$off" "$(run off false never)")
	never=$(best "$never" "$(run never true never)")
	interval=$(best "$interval" "$(run interval true interval)")
	always=$(best "$always" "$(run always true always)")
done

fs=$(df -T "$adir" | awk 'NR == 2 { print $2 }')
echo "audit write cost: requests/s, $CONNS connections x 16 pipelined," \
    "200-byte texts, best of 2 runs of ${SECONDS_EACH}s, log on $fs"
printf '%-22s %10s %8s %12s\n' "audit" "req/s" "vs off" "p99 us"
for m in off never interval always; do
	eval v=\$$m
	case $m in
	off)	label="off" ;;
	*)	label="on, fsync $m" ;;
	esac
	printf '%-22s %10s %8s %12s\n' "$label" "${v%/*}" \
	    "$(awk -v a="${v%/*}" -v b="${off%/*}" \
	    'BEGIN { printf "%.2f", a / b }')" "${v#*/}"
done
