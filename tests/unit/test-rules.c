/*
 * test-rules: the rules parser, compiler and matcher.
 *
 *	tests/data/rules-match.cases	hits, offsets and replacements per key
 *	tests/data/rules/		the rules those cases load
 *	tests/data/rules-errors/	a broken file and every diagnostic it gives
 *	rules/				the shipped packs load and pass their tests
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

#include <cmocka.h>
#include <sodium.h>

#include "rules.h"
#include "rules-internal.h"

static const char *top;

static void
path_of(char *buf, size_t n, const char *rel)
{
	snprintf(buf, n, "%s/%s", top, rel);
}

static struct ruleset *
load1(const char *rel, const char *cache, int match_limit,
    struct rules_diag *d)
{
	static char	 p[4096];
	struct rules_conf c;

	memset(&c, 0, sizeof(c));
	path_of(p, sizeof(p), rel);
	c.paths[0] = p;
	c.n_paths = 1;
	c.match_limit = match_limit;
	c.depth_limit = 1000;
	c.cache_dir = (char *)(cache ? cache : "");
	return rules_load_diag(&c, NULL, d);
}

static size_t
unescape(const char *in, char *out, size_t cap)
{
	size_t		 o = 0;
	unsigned long	 cp;
	char		*end;

	while (*in != '\0' && o + 5 < cap) {
		if (*in != '\\') {
			out[o++] = *in++;
			continue;
		}
		in++;
		switch (*in) {
		case 't': out[o++] = '\t'; in++; break;
		case 'n': out[o++] = '\n'; in++; break;
		case '\\': out[o++] = '\\'; in++; break;
		case 'x':
			out[o++] = (char)strtoul(in + 1, &end, 16);
			in = end;
			break;
		case 'u':
			cp = strtoul(in + 2, &end, 16);
			in = end + 1;
			if (cp < 0x80)
				out[o++] = (char)cp;
			else if (cp < 0x800) {
				out[o++] = (char)(0xc0 | (cp >> 6));
				out[o++] = (char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				out[o++] = (char)(0xe0 | (cp >> 12));
				out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				out[o++] = (char)(0x80 | (cp & 0x3f));
			} else {
				out[o++] = (char)(0xf0 | (cp >> 18));
				out[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
				out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				out[o++] = (char)(0x80 | (cp & 0x3f));
			}
			break;
		default:
			fail_msg("bad escape");
		}
	}
	out[o] = '\0';
	return o;
}

/* The hits of ML as the cases file writes them. */
static void
describe(const struct match_list *ml, char *buf, size_t n)
{
	size_t	 i, o = 0;

	if (ml->n == 0) {
		snprintf(buf, n, "-");
		return;
	}
	buf[0] = '\0';
	for (i = 0; i < ml->n && o < n; i++) {
		o += (size_t)snprintf(buf + o, n - o, "%s%s@%zu,%zu%s%s%s",
		    i ? " | " : "", ml->v[i].rule, ml->v[i].start, ml->v[i].end,
		    ml->v[i].monitor ? " +monitor" : "",
		    ml->v[i].replacement ? " =" : "",
		    ml->v[i].replacement ? ml->v[i].replacement : "");
	}
}

static void
test_match_cases(void **state)
{
	char		 path[4096], line[8192], text[4096], got[8192];
	char		 rel[512], *f[3], *p;
	FILE		*fp;
	int		 lineno = 0, n = 0, nf;
	struct rules_diag d;
	struct ruleset	*rs = NULL;
	char		 loaded[512] = "";
	struct match_list ml;
	size_t		 len, i;

	memset(&d, 0, sizeof(d));
	path_of(path, sizeof(path), "tests/data/rules-match.cases");
	assert_non_null(fp = fopen(path, "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		for (nf = 0, p = line; nf < 3; ) {
			f[nf++] = p;
			if ((p = strchr(p, '\t')) == NULL)
				break;
			*p++ = '\0';
		}
		if (nf != 3)
			fail_msg("%s:%d: need 3 fields", path, lineno);
		if (strcmp(loaded, f[0]) != 0) {
			rules_free(rs);
			snprintf(rel, sizeof(rel), "tests/data/rules/%s", f[0]);
			rs = load1(rel, NULL, 0, &d);
			for (i = 0; i < d.n; i++)
				print_error("%s\n", d.v[i]);
			assert_non_null(rs);
			assert_int_equal(d.n, 0);
			snprintf(loaded, sizeof(loaded), "%s", f[0]);
		}
		len = unescape(f[1], text, sizeof(text));
		memset(&ml, 0, sizeof(ml));
		assert_int_equal(rules_match(rs, text, len, &ml), 0);
		describe(&ml, got, sizeof(got));
		if (strcmp(got, f[2]) != 0)
			fail_msg("%s:%d: got \"%s\", want \"%s\"", path, lineno,
			    got, f[2]);
		/* the category and score come from the rule */
		for (i = 0; i < ml.n; i++) {
			assert_non_null(ml.v[i].category);
			assert_true(ml.v[i].start < ml.v[i].end &&
			    ml.v[i].end <= len);
		}
		match_list_clear(&ml);
		n++;
	}
	fclose(fp);
	rules_free(rs);
	rules_diag_free(&d);
	assert_true(n >= 20);
}

static void
test_keys_values(void **state)
{
	struct rules_diag d;
	struct ruleset	*rs;
	struct match_list ml;
	struct rules_info info;
	const char	*t = "b0mb bob@corp.io";

	memset(&d, 0, sizeof(d));
	assert_non_null(rs = load1("tests/data/rules/keys.rules", NULL, 0, &d));
	memset(&ml, 0, sizeof(ml));
	assert_int_equal(rules_match(rs, t, strlen(t), &ml), 0);
	assert_int_equal(ml.n, 2);
	/* rule order: k.email comes before k.skel in the file */
	assert_string_equal(ml.v[0].rule, "k.email");
	assert_string_equal(ml.v[0].category, "pii");
	assert_int_equal(ml.v[0].action, ACTION_REWRITE);
	assert_true(ml.v[0].score == 0.5);
	assert_string_equal(ml.v[1].rule, "k.skel");
	assert_string_equal(ml.v[1].category, "violence");
	assert_int_equal(ml.v[1].action, ACTION_FLAG);
	assert_true(ml.v[1].score == 2.0);
	assert_null(ml.v[1].replacement);
	match_list_clear(&ml);
	/* default category is the id's prefix, default action flag */
	t = "I will kill";
	assert_int_equal(rules_match(rs, t, strlen(t), &ml), 0);
	assert_int_equal(ml.n, 1);
	assert_string_equal(ml.v[0].category, "k");
	assert_int_equal(ml.v[0].action, ACTION_BLOCK);
	assert_true(ml.v[0].score == 1.0);
	assert_int_equal(ml.v[0].monitor, 0);
	match_list_clear(&ml);
	/* invalid UTF-8 is an error, not a crash */
	assert_int_equal(rules_match(rs, "a\xff", 2, &ml), -1);
	assert_int_equal(ml.n, 0);
	rules_info(rs, &info);
	assert_int_equal(info.rules, rules_count(rs));
	assert_true(info.fallback >= 1);		/* the x rule */
	assert_true(info.hyperscan + info.fallback == info.rules);
	assert_true(info.per_form[FORM_RAW] > 0 &&
	    info.per_form[FORM_NORMALIZED] > 0 &&
	    info.per_form[FORM_SKELETON] > 0);
	rules_free(rs);
	rules_free(NULL);
	rules_diag_free(&d);
}

static void
test_errors(void **state)
{
	char		 dir[4096], cwd[4096], line[1024];
	struct rules_diag d;
	struct rules_conf c;
	FILE		*fp;
	size_t		 i = 0;

	/* relative paths keep the expected messages short */
	path_of(dir, sizeof(dir), "tests/data/rules-errors");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	memset(&d, 0, sizeof(d));
	memset(&c, 0, sizeof(c));
	c.paths[0] = "errors.rules";
	c.n_paths = 1;
	assert_null(rules_load_diag(&c, NULL, &d));
	fp = fopen("errors.expect", "r");
	assert_int_equal(chdir(cwd), 0);
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (i >= d.n)
			fail_msg("missing diagnostic: %s", line);
		if (strcmp(d.v[i], line) != 0)
			fail_msg("diagnostic %zu: got \"%s\", want \"%s\"", i,
			    d.v[i], line);
		i++;
	}
	fclose(fp);
	if (i != d.n)
		fail_msg("unexpected diagnostic: %s", d.v[i]);
	rules_diag_free(&d);
}

static void
test_parse_buf(void **state)
{
	struct rule_defs defs;
	struct rules_diag d;
	const char	*src =
	    "rule a.b { # comment\n"
	    "  match /a\\/b[/]c/i\n"
	    "  test match \"A/B/C \\\"q\\\" \\x41 \\u{e9}\\t\"\n"
	    "}\n"
	    "include \"x\"\n";

	memset(&defs, 0, sizeof(defs));
	memset(&d, 0, sizeof(d));
	assert_int_equal(rules_parse_buf("buf", src, strlen(src), NULL, &defs,
	    &d), -1);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0], "buf:5:9: include is not allowed here");
	assert_int_equal(defs.n, 1);
	assert_string_equal(defs.v[0].pattern, "a\\/b[/]c");
	assert_string_equal(defs.v[0].flagstr, "i");
	assert_int_equal(defs.v[0].ntests, 1);
	assert_string_equal(defs.v[0].tests[0].text,
	    "A/B/C \"q\" A \xc3\xa9\t");
	assert_int_equal(defs.v[0].form, FORM_NORMALIZED);
	rule_defs_free(&defs);
	rules_diag_free(&d);
}

static void
test_redos_bounded(void **state)
{
	struct rules_diag d;
	struct ruleset	*rs;
	struct match_list ml;
	char		 text[64];
	struct timespec	 t0, t1;
	double		 secs;

	memset(&d, 0, sizeof(d));
	assert_non_null(rs = load1("tests/data/rules/redos.rules", NULL,
	    10000, &d));
	memset(text, 'a', 40);
	text[40] = 'b';
	memset(text + 41, 'x', 22);
	text[63] = '\0';
	memset(&ml, 0, sizeof(ml));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(rules_match(rs, text, strlen(text), &ml), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs < 1.0);
	match_list_clear(&ml);
	/* ordinary text still matches fine under the same limits */
	assert_int_equal(rules_match(rs, "aaaa", 4, &ml), 0);
	assert_int_equal(ml.n, 2);
	match_list_clear(&ml);
	rules_free(rs);
	rules_diag_free(&d);
}

/*
 * The Hyperscan prefilter (with the look-arounds it cannot take rewritten
 * or dropped) must let through every text where the rule matches: each
 * rule p.N is in Hyperscan, its twin x.N (the same pattern with x, which
 * Hyperscan has no flag for) is matched by PCRE2 alone, and over many
 * generated texts both must find the same hits.
 */
static void
test_prefilter_superset(void **state)
{
	static const char *pats[][3] = {
		{ "(?<![a-z0-9])(?:darn)(?:e?s)?(?![a-z0-9])", "", "skeleton" },
		{ "(?<![a-z0-9_])darn", "", "normalized" },
		{ "(?<![\\w-])ab(?:c|d)", "i", "raw" },
		{ "(?<![a-z])(?:(?:fo)o)", "", "raw" },
		{ "(?<![\\]a])xy", "", "raw" },
		{ "(?<![a-z0-9])damn|heck", "", "skeleton" },
		{ "(?<![^a])bc", "", "raw" },
		{ "(?<![\\d.])\\d{2}", "", "raw" },
		{ "(?<=[a-z])darn", "", "skeleton" },
	};
	static const char *frag[] = {
		"darn", "darns", "DARN", "d4rn", "ab", "abc", "AbD", "-", "_",
		"x", "foo", "xy", "]", "a", "damn", "heck", " ", "9", "\xe6\x97\xa5",
		"\xc3\xa9", "\n", "\xef\xbd\x84\xef\xbd\x81\xef\xbd\x92\xef\xbd\x8e",
		"bc", ".", "12", "D\xd0\xb0rn",
	};
	const size_t	 npat = sizeof(pats) / sizeof(pats[0]);
	const size_t	 nfrag = sizeof(frag) / sizeof(frag[0]);
	struct rule_defs defs;
	struct rules_diag d;
	struct rules_info info;
	struct ruleset	*rs;
	struct match_list ml;
	char		 src[8192], text[256];
	size_t		 i, k, n, o = 0, len, nw[16][2], want[16][2][64];
	unsigned long	 seed = 12345;
	const char	*id;

	for (i = 0; i < npat; i++)
		o += (size_t)snprintf(src + o, sizeof(src) - o,
		    "rule p.%zu {\n match /%s/%s\n on %s\n}\n"
		    "rule x.%zu {\n match /%s/x%s\n on %s\n}\n",
		    i, pats[i][0], pats[i][1], pats[i][2],
		    i, pats[i][0], pats[i][1], pats[i][2]);
	assert_true(o < sizeof(src) && npat <= 16);
	memset(&defs, 0, sizeof(defs));
	memset(&d, 0, sizeof(d));
	assert_int_equal(rules_parse_buf("buf", src, o, NULL, &defs, &d), 0);
	rs = rules_compile(&defs, NULL, &d);
	for (i = 0; i < d.n; i++)
		print_error("%s\n", d.v[i]);
	assert_non_null(rs);
	rules_info(rs, &info);
	assert_int_equal(info.hyperscan, npat);
	assert_int_equal(info.fallback, npat);
	for (n = 0; n < 3000; n++) {
		len = 0;
		for (k = 1 + n % 9; k > 0; k--) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			id = frag[(seed >> 33) % nfrag];
			memcpy(text + len, id, strlen(id));
			len += strlen(id);
		}
		text[len] = '\0';
		memset(&ml, 0, sizeof(ml));
		assert_int_equal(rules_match(rs, text, len, &ml), 0);
		memset(nw, 0, sizeof(nw));
		for (i = 0; i < ml.n; i++) {
			id = ml.v[i].rule;
			k = strtoul(id + 2, NULL, 10);
			assert_true(k < npat && nw[k][id[0] == 'x'] < 64);
			want[k][id[0] == 'x'][nw[k][id[0] == 'x']++] =
			    ml.v[i].start * 1024 + ml.v[i].end;
		}
		for (k = 0; k < npat; k++) {
			if (nw[k][0] != nw[k][1] || memcmp(want[k][0],
			    want[k][1], nw[k][0] * sizeof(size_t)) != 0)
				fail_msg("rule %zu on \"%s\": %zu hits with the "
				    "prefilter, %zu without", k, text, nw[k][0],
				    nw[k][1]);
		}
		match_list_clear(&ml);
	}
	rules_free(rs);
	rules_diag_free(&d);
}

static void
test_shipped_packs(void **state)
{
	struct rules_diag d;
	struct ruleset	*rs;
	struct rules_info info;
	size_t		 i;

	memset(&d, 0, sizeof(d));
	rs = load1("rules", NULL, 0, &d);
	for (i = 0; i < d.n; i++)
		print_error("%s\n", d.v[i]);
	assert_non_null(rs);
	assert_int_equal(d.n, 0);
	rules_info(rs, &info);
	assert_true(info.rules >= 50);
	/* every shipped rule carries test lines */
	assert_true(info.tests >= info.rules);
	rules_free(rs);
	rules_diag_free(&d);
}

static void
test_cache_and_reload(void **state)
{
	char		 tmpl[] = "/tmp/modgate-rules-XXXXXX", path[4096];
	struct rules_diag d;
	struct ruleset	*a, *b, *bad;
	struct rules_info ia, ib;
	struct match_list ml;
	FILE		*fp;

	assert_non_null(mkdtemp(tmpl));
	memset(&d, 0, sizeof(d));
	assert_non_null(a = load1("tests/data/rules/keys.rules", tmpl, 0, &d));
	assert_non_null(b = load1("tests/data/rules/keys.rules", tmpl, 0, &d));
	rules_info(a, &ia);
	rules_info(b, &ib);
	assert_int_equal(ia.cached, 0);
	assert_true(ib.cached >= 2);
	assert_int_equal(ia.hyperscan, ib.hyperscan);
	/* the cached set matches like the compiled one */
	memset(&ml, 0, sizeof(ml));
	assert_int_equal(rules_match(b, "K I L L b0mb", 12, &ml), 0);
	assert_int_equal(ml.n, 2);
	match_list_clear(&ml);
	/* a broken file is refused; the old set keeps working */
	snprintf(path, sizeof(path), "%s/broken.rules", tmpl);
	assert_non_null(fp = fopen(path, "w"));
	fputs("rule x {\n match /(/\n}\n", fp);
	fclose(fp);
	{
		struct rules_conf c;

		memset(&c, 0, sizeof(c));
		c.paths[0] = path;
		c.n_paths = 1;
		assert_null(bad = rules_load_diag(&c, NULL, &d));
		assert_int_equal(d.n, 1);
		assert_non_null(strstr(d.v[0], "broken.rules:2:10: bad pattern"));
	}
	assert_int_equal(rules_match(a, "kill", 4, &ml), 0);
	assert_int_equal(ml.n, 1);
	match_list_clear(&ml);
	rules_free(a);
	rules_free(b);
	rules_diag_free(&d);
	{
		char	 cmd[4200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
		assert_int_equal(system(cmd), 0);
	}
}

static void
test_digest(void **state)
{
	struct rules_diag d;
	struct ruleset	*a, *b;
	crypto_hash_sha256_state s1, s2;
	unsigned char	 h1[32], h2[32], h3[32];

	memset(&d, 0, sizeof(d));
	assert_non_null(a = load1("tests/data/rules/keys.rules", NULL, 0, &d));
	assert_non_null(b = load1("tests/data/rules/redos.rules", NULL, 0, &d));
	crypto_hash_sha256_init(&s1);
	rules_digest(a, &s1);
	crypto_hash_sha256_final(&s1, h1);
	crypto_hash_sha256_init(&s1);
	rules_digest(a, &s1);
	crypto_hash_sha256_final(&s1, h2);
	crypto_hash_sha256_init(&s2);
	rules_digest(b, &s2);
	crypto_hash_sha256_final(&s2, h3);
	assert_memory_equal(h1, h2, 32);
	assert_memory_not_equal(h1, h3, 32);
	rules_free(a);
	rules_free(b);
	rules_diag_free(&d);
}

static void
test_checks(void **state)
{
	assert_true(check_luhn("4111 1111 1111 1111", 19));
	assert_true(check_luhn("5500-0000-0000-0004", 19));
	assert_true(check_luhn("378282246310005", 15));
	assert_false(check_luhn("4111 1111 1111 1112", 19));
	assert_false(check_luhn("0000", 4));			/* too short */
	assert_false(check_luhn("12345678901234567890", 20));	/* too long */
	assert_true(check_iban("GB82 WEST 1234 5698 7654 32", 27));
	assert_true(check_iban("DE89370400440532013000", 22));
	assert_true(check_iban("fr1420041010050500013m02606", 27));
	assert_false(check_iban("GB82 WEST 1234 5698 7654 33", 27));
	assert_false(check_iban("GB82", 4));
	assert_false(check_iban("1282WEST12345698765432", 22));
	assert_false(check_iban("GB82WEST1234569876543_", 22));
}

struct thr {
	struct ruleset	*rs;
	int		 ok;
};

static void *
thr_main(void *arg)
{
	struct thr	*t = arg;
	struct match_list ml;
	const char	*s = "mail a@b.co, K I L L, b0mb, x=1";
	int		 i;

	t->ok = 1;
	for (i = 0; i < 300; i++) {
		memset(&ml, 0, sizeof(ml));
		if (rules_match(t->rs, s, strlen(s), &ml) != 0 || ml.n != 4)
			t->ok = 0;
		match_list_clear(&ml);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct rules_diag d;
	struct thr	 t[4];
	pthread_t	 th[4];
	struct ruleset	*rs;
	int		 i;

	memset(&d, 0, sizeof(d));
	assert_non_null(rs = load1("tests/data/rules/keys.rules", NULL, 0, &d));
	for (i = 0; i < 4; i++) {
		t[i].rs = rs;
		assert_int_equal(pthread_create(&th[i], NULL, thr_main, &t[i]),
		    0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_true(t[i].ok);
	}
	rules_free(rs);
	rules_diag_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_cases),
		cmocka_unit_test(test_keys_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_parse_buf),
		cmocka_unit_test(test_redos_bounded),
		cmocka_unit_test(test_prefilter_superset),
		cmocka_unit_test(test_shipped_packs),
		cmocka_unit_test(test_cache_and_reload),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_threads),
	};

	if ((top = getenv("MODGATE_TOP")) == NULL)
		top = ".";
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
