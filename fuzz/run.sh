#!/bin/sh
# run.sh: run every fuzz target in $FUZZ_BUILD for $FUZZ_SECONDS on its seed
# corpus (fuzz/corpus/NAME/, copied to a scratch directory so the committed
# seeds stay as they are).  Any crash fails; ends with "N passed, N failed".
set -u
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
pass=0
fail=0
for bin in "$FUZZ_BUILD"/fuzz-*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz-}
	work="$FUZZ_BUILD/corpus-$name"
	mkdir -p "$work"
	[ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/"
	# Seeds made at run time from ../shared/data/blns (never committed).
	python3 fuzz/blns-seeds.py "$name" "$work" || true
	dict=
	[ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
	if "$bin" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -timeout=10 \
	    -rss_limit_mb=2048 -artifact_prefix="$FUZZ_BUILD/crash-$name-" \
	    $dict "$work" >"$FUZZ_BUILD/fuzz-$name.log" 2>&1; then
		pass=$((pass + 1))
		echo "ok   fuzz-$name: $(grep -E '^#[0-9]+.*(DONE|pulse)' \
		    "$FUZZ_BUILD/fuzz-$name.log" | tail -1)"
	else
		fail=$((fail + 1))
		echo "FAIL fuzz-$name"
		tail -40 "$FUZZ_BUILD/fuzz-$name.log"
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
