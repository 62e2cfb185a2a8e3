/*
 * test-normalize: strict UTF-8 validation, and the data-driven cases of
 * tests/data/normalize.cases (each form, evasions, offset maps).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <utf8proc.h>

#include "normalize.h"
#include "normalize-internal.h"
#include "utf8.h"

#define V(s)	utf8_valid((s), sizeof(s) - 1)

static void
test_utf8_valid(void **state)
{
	assert_true(V(""));
	assert_true(V("plain ascii"));
	assert_true(V("caf\xc3\xa9"));			/* U+00E9 */
	assert_true(V("\xc2\x80"));			/* U+0080 */
	assert_true(V("\xdf\xbf"));			/* U+07FF */
	assert_true(V("\xe0\xa0\x80"));		/* U+0800 */
	assert_true(V("\xed\x9f\xbf"));		/* U+D7FF */
	assert_true(V("\xee\x80\x80"));		/* U+E000 */
	assert_true(V("\xef\xbf\xbf"));		/* U+FFFF */
	assert_true(V("\xf0\x90\x80\x80"));		/* U+10000 */
	assert_true(V("\xf4\x8f\xbf\xbf"));		/* U+10FFFF */
	assert_true(V("\xf0\x9f\x98\x80 emoji"));
}

static void
test_utf8_invalid(void **state)
{
	assert_false(V("a\0b"));			/* NUL */
	assert_false(V("\x80"));			/* lone continuation */
	assert_false(V("\xbf"));
	assert_false(V("\xc0\xaf"));			/* overlong '/' */
	assert_false(V("\xc1\xbf"));			/* overlong */
	assert_false(V("\xe0\x80\xaf"));		/* overlong 3-byte */
	assert_false(V("\xe0\x9f\xbf"));		/* overlong U+07FF */
	assert_false(V("\xf0\x80\x80\xaf"));		/* overlong 4-byte */
	assert_false(V("\xf0\x8f\xbf\xbf"));		/* overlong U+FFFF */
	assert_false(V("\xed\xa0\x80"));		/* U+D800 surrogate */
	assert_false(V("\xed\xbf\xbf"));		/* U+DFFF surrogate */
	assert_false(V("\xf4\x90\x80\x80"));		/* U+110000 */
	assert_false(V("\xf5\x80\x80\x80"));
	assert_false(V("\xff"));
	assert_false(V("\xfe"));
	assert_false(V("\xc3"));			/* truncated */
	assert_false(V("\xe2\x82"));
	assert_false(V("\xf0\x9f\x98"));
	assert_false(V("\xc3\x28"));			/* bad continuation */
	assert_false(V("\xe2\x28\xa1"));
	assert_false(V("\xf0\x9f\x28\x80"));
	assert_true(utf8_valid("ab\xc3", 2));		/* length honoured */
}

/*
 * The vector validator agrees with the scalar one: every sequence of one
 * to three bytes at the start, across the 32-byte step and at the end of
 * a text, every four-byte sequence from a lead byte F0-F4 or an invalid
 * one, and texts of generated characters of every length to 300 with
 * bytes changed.
 */
static void
test_utf8_simd_agrees(void **state)
{
	static const char *tok[] = { "a", " ", "\xc3\xa9", "\xd0\xbf",
	    "\xe6\x97\xa5", "\xe2\x80\x8b", "\xed\x9f\xbf", "\xee\x80\x80",
	    "\xef\xbf\xbf", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
	    "\xe0\xa0\x80", "\xf0\x90\x80\x80", "0123456789abcdef" };
	static const size_t at[] = { 0, 29, 30, 31, 32, 61 };
	char		 buf[320];
	unsigned int	 seed = 31337;
	uint32_t	 v;
	size_t		 n, l, k, len, pos;
	int		 s, iter;

	if (utf8_valid_simd("", 0) == -1)
		skip();
	/* one to three bytes (all 2^24 for three) at places of a text */
	for (k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		for (l = 1; l <= 3; l++) {
			pos = at[k];
			len = pos == 61 ? 61 + l : 64;	/* 61: at the end */
			memset(buf, 'x', sizeof(buf));
			for (v = 0; v < (1U << (8 * l)); v++) {
				for (n = 0; n < l; n++)
					buf[pos + n] = (char)(v >> (8 * n));
				s = utf8_valid_scalar(buf, len);
				if (utf8_valid_simd(buf, len) != s)
					fail_msg("%zu bytes %06x at %zu of %zu: "
					    "scalar %d", l, v, pos, len, s);
			}
			if (l == 3 && k > 0 && pos != 61)
				break;	/* one place inside is enough */
		}
	}
	/* four bytes from a lead byte of a four-byte sequence or above */
	memset(buf, 'x', sizeof(buf));
	for (v = 0; v < (1U << 24); v++) {
		buf[30] = (char)(0xf0 + (v >> 21 & 7) * 2 + (v & 1));
		buf[31] = (char)(v >> 1);
		buf[32] = (char)(v >> 9 & 0xff);
		buf[33] = (char)(0x80 | (v >> 17 & 0x0f) << 2);
		s = utf8_valid_scalar(buf, 64);
		if (utf8_valid_simd(buf, 64) != s)
			fail_msg("f-sequence %02x %02x %02x %02x: scalar %d",
			    buf[30] & 0xff, buf[31] & 0xff, buf[32] & 0xff,
			    buf[33] & 0xff, s);
	}
	/* generated text, valid and with a byte or two changed */
	for (iter = 0; iter < 200000; iter++) {
		seed = seed * 1103515245 + 12345;
		len = (seed >> 16) % 300;
		for (n = 0; n < len; ) {
			const char *t;

			seed = seed * 1103515245 + 12345;
			t = tok[(seed >> 16) % (sizeof(tok) / sizeof(tok[0]))];
			l = strlen(t);
			if (n + l > len)
				break;
			memcpy(buf + n, t, l);
			n += l;
		}
		len = n;
		assert_int_equal(utf8_valid_simd(buf, len), 1);
		seed = seed * 1103515245 + 12345;
		for (k = 0; len > 0 && k < (size_t)(iter & 1) + 1; k++) {
			seed = seed * 1103515245 + 12345;
			buf[(seed >> 8) % len] = (char)(seed >> 20);
		}
		s = utf8_valid_scalar(buf, len);
		if (utf8_valid_simd(buf, len) != s)
			fail_msg("generated text of %zu bytes: scalar %d", len, s);
		assert_int_equal(utf8_valid(buf, len), s);
	}
}

/* Decode the escapes of a case field into OUT (size CAP); its length. */
static size_t
unescape(const char *in, char *out, size_t cap)
{
	size_t		 o = 0;
	unsigned long	 cp;
	char		*end;

	while (*in != '\0' && o + 4 < cap) {
		if (*in != '\\') {
			out[o++] = *in++;
			continue;
		}
		in++;
		switch (*in) {
		case 't': out[o++] = '\t'; in++; break;
		case 'n': out[o++] = '\n'; in++; break;
		case 'r': out[o++] = '\r'; in++; break;
		case '\\': out[o++] = '\\'; in++; break;
		case 'x':
			cp = strtoul(in + 1, &end, 16);
			assert_true(end == in + 3);
			out[o++] = (char)cp;
			in = end;
			break;
		case 'u':
			assert_true(in[1] == '{');
			cp = strtoul(in + 2, &end, 16);
			assert_true(*end == '}');
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
			fail_msg("bad escape \\%c", *in);
		}
	}
	out[o] = '\0';
	return o;
}

static void
test_cases(void **state)
{
	const char	*top = getenv("MODGATE_TOP");
	char		 path[4096], line[8192], in[4096], want[4096], sub[512];
	char		*f[16], *p, *eq;
	FILE		*fp;
	int		 lineno = 0, nf, form, ncases = 0;
	size_t		 inlen, sublen;
	struct normtext	 nt;
	unsigned long	 a, b;
	const char	*hit;

	snprintf(path, sizeof(path), "%s/tests/data/normalize.cases",
	    top ? top : ".");
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		for (nf = 0, p = line; nf < 16; ) {
			f[nf++] = p;
			if ((p = strchr(p, '\t')) == NULL)
				break;
			*p++ = '\0';
		}
		if (nf < 3)
			fail_msg("%s:%d: need 3 fields", path, lineno);
		for (form = 0; form < FORM_COUNT; form++)
			if (strcmp(f[0], norm_form_name(form)) == 0)
				break;
		if (form == FORM_COUNT)
			fail_msg("%s:%d: bad form %s", path, lineno, f[0]);
		inlen = unescape(f[1], in, sizeof(in));
		unescape(f[2], want, sizeof(want));
		assert_true(utf8_valid(in, inlen));
		if (normalize(in, inlen, form, &nt) == -1)
			fail_msg("%s:%d: normalize failed", path, lineno);
		if (strcmp(nt.s, want) != 0 || nt.len != strlen(want))
			fail_msg("%s:%d: %s: got \"%s\", want \"%s\"", path,
			    lineno, f[0], nt.s, want);
		for (int i = 3; i < nf; i++) {
			if ((eq = strrchr(f[i], '=')) == NULL ||
			    sscanf(eq + 1, "%lu,%lu", &a, &b) != 2)
				fail_msg("%s:%d: bad offset check", path, lineno);
			*eq = '\0';
			sublen = unescape(f[i], sub, sizeof(sub));
			if ((hit = strstr(nt.s, sub)) == NULL || sublen == 0)
				fail_msg("%s:%d: \"%s\" not in output", path,
				    lineno, sub);
			if (nt.start[hit - nt.s] != a ||
			    nt.end[hit - nt.s + sublen - 1] != b)
				fail_msg("%s:%d: %s maps to [%zu,%zu), want "
				    "[%lu,%lu)", path, lineno, f[i],
				    nt.start[hit - nt.s],
				    nt.end[hit - nt.s + sublen - 1], a, b);
		}
		normtext_clear(&nt);
		ncases++;
	}
	fclose(fp);
	assert_true(ncases >= 50);
}

/* Every form of every valid prefix keeps maps inside the text, ordered. */
static void
test_maps_bounded(void **state)
{
	const char	*samples[] = {
		"k i l l \xe2\x80\x8b h\xc3\xa9llo \xef\xbc\xa6 \xd1\x80\xd0\xb0",
		"\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab  a  b  c",
		"aaaa.b.b.b.b 1 2 3 $$$ @@@ !!! |||",
		"\xef\xb7\xba x \xef\xb7\xba",		/* U+FDFA expands to 18 */
		"",
	};
	struct normtext	 nt;
	size_t		 i, k, len, cut;
	int		 form;

	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		len = strlen(samples[i]);
		for (cut = 0; cut <= len; cut++) {
			if (!utf8_valid(samples[i], cut))
				continue;
			for (form = 0; form < FORM_COUNT; form++) {
				assert_int_equal(normalize(samples[i], cut,
				    form, &nt), 0);
				assert_int_equal(strlen(nt.s), nt.len);
				assert_true(utf8_valid(nt.s, nt.len));
				for (k = 0; k < nt.len; k++) {
					assert_true(nt.start[k] < nt.end[k]);
					assert_true(nt.end[k] <= cut);
					if (k > 0)
						assert_true(nt.start[k] >=
						    nt.start[k - 1]);
				}
				normtext_clear(&nt);
			}
		}
	}
	normtext_clear(NULL);
	assert_string_equal(norm_form_name(FORM_SKELETON), "skeleton");
}

/* The ASCII one-pass path agrees with the general path, maps included. */
static void
test_fast_path_agrees(void **state)
{
	static const char alpha[] = "aaabbkkilllooss  .-_*!|+($@0123456789`"
	    "AEIOUxyz\t\n,'\"#";
	char		 buf[96];
	struct normtext	 a, b;
	unsigned int	 seed = 12345, r;
	int		 iter, form, n, k, same = 0, noleet = 0;

	for (iter = 0; iter < 60000; iter++) {
		seed = seed * 1103515245 + 12345;
		n = (int)((seed >> 16) % 40);
		for (k = 0; k < n; k++) {
			seed = seed * 1103515245 + 12345;
			r = (seed >> 16) % (sizeof(alpha) - 1);
			buf[k] = alpha[r];
		}
		buf[n] = '\0';
		for (form = FORM_NORMALIZED; form <= FORM_SKELETON; form++) {
			assert_int_equal(normalize(buf, (size_t)n, form, &a), 0);
			assert_int_equal(normalize_general(buf, (size_t)n, form,
			    &b), 0);
			if (a.len != b.len || strcmp(a.s, b.s) != 0)
				fail_msg("%s of \"%s\": fast \"%s\", general "
				    "\"%s\"", norm_form_name(form), buf, a.s, b.s);
			if (form == FORM_SKELETON) {
				/* no leet character seen: skeleton == normalized */
				struct normtext	 c;
				unsigned	 fl;

				assert_int_equal(normalize_flags(buf, (size_t)n,
				    FORM_NORMALIZED, &c, &fl), 0);
				assert_true(fl & NORM_ASCII);
				if (!(fl & NORM_LEET)) {
					assert_string_equal(a.s, c.s);
					noleet++;
				}
				normtext_clear(&c);
			}
			if (form == FORM_SKELETON &&
			    normalize_skeleton_same(buf, (size_t)n)) {
				struct normtext	 c;

				assert_int_equal(normalize(buf, (size_t)n,
				    FORM_NORMALIZED, &c), 0);
				if (strcmp(a.s, c.s) != 0)
					fail_msg("\"%s\": skeleton \"%s\" is not "
					    "normalized \"%s\"", buf, a.s, c.s);
				normtext_clear(&c);
				same++;
			}
			for (k = 0; k < (int)a.len; k++)
				if (a.start[k] != b.start[k] ||
				    a.end[k] != b.end[k])
					fail_msg("%s of \"%s\": byte %d maps to "
					    "[%zu,%zu) vs [%zu,%zu)",
					    norm_form_name(form), buf, k,
					    a.start[k], a.end[k], b.start[k],
					    b.end[k]);
			normtext_clear(&a);
			normtext_clear(&b);
		}
	}
	/* the shortcut is taken often enough to be tested */
	assert_true(same > 1000);
	assert_true(noleet > 100);
	assert_true(normalize_skeleton_same("plain words, here.", 18));
	assert_false(normalize_skeleton_same("h3llo", 5));
	assert_false(normalize_skeleton_same("caf\xc3\xa9", 5));
}

/*
 * normalize() (its fast paths), normalize_maps() without maps and
 * normalize_general() give the same text of BUF[0..N) in both forms, and
 * the first two the same offset maps.
 */
static void
assert_paths_agree(const char *buf, size_t n)
{
	struct normtext	 a, b, c;
	enum norm_form	 form;
	size_t		 k;

	for (form = FORM_NORMALIZED; form <= FORM_SKELETON; form++) {
		assert_int_equal(normalize(buf, n, form, &a), 0);
		assert_int_equal(normalize_general(buf, n, form, &b), 0);
		assert_int_equal(normalize_maps(buf, n, form, &c, NULL, 0), 0);
		if (a.len != b.len || strcmp(a.s, b.s) != 0 ||
		    c.len != b.len || strcmp(c.s, b.s) != 0)
			fail_msg("%s of \"%s\": fast \"%s\", general \"%s\", "
			    "without maps \"%s\"", norm_form_name(form), buf,
			    a.s, b.s, c.s);
		for (k = 0; k < a.len; k++)
			if (a.start[k] != b.start[k] || a.end[k] != b.end[k])
				fail_msg("%s of \"%s\": byte %zu maps to "
				    "[%zu,%zu) vs [%zu,%zu)",
				    norm_form_name(form), buf, k, a.start[k],
				    a.end[k], b.start[k], b.end[k]);
		normtext_clear(&a);
		normtext_clear(&b);
		normtext_clear(&c);
	}
}

/* Mixed text: the hybrid path (pieces) agrees with the general path. */
static void
test_hybrid_agrees(void **state)
{
	static const char *tok[] = { "word", "an", "a", "I", "k", "i", "l",
	    "caf\xc3\xa9", "\xd0\xbf\xd1\x80\xd0\xb8", "\xe2\x80\x9cq\xe2\x80\x9d",
	    "\xe2\x80\x8b", "e\xcc\x81", "\xcc\x81", "h3ll0", "sh!t", "$$", "1",
	    "fuuuck", "\xef\xbc\xa6", "--", ".", "\xe2\x80\x94", "\xf0\x9f\x98\x80",
	    "tete", "long words here", "x", "7" };
	static const char *sep[] = { " ", " ", " ", "  ", "\n", "", ".", " - " };
	char		 buf[4096];
	unsigned int	 seed = 777;
	size_t		 n, l;
	int		 iter, w, nw;

	for (iter = 0; iter < 6000; iter++) {
		/* half the texts dense, half mostly ASCII (pieces) */
		int	 sparse = iter % 2;

		seed = seed * 1103515245 + 12345;
		nw = (int)((seed >> 16) % (sparse ? 400 : 120));
		n = 0;
		for (w = 0; w < nw; w++) {
			const char *t, *s;

			seed = seed * 1103515245 + 12345;
			t = tok[(seed >> 16) % (sizeof(tok) / sizeof(tok[0]))];
			if (sparse && ((seed >> 8) % 50) != 0) {
				const char *c;

				for (c = t; *c && !(*c & 0x80); c++)
					;
				if (*c)		/* a wide token: rarely kept */
					t = (seed >> 9) % 2 ? "words" : "plain";
			}
			seed = seed * 1103515245 + 12345;
			s = sep[(seed >> 16) % (sizeof(sep) / sizeof(sep[0]))];
			l = strlen(t);
			if (n + l + strlen(s) + 1 >= sizeof(buf))
				break;
			memcpy(buf + n, t, l);
			n += l;
			memcpy(buf + n, s, strlen(s));
			n += strlen(s);
		}
		buf[n] = '\0';
		assert_true(utf8_valid(buf, n));
		assert_paths_agree(buf, (size_t)n);
	}
}

/*
 * Text dense with characters outside ASCII (the one-pass path for it):
 * the same text and maps as the general path, with and without maps;
 * combining marks and jamo as their own code points, zero-width
 * characters between, one-character words of other scripts, confusables
 * that leetspeak folds.
 */
static void
test_dense_agrees(void **state)
{
	static const char *tok[] = { "the", "a", "I", "k", "1", "3", "0", "!",
	    "$", "(", "|", "+", "@", ",", "-", "eee", "ooo", "water",
	    "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",	/* привет */
	    "\xd0\xb1", "\xd0\xb7", "\xd1\x81", "\xd0\xbe",	/* б з с о */
	    "\xd0\xbe\xd0\xbe\xd0\xbe",				/* ооо */
	    "\xe0\xa4\xb8", "\xe0\xa5\x8d", "\xe0\xa5\x80",	/* स ् ी */
	    "\xcc\x81", "\xcc\xa3", "\xcc\x88", "\xcd\x85",	/* marks */
	    "\xe1\x84\x80", "\xe1\x85\xa1", "\xe1\x86\xa8",	/* jamo */
	    "\xea\xb0\x80", "\xe6\x97\xa5\xe6\x9c\xac",		/* 가 日本 */
	    "\xe2\x80\x8b", "\xc2\xa0", "\xe3\x80\x80",		/* ZWSP NBSP */
	    "\xef\xac\x81", "\xef\xbc\xa1", "\xe2\x91\xa0",	/* ﬁ Ａ ① */
	    "\xc7\x85", "\xe1\xba\xbf", "\xc3\x9f", "\xe2\x80\xa6",	/* ǅ ế ß … */
	    "\xef\xb7\xba", "\xf0\x9f\x98\x80", "\xc3\xa9" };	/* ﷺ 😀 é */
	static const char *sep[] = { " ", " ", "", "  ", "\n", "." };
	char		 buf[2048];
	unsigned int	 seed = 4242;
	size_t		 n, l;
	int		 iter, w, nw;

	for (iter = 0; iter < 20000; iter++) {
		seed = seed * 1103515245 + 12345;
		nw = 1 + (int)((seed >> 16) % (iter % 2 ? 10 : 60));
		n = 0;
		for (w = 0; w < nw; w++) {
			const char *t, *s;

			seed = seed * 1103515245 + 12345;
			t = tok[(seed >> 16) % (sizeof(tok) / sizeof(tok[0]))];
			seed = seed * 1103515245 + 12345;
			s = (seed >> 16) % 3 ? "" :
			    sep[(seed >> 18) % (sizeof(sep) / sizeof(sep[0]))];
			l = strlen(t);
			if (n + l + strlen(s) + 1 >= sizeof(buf))
				break;
			memcpy(buf + n, t, l);
			n += l;
			memcpy(buf + n, s, strlen(s));
			n += strlen(s);
		}
		buf[n] = '\0';
		assert_true(utf8_valid(buf, n));
		assert_paths_agree(buf, (size_t)n);
	}
}

/* The eight-byte path of ASCII words agrees with the general path. */
static void
test_block_path_agrees(void **state)
{
	static const char *alphas[] = { "aaAbe  oOIx", "abcdefgh ijk",
	    "aaaa b", "ab AB c  \n", "xyz xYz XYZ q\t", "the cat, sat." };
	char		 buf[128];
	unsigned int	 seed = 777, r;
	int		 iter, n, k;
	size_t		 na;
	const char	*al;

	for (iter = 0; iter < 60000; iter++) {
		al = alphas[iter % 6];
		na = strlen(al);
		seed = seed * 1103515245 + 12345;
		n = (int)((seed >> 16) % 100);
		for (k = 0; k < n; k++) {
			seed = seed * 1103515245 + 12345;
			r = (seed >> 16) % na;
			buf[k] = al[r];
		}
		buf[n] = '\0';
		assert_paths_agree(buf, (size_t)n);
	}
}

/*
 * ASCII words of two bytes and more right before code points outside
 * ASCII (the one-pass path takes them up to eight at a time, looking at
 * the code point after): letters that repeat across the edge, one-letter
 * words, marks that join the last letter, characters without units,
 * confusables folding to ASCII letters and leet characters, white space
 * outside ASCII.  Both forms and maps agree with the general path.
 */
static void
test_run_blocks_agree(void **state)
{
	static const char *word[] = { "the", "water", "a", "I", "oo", "ooo",
	    "abcdefghijk", "xyzzy", "k", "Ee", "ill", "bb", "Zz", "bo0m",
	    "ki11", "p4ss", "s$", "a.b", "lo", "hello\nworld" };
	static const char *wide[] = {
	    "\xd0\xbe", "\xd0\xbe\xd0\xbe",	/* о оо (confusable o) */
	    "\xd0\xbf\xd1\x80\xd0\xb8",	/* при */
	    "\xcc\x81", "\xcc\x88\xcc\xa3",	/* marks */
	    "\xe2\x80\x8b", "\xe2\x80\x8d",	/* ZWSP ZWJ */
	    "\xc2\xa0", "\xe3\x80\x80",	/* NBSP, ideographic space */
	    "\xef\xbc\xa1", "\xef\xbd\x8f",	/* Ａ ｏ */
	    "\xef\xbc\x84", "\xef\xbc\x90", "\xef\xbc\x81", /* ＄ ０ ！ */
	    "\xe6\x97\xa5", "\xea\xb0\x80",	/* 日 가 */
	    "\xe1\x85\xa1", "\xe0\xa5\x8d",	/* jamo, virama */
	    "\xc3\xa9", "\xc3\x9f", "\xe2\x80\xa6",	/* é ß … */
	    "\xe2\x84\xaa", "\xc5\xbf", "\xef\xac\x81" };	/* K ſ ﬁ */
	static const char *sep[] = { " ", " ", " ", "\n", "", "  " };
	char		 buf[512];
	unsigned int	 seed = 9001;
	size_t		 n, l;
	int		 iter, w, nw;
	const char	*t;

	for (iter = 0; iter < 40000; iter++) {
		seed = seed * 1103515245 + 12345;
		nw = 2 + (int)((seed >> 16) % 40);
		n = 0;
		for (w = 0; w < nw; w++) {
			seed = seed * 1103515245 + 12345;
			if ((seed >> 16) % 5 < 3)
				t = word[(seed >> 18) % (sizeof(word) /
				    sizeof(word[0]))];
			else
				t = wide[(seed >> 18) % (sizeof(wide) /
				    sizeof(wide[0]))];
			l = strlen(t);
			if (n + l + 3 >= sizeof(buf))
				break;
			memcpy(buf + n, t, l);
			n += l;
			seed = seed * 1103515245 + 12345;
			if ((seed >> 16) % 2) {
				t = sep[(seed >> 18) % (sizeof(sep) /
				    sizeof(sep[0]))];
				memcpy(buf + n, t, strlen(t));
				n += strlen(t);
			}
		}
		buf[n] = '\0';
		assert_true(utf8_valid(buf, n));
		assert_paths_agree(buf, (size_t)n);
	}
}

/* CP's UTF-8 at O; its length. */
static size_t
put_cp(uint32_t cp, char *o)
{
	return (size_t)utf8proc_encode_char((utf8proc_int32_t)cp,
	    (utf8proc_uint8_t *)o);
}

/*
 * Every code point of the BMP, alone, after a letter and before a
 * combining mark, and between Hangul jamo: the cached decoding gives the
 * forms and maps of utf8proc alone.
 */
static void
test_bmp_cache_agrees(void **state)
{
	static const uint32_t ctx[][2][2] = {
		{ { 0 }, { 0 } },
		{ { 'a', 0 }, { 0x301, ' ' } },
		{ { 0x1100, 0 }, { 0x1161, 0x11a8 } },
	};
	char		 buf[32];
	struct normtext	 a, b;
	uint32_t	 cp;
	size_t		 n, c, k;
	int		 form;

	for (cp = 0x80; cp < 0x10000; cp++) {
		if (cp >= 0xd800 && cp < 0xe000)
			continue;
		for (c = 0; c < sizeof(ctx) / sizeof(ctx[0]); c++) {
			n = 0;
			for (k = 0; k < 2 && ctx[c][0][k]; k++)
				n += put_cp(ctx[c][0][k], buf + n);
			n += put_cp(cp, buf + n);
			for (k = 0; k < 2 && ctx[c][1][k]; k++)
				n += put_cp(ctx[c][1][k], buf + n);
			for (form = FORM_NORMALIZED; form <= FORM_SKELETON;
			    form++) {
				normalize_cache(0);
				assert_int_equal(normalize_general(buf, n,
				    form, &b), 0);
				normalize_cache(1);
				assert_int_equal(normalize_general(buf, n,
				    form, &a), 0);
				if (a.len != b.len ||
				    memcmp(a.s, b.s, a.len) != 0 ||
				    memcmp(a.start, b.start,
				    a.len * sizeof(size_t)) != 0 ||
				    memcmp(a.end, b.end,
				    a.len * sizeof(size_t)) != 0)
					fail_msg("U+%04X in context %zu: %s "
					    "\"%s\" from the cache, \"%s\" "
					    "from utf8proc", (unsigned)cp, c,
					    norm_form_name(form), a.s, b.s);
				normtext_clear(&a);
				normtext_clear(&b);
			}
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_invalid),
		cmocka_unit_test(test_utf8_simd_agrees),
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_maps_bounded),
		cmocka_unit_test(test_fast_path_agrees),
		cmocka_unit_test(test_hybrid_agrees),
		cmocka_unit_test(test_dense_agrees),
		cmocka_unit_test(test_block_path_agrees),
		cmocka_unit_test(test_run_blocks_agree),
		cmocka_unit_test(test_bmp_cache_agrees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
