#!/bin/sh
# run.sh: every benchmark part, bench/NAME.sh, one after the other; each
# prints its own table.  Parts run from the top of the tree with $BUILD set.
set -u
BUILD=${BUILD:-build}
export BUILD
status=0
for part in bench/*.sh; do
	[ "$part" = bench/run.sh ] && continue
	echo "== $(basename "$part" .sh)"
	sh "$part" || { echo "$part failed" >&2; status=1; }
	echo
done
exit $status
