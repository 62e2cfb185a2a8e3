/*
 * bench/rules: the rules stage against the alternatives, in one run.
 *
 *	rules [-b seconds] [-d tmpdir] [-p parts] [-r shipped-rules-dir]
 *
 * PARTS is any of m (matching), s (stage), u (start-up); all by default.
 *
 * 1. Matching: 1,000 and 10,000 generated caseless word rules
 *    (/\bWORD\b/i on raw) over 2 KB English-like messages, one in ten
 *    holding a rule word: modgate's matcher (Hyperscan prefilter + PCRE2
 *    JIT confirming), a naive loop of separately JIT-compiled PCRE2
 *    patterns, and raw Hyperscan (one database, exact, no PCRE2), on the
 *    same messages.  MB/s per core (CPU time of this single thread),
 *    compile time, heap memory.
 * 2. Stage: rules_match with the shipped packs (raw, normalized and
 *    skeleton rules, so every form is computed) on English and on
 *    mixed-script messages, and normalize() alone per form.
 * 3. Start-up: loading 10,000 rules cold, then again from the database
 *    cache.
 *
 * Output: "key value unit" lines; bench/rules.sh prints them as a table.
 */
#include <sys/stat.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <hs.h>

#include "normalize.h"
#include "rules.h"
#include "rules-internal.h"
#include "verdict.h"

#define MSG_BYTES	2048
#define NMSG		64

static const char *english[] = {
	"the", "of", "and", "to", "a", "in", "is", "you", "that", "it", "he",
	"was", "for", "on", "are", "as", "with", "his", "they", "I", "at",
	"be", "this", "have", "from", "or", "one", "had", "by", "word", "but",
	"not", "what", "all", "were", "we", "when", "your", "can", "said",
	"there", "use", "an", "each", "which", "she", "do", "how", "their",
	"if", "will", "up", "other", "about", "out", "many", "then", "them",
	"these", "so", "some", "her", "would", "make", "like", "him", "into",
	"time", "has", "look", "two", "more", "write", "go", "see", "number",
	"no", "way", "could", "people", "my", "than", "first", "water", "been",
	"call", "who", "oil", "its", "now", "find", "long", "down", "day",
	"did", "get", "come", "made", "may", "part", "answer", "question",
	"model", "example", "however,", "therefore", "important.", "Here",
	"are", "some", "steps:", "First,", "Second,", "Finally,", "data",
	"system", "function", "should", "because", "different", "following",
};

static const char *foreign[] = {
	"привет", "мир", "спасибо", "пожалуйста", "καλημέρα", "ευχαριστώ",
	"日本語", "テキスト", "中文", "文本", "tête-à-tête", "Größe", "naïve",
	"façade", "jalapeño", "İstanbul", "مرحبا", "שלום", "नमस्ते", "한국어",
};

static double
cpu_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
wall_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static unsigned long rng = 88172645463325252UL;

static unsigned long
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A pronounceable pseudo-word of 6-11 letters, unlikely to be English. */
static void
pseudo_word(char *w, size_t idx)
{
	static const char *syl[] = { "bra", "kel", "zor", "mun", "tiv", "qua",
	    "fen", "dro", "lix", "pam", "sog", "vet", "wim", "yar", "gup",
	    "hol", "jed", "nax", "rif", "cub" };
	size_t	 n = 2 + idx % 3, i;

	w[0] = '\0';
	for (i = 0; i < n; i++) {
		strcat(w, syl[rnd() % 20]);
	}
	/* make it unique */
	sprintf(w + strlen(w), "%c%c", 'a' + (int)(idx % 26),
	    'a' + (int)(idx / 26 % 26));
}

/* NMSG messages of about MSG_BYTES; mixed mixes in other scripts. */
static char **
messages(int mixed, char words[][24], size_t nwords)
{
	char	**m = calloc(NMSG, sizeof(*m));
	size_t	 i, o, l;
	const char *w;

	for (i = 0; i < NMSG; i++) {
		m[i] = malloc(MSG_BYTES + 64);
		o = 0;
		while (o < MSG_BYTES - 32) {
			if (mixed && rnd() % 4 == 0)
				w = foreign[rnd() % (sizeof(foreign) /
				    sizeof(foreign[0]))];
			else
				w = english[rnd() % (sizeof(english) /
				    sizeof(english[0]))];
			l = strlen(w);
			memcpy(m[i] + o, w, l);
			o += l;
			m[i][o++] = rnd() % 12 == 0 ? '\n' : ' ';
		}
		/* one message in ten holds a rule word */
		if (words != NULL && i % 10 == 0) {
			w = words[rnd() % nwords];
			l = strlen(w);
			m[i][MSG_BYTES / 2 - 1] = ' ';
			memcpy(m[i] + MSG_BYTES / 2, w, l);
			m[i][MSG_BYTES / 2 + l] = ' ';
		}
		m[i][o] = '\0';
	}
	return m;
}

static void
out(const char *key, double v, const char *unit)
{
	printf("%s %.2f %s\n", key, v, unit);
	fflush(stdout);
}

/* Write N word rules into DIR/gen-N.rules; the words into WORDS. */
static char *
gen_rules(const char *dir, size_t n, char words[][24])
{
	char	*path;
	FILE	*fp;
	size_t	 i;

	if (asprintf(&path, "%s/gen-%zu.rules", dir, n) == -1)
		return NULL;
	if ((fp = fopen(path, "w")) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		pseudo_word(words[i], i);
		fprintf(fp, "rule gen.%zu {\n\tmatch /\\b%s\\b/i\n\ton raw\n"
		    "\taction rewrite \"[x]\"\n}\n", i, words[i]);
	}
	fclose(fp);
	return path;
}

static struct ruleset *
load(const char *path, const char *cache, double *secs)
{
	struct rules_conf c;
	struct ruleset	*rs;
	double		 t;

	memset(&c, 0, sizeof(c));
	c.paths[0] = (char *)path;
	c.n_paths = 1;
	c.match_limit = 1000000;
	c.depth_limit = 10000;
	c.cache_dir = (char *)(cache ? cache : "");
	t = wall_now();
	rs = rules_load(&c, NULL);
	*secs = wall_now() - t;
	return rs;
}

/* Bytes per CPU second of rules_match over M, for about BUDGET s. */
static double
bench_match(struct ruleset *rs, char **m, double budget, size_t *hits)
{
	struct match_list ml;
	double		 t0 = cpu_now(), t;
	size_t		 bytes = 0, i, rounds = 0;

	*hits = 0;
	do {
		for (i = 0; i < NMSG; i++) {
			memset(&ml, 0, sizeof(ml));
			rules_match(rs, m[i], strlen(m[i]), &ml);
			if (rounds == 0)
				*hits += ml.n;
			match_list_clear(&ml);
			bytes += strlen(m[i]);
		}
		rounds++;
	} while ((t = cpu_now() - t0) < budget);
	return (double)bytes / t;
}

static int
on_hs(unsigned int id, unsigned long long from, unsigned long long to,
    unsigned int flags, void *ctx)
{
	(*(size_t *)ctx)++;
	return 0;
}

static void
part_matching(const char *dir, size_t n, double budget)
{
	char		(*words)[24] = calloc(n, 24);
	char		*path, **m, key[64], pat[64];
	struct ruleset	*rs;
	double		 secs, t0, t, mbs, naive, rawhs;
	size_t		 h0, hits, i, j, bytes, found;
	pcre2_code	**re;
	pcre2_match_data *md;
	hs_database_t	*db;
	hs_scratch_t	*scr = NULL;
	hs_compile_error_t *cerr;
	const char	**exprs;
	unsigned int	*flags, *ids;
	int		 err;
	PCRE2_SIZE	 off;

	path = gen_rules(dir, n, words);
	m = messages(0, words, n);
	/* modgate */
	h0 = heap_used();
	rs = load(path, NULL, &secs);
	if (rs == NULL) {
		fprintf(stderr, "rules: cannot load %s\n", path);
		exit(1);
	}
	snprintf(key, sizeof(key), "match.%zu.modgate.compile", n);
	out(key, secs, "s");
	snprintf(key, sizeof(key), "match.%zu.modgate.memory", n);
	out(key, (double)(heap_used() - h0) / 1048576, "MiB");
	mbs = bench_match(rs, m, budget, &hits) / 1e6;
	snprintf(key, sizeof(key), "match.%zu.modgate.speed", n);
	out(key, mbs, "MB/s");
	snprintf(key, sizeof(key), "match.%zu.modgate.hits", n);
	out(key, (double)hits, "per-64-messages");
	rules_free(rs);

	/* naive: every pattern JIT-compiled on its own, tried in a loop */
	h0 = heap_used();
	t0 = wall_now();
	re = calloc(n, sizeof(*re));
	for (i = 0; i < n; i++) {
		snprintf(pat, sizeof(pat), "\\b%s\\b", words[i]);
		re[i] = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
		    PCRE2_CASELESS | PCRE2_UTF, &err, &off, NULL);
		pcre2_jit_compile(re[i], PCRE2_JIT_COMPLETE);
	}
	snprintf(key, sizeof(key), "match.%zu.pcre2-loop.compile", n);
	out(key, wall_now() - t0, "s");
	snprintf(key, sizeof(key), "match.%zu.pcre2-loop.memory", n);
	out(key, (double)(heap_used() - h0) / 1048576, "MiB");
	md = pcre2_match_data_create(1, NULL);
	t0 = cpu_now();
	bytes = found = 0;
	for (j = 0; (t = cpu_now() - t0) < budget; j = (j + 1) % NMSG) {
		for (i = 0; i < n; i++)
			if (pcre2_match(re[i], (PCRE2_SPTR)m[j], strlen(m[j]), 0,
			    PCRE2_NO_UTF_CHECK, md, NULL) >= 0)
				found++;
		bytes += strlen(m[j]);
	}
	naive = (double)bytes / t / 1e6;
	snprintf(key, sizeof(key), "match.%zu.pcre2-loop.speed", n);
	out(key, naive, "MB/s");
	for (i = 0; i < n; i++)
		pcre2_code_free(re[i]);
	free(re);
	pcre2_match_data_free(md);

	/* raw Hyperscan: exact matching, no confirmation */
	exprs = calloc(n, sizeof(*exprs));
	flags = calloc(n, sizeof(*flags));
	ids = calloc(n, sizeof(*ids));
	for (i = 0; i < n; i++) {
		char	*p;

		if (asprintf(&p, "\\b%s\\b", words[i]) == -1)
			exit(1);
		exprs[i] = p;
		flags[i] = HS_FLAG_CASELESS | HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH;
		ids[i] = (unsigned int)i;
	}
	h0 = heap_used();
	t0 = wall_now();
	if (hs_compile_multi(exprs, flags, ids, (unsigned int)n, HS_MODE_BLOCK,
	    NULL, &db, &cerr) != HS_SUCCESS) {
		fprintf(stderr, "hs: %s\n", cerr->message);
		exit(1);
	}
	hs_alloc_scratch(db, &scr);
	snprintf(key, sizeof(key), "match.%zu.hyperscan.compile", n);
	out(key, wall_now() - t0, "s");
	snprintf(key, sizeof(key), "match.%zu.hyperscan.memory", n);
	out(key, (double)(heap_used() - h0) / 1048576, "MiB");
	t0 = cpu_now();
	bytes = found = 0;
	do {
		for (j = 0; j < NMSG; j++) {
			hs_scan(db, m[j], (unsigned int)strlen(m[j]), 0, scr,
			    on_hs, &found);
			bytes += strlen(m[j]);
		}
	} while ((t = cpu_now() - t0) < budget);
	rawhs = (double)bytes / t / 1e6;
	snprintf(key, sizeof(key), "match.%zu.hyperscan.speed", n);
	out(key, rawhs, "MB/s");
	hs_free_scratch(scr);
	hs_free_database(db);
	for (i = 0; i < n; i++)
		free((char *)exprs[i]);
	free(exprs);
	free(flags);
	free(ids);
	for (i = 0; i < NMSG; i++)
		free(m[i]);
	free(m);
	free(words);
	free(path);
}

static void
part_stage(const char *shipped, double budget)
{
	struct ruleset	*rs;
	struct normtext	 nt;
	char		**m, key[64];
	double		 secs, t0, t;
	size_t		 hits, bytes, i;
	int		 mixed, f;

	if ((rs = load(shipped, NULL, &secs)) == NULL) {
		fprintf(stderr, "rules: cannot load %s\n", shipped);
		exit(1);
	}
	out("stage.shipped.rules", (double)rules_count(rs), "rules");
	out("stage.shipped.compile", secs, "s");
	for (mixed = 0; mixed < 2; mixed++) {
		m = messages(mixed, NULL, 0);
		snprintf(key, sizeof(key), "stage.%s.speed",
		    mixed ? "mixed" : "english");
		out(key, bench_match(rs, m, budget, &hits) / 1e6, "MB/s");
		snprintf(key, sizeof(key), "stage.%s.hits", mixed ? "mixed" :
		    "english");
		out(key, (double)hits, "per-64-messages");
		if (getenv("RULES_BENCH_DUMP") != NULL)
			for (i = 0; i < NMSG; i++)
				fprintf(stderr, "%s\n", m[i]);
		for (f = FORM_NORMALIZED; f < FORM_COUNT &&
		    getenv("RULES_BENCH_NO_NORMALIZE") == NULL; f++) {
			t0 = cpu_now();
			bytes = 0;
			do {
				for (i = 0; i < NMSG; i++) {
					normalize(m[i], strlen(m[i]), f, &nt);
					normtext_clear(&nt);
					bytes += strlen(m[i]);
				}
			} while ((t = cpu_now() - t0) < budget / 2);
			snprintf(key, sizeof(key), "normalize.%s.%s",
			    mixed ? "mixed" : "english", norm_form_name(f));
			out(key, (double)bytes / t / 1e6, "MB/s");
		}
		for (i = 0; i < NMSG; i++)
			free(m[i]);
		free(m);
	}
	rules_free(rs);
}

static void
part_startup(const char *dir)
{
	char		(*words)[24] = calloc(10000, 24);
	char		*path, *cache;
	struct ruleset	*rs;
	double		 cold, warm;

	path = gen_rules(dir, 10000, words);
	if (asprintf(&cache, "%s/cache", dir) == -1)
		exit(1);
	mkdir(cache, 0700);
	rs = load(path, cache, &cold);
	rules_free(rs);
	rs = load(path, cache, &warm);
	if (rs == NULL)
		exit(1);
	{
		struct rules_info info;

		rules_info(rs, &info);
		out("startup.10000.cached-databases", (double)info.cached, "");
	}
	rules_free(rs);
	out("startup.10000.cold", cold, "s");
	out("startup.10000.cached", warm, "s");
	free(words);
	free(path);
	free(cache);
}

int
main(int argc, char **argv)
{
	const char	*dir = NULL, *shipped = "rules";
	char		 tmpl[] = "/tmp/modgate-bench-XXXXXX";
	const char	*parts = "msu";
	double		 budget = 1.0;
	int		 ch;

	while ((ch = getopt(argc, argv, "b:d:p:r:")) != -1) {
		switch (ch) {
		case 'p':
			parts = optarg;
			break;
		case 'b':
			budget = atof(optarg);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'r':
			shipped = optarg;
			break;
		default:
			fprintf(stderr, "usage: rules [-b seconds] [-d dir] "
			    "[-p msu] [-r rules]\n");
			return 64;
		}
	}
	if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL)
		return 1;
	if (strchr(parts, 'm') != NULL) {
		part_matching(dir, 1000, budget);
		part_matching(dir, 10000, budget);
	}
	if (strchr(parts, 's') != NULL)
		part_stage(shipped, budget);
	if (strchr(parts, 'u') != NULL)
		part_startup(dir);
	if (dir == tmpl) {
		char	 cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
		if (system(cmd) != 0)
			return 1;
	}
	return 0;
}
