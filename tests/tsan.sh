#!/bin/sh
# tsan.sh: the threaded parts under ThreadSanitizer ($BUILD built with
# `make TSAN=1`): the unit tests of the worker pool, the classifier (shared
# batches), the audit log, metrics and the pipeline, then the daemon driven
# by concurrent clients, op calls and SIGHUPs (test_concurrency.py).  Any
# ThreadSanitizer report fails.  Ends with "N passed, N failed".
set -u
BUILD=${BUILD:-build-tsan}
export BUILD
export MODGATE_TOP=$(pwd)
export MODGATE_START_TIMEOUT=180
# exitcode: a report makes the process exit 66 even when it ends well.
supp=
[ -f tests/tsan.supp ] && supp=":suppressions=$(pwd)/tests/tsan.supp"
export TSAN_OPTIONS="halt_on_error=0:exitcode=66:second_deadlock_stack=1$supp"
pass=0
fail=0
mkdir -p "$BUILD/tests"

note() {	# rc name log
	if [ "$1" -eq 0 ] && ! grep -q "ThreadSanitizer" "$3"; then
		pass=$((pass + 1)); echo "ok   $2"
	else
		fail=$((fail + 1)); echo "FAIL $2 (exit $1)"
		grep -A30 "WARNING: ThreadSanitizer" "$3" | head -80
		[ "$1" -ne 0 ] && tail -30 "$3"
	fi
}

for t in worker classifier audit metrics pipeline; do
	bin=$BUILD/tests/test-$t
	[ -x "$bin" ] || continue
	log=$BUILD/tests/tsan-$t.log
	timeout 600 "$bin" >"$log" 2>&1
	note $? "tsan unit/test-$t" "$log"
done
log=$BUILD/tests/tsan-concurrency.log
CONCURRENCY_SECONDS=12 timeout 900 python3 tests/integration/test_concurrency.py >"$log" 2>&1
note $? "tsan integration/test_concurrency.py" "$log"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
