/*
 * normalize: see include/normalize.h; the entry points and the choice of
 * path.
 *
 * Each form is computed in three steps over an array of units (one code
 * point of the form, with the range of original bytes it came from):
 *
 * 1. decode: every code point of the text is NFKD-decomposed and case
 *    folded by utf8proc (UTF8PROC_COMPAT | CASEFOLD | IGNORE | LUMP), which
 *    also drops default-ignorable code points (zero-width characters, bidi
 *    controls, soft hyphen, variation selectors, ...).  A starter and the
 *    combining marks after it are reordered and recomposed (NFKC) as one
 *    segment mapped to the bytes of the whole segment.  The skeleton form
 *    strips the marks instead and maps every confusable code point to
 *    ASCII (src/confusables.h, from UTS #39).  ASCII takes a table path;
 *    code points of the BMP come from a cache of what utf8proc and the
 *    confusables give them (see norm_cpage_build).
 * 2. collapse separators: a run of three or more one-character words
 *    (a letter or digit with no letter, digit or mark beside it) whose gaps
 *    are each 1-3 separators (white space, punctuation, symbols) is joined:
 *    "k i l l", "k.i.l.l", "k - i - l - l" become "kill".  Every other run
 *    of white space becomes one space.  Skeleton then folds leetspeak in
 *    each word that holds an ASCII letter (see leet_fold).
 * 3. emit UTF-8 and the offset maps, collapsing a run of three or more of
 *    the same letter into one letter ("fuuuuck" -> "fuck"; a pair such as
 *    "cool" stays).  Digits and other characters are never collapsed.
 *
 * That general path (normalize-general.c, its cache of code points in
 * normalize-pages.c, the character classes in normalize-class.c) is the
 * reference the others must agree with (the unit tests and
 * fuzz/fuzz-normalize.c compare them).  This file picks the path from one
 * look at the bytes.  ASCII text takes normalize_ascii()
 * (normalize-ascii.c, eight or sixteen bytes at a time where they allow:
 * the block tests in include/normalize-internal.h); text with a few
 * characters outside ASCII takes it for the ASCII pieces and the general
 * path around the rest (normalize_hybrid, here); denser text takes
 * normalize_fast() (normalize-fast.c): all three steps in one pass over
 * the text with no unit array, each code point's units from a second
 * cache (struct fent: what norm_decode() gives the code point alone),
 * composing only where a mark joins from outside, and leaving to the
 * general path what it cannot do in one pass (a chain of one-character
 * words, code points outside the BMP, a mark joining a code point of
 * several segments).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "normalize.h"
#include "normalize-internal.h"

static const char *const norm_form_names[FORM_COUNT] = {
	"raw", "normalized", "skeleton"
};

const char *
norm_form_name(enum norm_form f)
{
	if ((unsigned)f >= FORM_COUNT)
		return "?";
	return norm_form_names[f];
}

void
normtext_clear(struct normtext *nt)
{
	if (nt == NULL)
		return;
	free(nt->s);
	free(nt->start);
	free(nt->end);
	memset(nt, 0, sizeof(*nt));
}

/*
 * 1 when the text may be cut after the space at X: an ASCII letter on
 * either side of it, and another beyond each, so that no chain of
 * one-character words, no word, no white space run and no letter repeat
 * crosses the cut, and each side normalizes on its own as in the whole.
 */
static int
cut_ok(const unsigned char *t, size_t len, size_t x)
{
	return x >= 2 && x + 2 < len && t[x] == ' ' &&
	    (ascii_cls[t[x - 1]] & C_LETTER) && (ascii_cls[t[x - 2]] & C_LETTER) &&
	    (ascii_cls[t[x + 1]] & C_LETTER) && (ascii_cls[t[x + 2]] & C_LETTER);
}

/* Append PART (of text from byte OFF) to OUT (capacity *CAP). */
static int
append_part(struct normtext *out, size_t *cap, const struct normtext *part,
    size_t off)
{
	size_t	 i, ncap;
	char	*ns;
	size_t	*nst, *nen;

	if (*cap - out->len < part->len + 1) {
		ncap = (out->len + part->len + 1) * 2;
		if ((ns = realloc(out->s, ncap)) == NULL)
			return -1;
		out->s = ns;
		if ((nst = reallocarray(out->start, ncap, sizeof(size_t))) == NULL)
			return -1;
		out->start = nst;
		if ((nen = reallocarray(out->end, ncap, sizeof(size_t))) == NULL)
			return -1;
		out->end = nen;
		*cap = ncap;
	}
	if (part->len > 0)
		memcpy(out->s + out->len, part->s, part->len);
	for (i = 0; i < part->len; i++) {
		out->start[out->len + i] = part->start[i] + off;
		out->end[out->len + i] = part->end[i] + off;
	}
	out->len += part->len;
	return 0;
}

#define HYBRID_CLEAN	64	/* ASCII bytes that end a general piece */
#define HYBRID_DENSE	256	/* one wide byte in this many: no pieces */

/*
 * The bytes outside ASCII in T[0..LEN), counted until there are enough to
 * make the text dense (more than one in HYBRID_DENSE): 0 for ASCII text.
 */
static size_t
wide_bytes(const unsigned char *t, size_t len)
{
	size_t	 q, wide = 0;

	for (q = 0; q + 8 <= len && wide * HYBRID_DENSE <= len; q += 8) {
		uint64_t	 w;

		memcpy(&w, t + q, 8);
		wide += (size_t)(((w & HIGH) >> 7) * ONES >> 56);
	}
	for (; q < len && wide * HYBRID_DENSE <= len; q++)
		wide += t[q] >> 7;
	return wide;
}

/*
 * Text with some bytes outside ASCII, but not dense: the general path for
 * the pieces around them, the ASCII path for the rest, cut where cut_ok()
 * allows.
 */
static int
normalize_hybrid(const unsigned char *t, size_t len, enum norm_form form,
    struct normtext *out, int maps)
{
	struct normtext	 part;
	size_t		 pos = 0, q, x, r, cap = 0, nw;
	int		 rv;

	memset(&part, 0, sizeof(part));
	cap = len + 16;
	out->s = malloc(cap);
	out->start = malloc(cap * sizeof(size_t));
	out->end = malloc(cap * sizeof(size_t));
	if (out->s == NULL || out->start == NULL || out->end == NULL)
		return -1;
	out->len = 0;
	while (pos < len) {
		for (q = pos; q < len && t[q] < 0x80; q++)
			;
		/* ASCII up to a cut before the next wide byte */
		x = q;
		if (q < len) {
			for (x = q; x > pos && !cut_ok(t, len, x - 1); x--)
				;
		}
		if (x > pos) {
			rv = normalize_ascii(t + pos, x - pos,
			    form == FORM_SKELETON, &part, NULL, 1);
			if (rv == 1) {
				normtext_clear(&part);
				rv = normalize_general((const char *)t + pos,
				    x - pos, form, &part);
			}
			if (rv == -1 || append_part(out, &cap, &part, pos) == -1)
				goto fail;
			normtext_clear(&part);
			pos = x;
		}
		if (q == len)
			break;
		/* general from pos to a cut with HYBRID_CLEAN ASCII bytes after */
		for (nw = q, r = q + 1; r < len; r++) {
			if (t[r] >= 0x80) {
				q = r;
				continue;
			}
			if (r - q > 2 && cut_ok(t, len, r)) {
				/* the next wide byte, found once per stretch */
				if (nw <= r)
					for (nw = r + 1; nw < len && t[nw] < 0x80;
					    nw++)
						;
				if (nw > r + HYBRID_CLEAN)
					break;
			}
		}
		r = r < len ? r + 1 : len;
		if (normalize_general((const char *)t + pos, r - pos, form,
		    &part) == -1 || append_part(out, &cap, &part, pos) == -1)
			goto fail;
		normtext_clear(&part);
		pos = r;
	}
	out->s[out->len] = '\0';
	return 0;
fail:
	normtext_clear(&part);
	return -1;
}

int
normalize(const char *text, size_t len, enum norm_form form,
    struct normtext *out)
{
	return normalize_flags(text, len, form, out, NULL);
}

int
normalize_flags(const char *text, size_t len, enum norm_form form,
    struct normtext *out, unsigned *flags)
{
	return normalize_maps(text, len, form, out, flags, 1);
}

int
normalize_maps(const char *text, size_t len, enum norm_form form,
    struct normtext *out, unsigned *flags, int maps)
{
	const unsigned char *t = (const unsigned char *)text;
	unsigned	 leet = 1;
	size_t		 wide;
	int		 rv;

	memset(out, 0, sizeof(*out));
	if (flags != NULL)
		*flags = 0;
	if (form != FORM_NORMALIZED && form != FORM_SKELETON)
		return normalize_general(text, len, form, out);
	/* one look at the bytes chooses the path */
	wide = wide_bytes(t, len);
	if (wide == 0) {
		if ((rv = normalize_ascii(t, len, form == FORM_SKELETON, out,
		    &leet, maps)) == 0 && flags != NULL)
			*flags = NORM_ASCII | (leet ? NORM_LEET : 0);
	} else if (wide * HYBRID_DENSE > len) {
		if ((rv = normalize_fast(t, len, form == FORM_SKELETON, out,
		    maps)) == 1) {
			normtext_clear(out);
			rv = normalize_general_form(text, len, form, out, maps);
		}
	} else
		rv = normalize_hybrid(t, len, form, out, maps);
	if (rv != 0) {
		normtext_clear(out);
		return -1;
	}
	return 0;
}
