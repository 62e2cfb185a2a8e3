#!/bin/sh
# rules.sh: the rules stage (bench/rules.c) in one run: modgate's matcher
# beside a naive loop of JIT-compiled PCRE2 patterns and raw Hyperscan on
# 1,000 and 10,000 generated caseless word rules over 2 KB English-like
# messages; the whole stage with the shipped packs (every form) on English
# and mixed-script text; start-up with 10,000 rules, cold and cached.
# MB/s are per core: CPU time of the one measuring thread.
# Targets: matching >= 1000 MB/s at 1,000 rules and >= 500 at 10,000;
# stage >= 200 MB/s English, >= 100 mixed; start-up < 10 s.
set -eu
BUILD=${BUILD:-build}
export OPENBLAS_NUM_THREADS=1	# no BLAS threads spinning in the background
raw=$BUILD/bench/rules.out
"$BUILD/bench/rules" -b "${RULES_BENCH_SECONDS:-1}" -r rules >"$raw"
awk '
{ v[$1] = $2 }
function target(name, got, want, cmp) {
	ok = cmp == ">=" ? got >= want : got < want
	printf "  %-44s %10.1f  target %s %-6g %s\n", name, got, cmp, want,
	    ok ? "ok" : "MISSED"
}
END {
	printf "matching (caseless word rules, 2 KB messages, MB/s per core)\n"
	printf "  %-7s %-12s %10s %10s %10s %12s\n", "rules", "engine",
	    "compile s", "heap MiB", "MB/s", "vs pcre2-loop"
	split("1000 10000", ns, " ")
	split("modgate pcre2-loop hyperscan", es, " ")
	for (i = 1; i <= 2; i++) for (j = 1; j <= 3; j++) {
		k = "match." ns[i] "." es[j]
		printf "  %-7s %-12s %10.2f %10.2f %10.1f %11.0fx\n", ns[i],
		    es[j], v[k ".compile"], v[k ".memory"], v[k ".speed"],
		    v[k ".speed"] / v["match." ns[i] ".pcre2-loop.speed"]
	}
	printf "  hits found by modgate per 64 messages: %d (1,000 rules), " \
	    "%d (10,000)\n", v["match.1000.modgate.hits"],
	    v["match.10000.modgate.hits"]
	printf "\nstage (shipped packs: %d rules, raw + normalized + skeleton)\n",
	    v["stage.shipped.rules"]
	printf "  %-12s %10s %12s %10s\n", "text", "stage MB/s",
	    "normalized", "skeleton"
	printf "  %-12s %10.1f %12.1f %10.1f\n", "English",
	    v["stage.english.speed"], v["normalize.english.normalized"],
	    v["normalize.english.skeleton"]
	printf "  %-12s %10.1f %12.1f %10.1f\n", "mixed-script",
	    v["stage.mixed.speed"], v["normalize.mixed.normalized"],
	    v["normalize.mixed.skeleton"]
	printf "\nstart-up with 10,000 rules: %.2f s cold, %.2f s from the " \
	    "cache (%d database%s reused)\n", v["startup.10000.cold"],
	    v["startup.10000.cached"], v["startup.10000.cached-databases"],
	    v["startup.10000.cached-databases"] == 1 ? "" : "s"
	printf "\ntargets\n"
	target("matching, 1,000 rules (MB/s)", v["match.1000.modgate.speed"], 1000, ">=")
	target("matching, 10,000 rules (MB/s)", v["match.10000.modgate.speed"], 500, ">=")
	target("stage, English (MB/s)", v["stage.english.speed"], 200, ">=")
	target("stage, mixed-script (MB/s)", v["stage.mixed.speed"], 100, ">=")
	target("start-up, 10,000 rules, cold (s)", v["startup.10000.cold"], 10, "<")
	target("start-up, 10,000 rules, cached (s)", v["startup.10000.cached"], 10, "<")
}' "$raw"
