/*
 * fuzz-normalize: every form of arbitrary bytes (when valid UTF-8): the
 * output must be valid UTF-8 of the stated length, every byte mapped into
 * the input in order, the one-pass and piecewise paths equal to the
 * general path, the form without maps and without the code point cache
 * the same, and the skeleton shortcut right.  The input also goes
 * through a small rule set on every form, and its hits through rewrite:
 * offsets in bounds and on character boundaries.  The vector UTF-8
 * validator must agree with the scalar one on every input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "normalize.h"
#include "normalize-internal.h"
#include "rewrite.h"
#include "rules.h"
#include "rules-internal.h"
#include "utf8.h"
#include "verdict.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char rules_src[] =
    "rule f.raw {\n match /[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}/i\n on raw\n"
    " action rewrite \"[$0]\"\n}\n"
    "rule f.norm {\n match /\\bkill\\b|(\\w)\\1/\n action rewrite \"<$1>\"\n}\n"
    "rule f.skel {\n match /bomb|(?<=a)b+/\n on skeleton\n action block\n}\n"
    "rule f.any {\n match /\\X{3}/u\n on skeleton\n mode monitor\n}\n";

static void
check_form(const char *s, size_t n, enum norm_form f)
{
	struct normtext	 a, b;
	size_t		 i;

	if (normalize(s, n, f, &a) == -1)
		return;
	if (strlen(a.s) != a.len || !utf8_valid(a.s, a.len))
		abort();
	for (i = 0; i < a.len; i++)
		if (a.start[i] >= a.end[i] || a.end[i] > n ||
		    (i > 0 && a.start[i] < a.start[i - 1]))
			abort();
	if (f != FORM_RAW && normalize_general(s, n, f, &b) == 0) {
		if (a.len != b.len || memcmp(a.s, b.s, a.len) != 0 ||
		    memcmp(a.start, b.start, a.len * sizeof(size_t)) != 0 ||
		    memcmp(a.end, b.end, a.len * sizeof(size_t)) != 0)
			abort();
		normtext_clear(&b);
	}
	/* without maps: the same text */
	if (f != FORM_RAW && normalize_maps(s, n, f, &b, NULL, 0) == 0) {
		if (a.len != b.len || memcmp(a.s, b.s, a.len) != 0 ||
		    (b.start != NULL && memcmp(a.start, b.start,
		    a.len * sizeof(size_t)) != 0))
			abort();
		normtext_clear(&b);
	}
	/* utf8proc alone, without the per-code-point cache: the same form */
	if (f != FORM_RAW) {
		normalize_cache(0);
		if (normalize_general(s, n, f, &b) == 0) {
			if (a.len != b.len || memcmp(a.s, b.s, a.len) != 0 ||
			    memcmp(a.start, b.start,
			    a.len * sizeof(size_t)) != 0 ||
			    memcmp(a.end, b.end, a.len * sizeof(size_t)) != 0)
				abort();
			normtext_clear(&b);
		}
		normalize_cache(1);
	}
	if (f == FORM_SKELETON && normalize_skeleton_same(s, n)) {
		if (normalize(s, n, FORM_NORMALIZED, &b) == 0) {
			if (b.len != a.len || memcmp(a.s, b.s, a.len) != 0)
				abort();
			normtext_clear(&b);
		}
	}
	normtext_clear(&a);
}

static int
boundary(const char *s, size_t n, size_t off)
{
	return off == n || ((unsigned char)s[off] & 0xc0) != 0x80;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ruleset *rs;
	const char	*s = (const char *)data;
	struct match_list ml;
	struct span_edit *e;
	struct rule_defs defs;
	struct rules_diag diag;
	struct rules_conf conf;
	char		*out;
	size_t		 i, olen;
	int		 f;

	if (rs == NULL) {
		memset(&defs, 0, sizeof(defs));
		memset(&diag, 0, sizeof(diag));
		memset(&conf, 0, sizeof(conf));
		conf.match_limit = 100000;
		conf.depth_limit = 1000;
		conf.cache_dir = "";
		if (rules_parse_buf("fuzz", rules_src, sizeof(rules_src) - 1,
		    NULL, &defs, &diag) == -1 ||
		    (rs = rules_compile(&defs, &conf, &diag)) == NULL)
			abort();
		rules_diag_free(&diag);
	}
	f = utf8_valid_simd(s, size);
	if ((f != -1 && f != utf8_valid_scalar(s, size)) ||
	    utf8_valid(s, size) != utf8_valid_scalar(s, size))
		abort();
	if (!utf8_valid(s, size)) {
		memset(&ml, 0, sizeof(ml));
		if (rules_match(rs, s, size, &ml) != -1 || ml.n != 0)
			abort();
		return 0;
	}
	for (f = 0; f < FORM_COUNT; f++)
		check_form(s, size, f);
	memset(&ml, 0, sizeof(ml));
	(void)rules_match(rs, s, size, &ml);
	if (ml.n > 0 && (e = calloc(ml.n, sizeof(*e))) != NULL) {
		for (i = 0; i < ml.n; i++) {
			if (ml.v[i].start >= ml.v[i].end ||
			    ml.v[i].end > size ||
			    !boundary(s, size, ml.v[i].start) ||
			    !boundary(s, size, ml.v[i].end))
				abort();
			e[i].start = ml.v[i].start;
			e[i].end = ml.v[i].end;
			e[i].replacement = ml.v[i].replacement;
		}
		if ((out = rewrite_apply(s, size, e, ml.n, &olen)) == NULL ||
		    strlen(out) != olen || !utf8_valid(out, olen))
			abort();
		free(out);
		free(e);
	}
	match_list_clear(&ml);
	return 0;
}
