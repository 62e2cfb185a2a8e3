#!/bin/sh
# run.sh: every test, each under a timeout.  First a check that the C
# modules include each other without a cycle (scripts/include-graph.py).
# Unit tests are the cmocka binaries in $BUILD/tests/; integration tests are
# tests/integration/test_*.py (Python standard library), which start the
# real daemon from $BUILD on a temporary socket.  Ends with "N passed, N
# failed, N skipped": passed and failed count test programs, skipped the
# test cases a passing program skipped (for example those that need
# ../shared/data beside the repository), each listed above with its reason.
set -u
BUILD=${BUILD:-build}
export BUILD
export MODGATE_TOP=$(pwd)
pass=0
fail=0
skip=0
failed=

# note RC NAME START: count a program's result; START is when it began
# (date +%s), for the seconds it took.
note() {
	secs=$(($(date +%s) - $3))
	if [ "$1" -eq 0 ]; then
		pass=$((pass + 1)); echo "ok   $2 (${secs} s)"
	else
		fail=$((fail + 1)); failed="$failed $2"
		echo "FAIL $2 (exit $1, ${secs} s)"
	fi
}

# skipped NAME LOG: count and list the test cases unittest skipped.
skipped() {
	n=$(sed -n 's/^OK (skipped=\([0-9]*\).*/\1/p' "$2")
	[ -n "$n" ] || return 0
	skip=$((skip + n))
	sed -n "s/^\(test[a-z_0-9]*\) .*\.\.\. skipped '\(.*\)'\$/\1: \2/p" "$2" |
		awk -v prog="$1" '{ print "skip " prog " " $0 }'
}

# The C modules include each other without a cycle.
mkdir -p "$BUILD/tests"
log="$BUILD/tests/include-graph.log"
t0=$(date +%s)
python3 scripts/include-graph.py >"$log" 2>&1
rc=$?
[ $rc -ne 0 ] && cat "$log"
note $rc "check/include-graph" $t0

for t in "$BUILD"/tests/test-*; do
	[ -x "$t" ] || continue
	log="$BUILD/tests/$(basename "$t").log"
	t0=$(date +%s)
	timeout 300 "$t" >"$log" 2>&1
	rc=$?
	[ $rc -ne 0 ] && cat "$log"
	note $rc "unit/$(basename "$t")" $t0
done

for t in tests/integration/test_*.py; do
	[ -f "$t" ] || continue
	log="$BUILD/tests/$(basename "$t" .py).log"
	mkdir -p "$BUILD/tests"
	t0=$(date +%s)
	timeout 600 python3 "$t" >"$log" 2>&1
	rc=$?
	[ $rc -ne 0 ] && cat "$log"
	note $rc "integration/$(basename "$t")" $t0
	[ $rc -eq 0 ] && skipped "integration/$(basename "$t")" "$log"
done

[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
