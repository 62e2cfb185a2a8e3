/*
 * normalize: see include/normalize.h.
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
 *    confusables give them (see cpage_build).
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
 * That general path is the reference the others must agree with (the unit
 * tests and fuzz/fuzz-normalize.c compare them).  ASCII text takes
 * normalize_ascii(); text with a few characters outside ASCII takes it for
 * the ASCII pieces and the general path around the rest
 * (normalize_hybrid); denser text takes normalize_fast(): all three steps
 * in one pass over the text with no unit array, each code point's units
 * from a second cache (struct fent: what decode() gives the code point
 * alone), composing only where a mark joins from outside, and leaving to
 * the general path what it cannot do in one pass (a chain of
 * one-character words, code points outside the BMP, a mark joining a code
 * point of several segments).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "normalize.h"
#include "normalize-internal.h"
#include "confusables.h"

enum { C_LETTER = 1, C_DIGIT = 2, C_MARK = 4, C_SPACE = 8, C_PUNCT = 16,
    C_OTHER = 32, C_DROP = 64 };
#define C_WORD	(C_LETTER | C_DIGIT | C_MARK)
#define C_SEP	(C_SPACE | C_PUNCT)

#define CHAIN_MIN	3	/* one-character words joined from this many */
#define GAP_MAX		3	/* separators between them */
#define REPEAT_MIN	3	/* same letter this often collapses to one */

struct unit {
	uint32_t	 cp;
	uint32_t	 cls;
	uint32_t	 a, b;		/* original bytes [a, b) */
};

struct scratch {
	struct unit	*u;
	size_t		 n, cap;
	size_t		 wide;		/* units pushed outside ASCII (bound) */
	unsigned	 leet;		/* nonzero: a unit leet_fold may fold */
};

static pthread_key_t	 scratch_key;
static pthread_once_t	 scratch_once = PTHREAD_ONCE_INIT;
static unsigned char	 ascii_cls[256];	/* bytes >= 0x80: C_OTHER */
static unsigned char	 ascii_lower[256];
static unsigned char	 ascii_leet[256];	/* leet(c) of lowercase c */
static unsigned char	 ascii_flag[256];	/* 1 word, 2 letter or digit */

static void
scratch_free(void *p)
{
	struct scratch *s = p;

	if (s != NULL)
		free(s->u);
	free(s);
}

static char	 leet(uint32_t);

static void
scratch_init(void)
{
	int	 c;

	(void)pthread_key_create(&scratch_key, scratch_free);
	for (c = 0; c < 256; c++) {
		ascii_lower[c] = (unsigned char)c;
		if (c >= 'A' && c <= 'Z')
			ascii_lower[c] = (unsigned char)(c + 32);
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			ascii_cls[c] = C_LETTER;
		else if (c >= '0' && c <= '9')
			ascii_cls[c] = C_DIGIT;
		else if (c == ' ' || (c >= '\t' && c <= '\r'))
			ascii_cls[c] = C_SPACE;
		else if (c > ' ' && c < 127)
			ascii_cls[c] = C_PUNCT;	/* 127 and up: C_OTHER */
		else
			ascii_cls[c] = C_OTHER;
	}
	for (c = 0; c < 128; c++) {
		ascii_leet[c] = (unsigned char)leet((uint32_t)c);
		ascii_flag[c] = (ascii_cls[c] & C_WORD ? 1 : 0) |
		    (ascii_cls[c] & (C_LETTER | C_DIGIT) ? 2 : 0);
	}
}

static struct scratch *
scratch_get(void)
{
	struct scratch	*s;

	pthread_once(&scratch_once, scratch_init);
	if ((s = pthread_getspecific(scratch_key)) != NULL)
		return s;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if (pthread_setspecific(scratch_key, s) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static int
scratch_reserve(struct scratch *s, size_t more)
{
	struct unit	*nu;
	size_t		 ncap;

	if (s->cap - s->n >= more)
		return 0;
	ncap = s->cap ? s->cap : 256;
	while (ncap - s->n < more) {
		if (ncap > SIZE_MAX / 2 / sizeof(*nu))
			return -1;
		ncap *= 2;
	}
	if ((nu = realloc(s->u, ncap * sizeof(*nu))) == NULL)
		return -1;
	s->u = nu;
	s->cap = ncap;
	return 0;
}

static uint32_t
cp_class(uint32_t cp)
{
	if (cp < 128)
		return ascii_cls[cp];
	switch (utf8proc_category((utf8proc_int32_t)cp)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
		return C_LETTER;
	case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return C_DIGIT;
	case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
		return C_MARK;
	case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL:
	case UTF8PROC_CATEGORY_ZP:
		return C_SPACE;
	case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD:
	case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
	case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
	case UTF8PROC_CATEGORY_PO: case UTF8PROC_CATEGORY_SM:
	case UTF8PROC_CATEGORY_SC: case UTF8PROC_CATEGORY_SK:
	case UTF8PROC_CATEGORY_SO:
		return C_PUNCT;
	default:
		return cp == 0x85 ? C_SPACE : C_OTHER;
	}
}

/* ASCII text confusable with CP (lowercase letters or digits), or NULL. */
static const char *
confusable(uint32_t cp)
{
	size_t	 lo = 0, hi = sizeof(confusables) / sizeof(confusables[0]), mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (confusables[mid].cp == cp)
			return confusables[mid].to;
		if (confusables[mid].cp < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Hangul vowel and trailing jamo compose with the syllable before them. */
static int
cp_joins(uint32_t cp, uint32_t cls)
{
	return cls == C_MARK || (cp >= 0x1161 && cp <= 0x1175) ||
	    (cp >= 0x11a8 && cp <= 0x11c2);
}

/*
 * Reorder and compose units [from, s->n) (a starter and what joins it) in
 * place, mapped to the range of the whole segment.
 */
static void
compose_segment(struct scratch *s, size_t from)
{
	utf8proc_int32_t buf[64];
	size_t		 n = s->n - from, i, j, a, b;
	utf8proc_ssize_t m;
	struct unit	 t;

	if (n < 2 || n > sizeof(buf) / sizeof(buf[0]))
		return;
	/* canonical ordering: stable sort of marks by combining class */
	for (i = from + 2; i < s->n; i++)
		for (j = i; j > from + 1 &&
		    utf8proc_get_property((utf8proc_int32_t)s->u[j - 1].cp)->combining_class >
		    utf8proc_get_property((utf8proc_int32_t)s->u[j].cp)->combining_class; j--) {
			t = s->u[j];
			s->u[j] = s->u[j - 1];
			s->u[j - 1] = t;
		}
	a = s->u[from].a;
	b = s->u[from].b;
	for (i = 0; i < n; i++) {
		buf[i] = (utf8proc_int32_t)s->u[from + i].cp;
		if (s->u[from + i].a < a)
			a = s->u[from + i].a;
		if (s->u[from + i].b > b)
			b = s->u[from + i].b;
	}
	m = utf8proc_normalize_utf32(buf, (utf8proc_ssize_t)n,
	    UTF8PROC_COMPOSE | UTF8PROC_STABLE);
	if (m <= 0)
		return;
	for (i = 0; i < (size_t)m; i++) {
		s->u[from + i].cp = (uint32_t)buf[i];
		s->u[from + i].cls = cp_class((uint32_t)buf[i]);
		s->u[from + i].a = a;
		s->u[from + i].b = b;
	}
	s->n = from + (size_t)m;
}

static int
push(struct scratch *s, uint32_t cp, uint32_t cls, size_t a, size_t b)
{
	if (s->n == s->cap && scratch_reserve(s, 1) == -1)
		return -1;
	s->u[s->n].cp = cp;
	s->u[s->n].cls = cls;
	s->u[s->n].a = (uint32_t)a;
	s->u[s->n].b = (uint32_t)b;
	s->n++;
	s->wide += cp >= 0x80;
	s->leet |= ascii_leet[cp & 127] & (0U - (cp < 128));
	return 0;
}

/*
 * The decoding of every code point of the BMP, per form, cached in pages
 * of 256 code points built on first use: what step 1 pushes for the code
 * point (utf8proc's decomposition with each code point's class; for the
 * skeleton, confusables already replaced), and for the normalized form
 * the composition of its last segment (from its last starter) as
 * compose_segment() computes it when nothing joins that segment from
 * outside.  Computed by the same functions as the uncached path, so both
 * agree by construction.  A page is built once per process (two threads
 * may both build one; one keeps its copy) and never freed.
 */
#define PAGE_BITS	8
#define PAGE_SIZE	(1U << PAGE_BITS)
#define NPAGES		(0x10000 >> PAGE_BITS)
#define TAIL_NONE	0xff

struct cu {
	uint32_t	 cp;
	uint32_t	 cls;
};

struct cpent {
	uint16_t	 off;		/* pool index of the units */
	uint8_t		 n;		/* units pushed */
	uint8_t		 tail;		/* index of the last starter, or TAIL_NONE */
	uint16_t	 coff;		/* pool index of the composed last segment */
	uint8_t		 nc;		/* its units */
};

struct cpage {
	struct cpent	 e[PAGE_SIZE];
	struct cu	 pool[];
};

static _Atomic(void *) cpages[2][NPAGES];	/* struct cpage: normalized,
						   skeleton */
static atomic_int	 cache_off;	/* tests: decode without the cache */

int
normalize_cache(int on)
{
	return !atomic_exchange_explicit(&cache_off, !on,
	    memory_order_relaxed);
}

/*
 * Page P cut down to its HDR bytes of entries (the offset of its pool) and
 * a pool of the N entries of ES bytes at TMP.  NULL (P freed) when out of memory.
 */
static void *
page_trim(void *p, size_t hdr, const void *tmp, size_t n, size_t es)
{
	char	*q;

	if ((q = realloc(p, hdr + n * es)) == NULL) {
		free(p);
		return NULL;
	}
	memcpy(q + hdr, tmp, n * es);
	return q;
}

/*
 * Install page P, just built, in SLOT unless another thread's page got
 * there first.  Returns the page in SLOT (P, or the other one, P freed).
 */
static void *
page_publish(_Atomic(void *) *slot, void *p)
{
	void	*want = NULL;

	if (!atomic_compare_exchange_strong_explicit(slot, &want, p,
	    memory_order_acq_rel, memory_order_acquire)) {
		free(p);
		p = want;
	}
	return p;
}

static int
cp_opt_skel(int skel)
{
	return UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
	    UTF8PROC_IGNORE | UTF8PROC_LUMP | (skel ? UTF8PROC_STRIPMARK : 0);
}

/*
 * What step 1 pushes for CP in FORM, into U (room for 96 units).  Returns
 * the number of units.
 */
static size_t
cp_units(uint32_t cp, int skel, struct cu *u)
{
	utf8proc_int32_t dst[32];
	utf8proc_ssize_t m, j;
	const char	*conf;
	size_t		 n = 0;
	int		 bound = 0;
	uint32_t	 cls;

	m = utf8proc_decompose_char((utf8proc_int32_t)cp, dst, 32,
	    cp_opt_skel(skel), &bound);
	if (m < 0 || m > 32)
		m = 0;
	for (j = 0; j < m; j++) {
		cls = cp_class((uint32_t)dst[j]);
		if (skel && dst[j] >= 0x80 &&
		    (conf = confusable((uint32_t)dst[j])) != NULL) {
			for (; *conf; conf++) {
				u[n].cp = (unsigned char)*conf;
				u[n].cls = ascii_cls[(unsigned char)*conf];
				n++;
			}
			continue;
		}
		u[n].cp = (uint32_t)dst[j];
		u[n].cls = cls;
		n++;
	}
	return n;
}

static struct cpage *
cpage_build(unsigned pg, int skel)
{
	struct cu	*tmp, cu[96];
	struct unit	 seg[64];
	struct scratch	 one;
	struct cpage	*p = NULL;
	size_t		 np = 0, n, i, t;
	unsigned	 c;

	if ((tmp = malloc(PAGE_SIZE * 160 * sizeof(*tmp))) == NULL)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto done;
	for (c = 0; c < PAGE_SIZE; c++) {
		n = cp_units((pg << PAGE_BITS) | c, skel, cu);
		p->e[c].off = (uint16_t)np;
		p->e[c].n = (uint8_t)n;
		p->e[c].tail = TAIL_NONE;
		memcpy(tmp + np, cu, n * sizeof(*cu));
		np += n;
		if (skel)
			continue;
		for (i = n; i-- > 0; )
			if (!cp_joins(cu[i].cp, cu[i].cls)) {
				p->e[c].tail = (uint8_t)i;
				break;
			}
		if (p->e[c].tail == TAIL_NONE)
			continue;
		/* the last segment composed alone */
		memset(&one, 0, sizeof(one));
		one.u = seg;
		one.cap = sizeof(seg) / sizeof(seg[0]);
		for (t = p->e[c].tail; t < n; t++, one.n++) {
			seg[one.n].cp = cu[t].cp;
			seg[one.n].cls = cu[t].cls;
			seg[one.n].a = 0;
			seg[one.n].b = 1;
		}
		compose_segment(&one, 0);
		p->e[c].coff = (uint16_t)np;
		p->e[c].nc = (uint8_t)one.n;
		for (t = 0; t < one.n; t++, np++) {
			tmp[np].cp = seg[t].cp;
			tmp[np].cls = seg[t].cls;
		}
	}
	p = page_trim(p, offsetof(struct cpage, pool), tmp, np,
	    sizeof(*tmp));
done:
	free(tmp);
	return p;
}

/* The cache page of BMP code point CP in FORM, or NULL (no memory). */
static const struct cpage *
cpage_get(uint32_t cp, int skel)
{
	_Atomic(void *)	*slot = &cpages[skel][cp >> PAGE_BITS];
	struct cpage	*p;

	if ((p = atomic_load_explicit(slot, memory_order_acquire)) != NULL)
		return p;
	if ((p = cpage_build(cp >> PAGE_BITS, skel)) == NULL)
		return NULL;
	return page_publish(slot, p);
}

/*
 * compose_segment(S, FROM), taken from the cache when the segment is the
 * last segment of the one code point whose entry is MEMO.
 */
static void
compose_cached(struct scratch *s, size_t from, const struct cpage *mp,
    const struct cpent *memo)
{
	const struct cu	*c;
	uint32_t	 a, b;
	size_t		 i;

	if (memo == NULL || s->n - from != (size_t)(memo->n - memo->tail)) {
		compose_segment(s, from);
		return;
	}
	a = s->u[from].a;
	b = s->u[from].b;
	c = mp->pool + memo->coff;
	for (i = 0; i < memo->nc; i++) {
		s->u[from + i].cp = c[i].cp;
		s->u[from + i].cls = c[i].cls;
		s->u[from + i].a = a;
		s->u[from + i].b = b;
	}
	s->n = from + memo->nc;
}

/* Step 1: decode TEXT into units of FORM. */
static int
decode(struct scratch *s, const unsigned char *p, size_t len,
    enum norm_form form)
{
	utf8proc_int32_t cp, dst[32];
	utf8proc_ssize_t k, m, j;
	utf8proc_option_t opt;
	size_t		 i = 0, seg = 0;
	const char	*conf;
	const struct cpage *pg, *mp = NULL;
	const struct cpent *e, *memo = NULL;
	const struct cu	*c;
	int		 bound = 0, skel = form == FORM_SKELETON;
	uint32_t	 cls;
	unsigned char	 ch;

	opt = cp_opt_skel(skel);
	if (scratch_reserve(s, len + 1) == -1)
		return -1;
	while (i < len) {
		ch = p[i];
		if (ch < 0x80) {
			size_t		 r, n;
			struct unit	*u;

			if (!skel && seg + 1 < s->n)
				compose_cached(s, seg, mp, memo);
			memo = NULL;
			/* a run of ASCII, one unit per byte, in locals */
			for (r = i + 1; r < len && p[r] < 0x80; r++)
				;
			if (scratch_reserve(s, r - i) == -1)
				return -1;
			for (n = s->n, u = s->u; i < r; i++, n++) {
				s->leet |= ascii_leet[p[i]];
				u[n].cp = ascii_lower[p[i]];
				u[n].cls = ascii_cls[p[i]];
				u[n].a = (uint32_t)i;
				u[n].b = (uint32_t)i + 1;
			}
			s->n = n;
			seg = n - 1;
			continue;
		}
		/* well-formed 2- and 3-byte sequences here, the rest by utf8proc */
		if (ch >= 0xc2 && ch <= 0xdf && len - i >= 2 &&
		    (p[i + 1] & 0xc0) == 0x80) {
			cp = (utf8proc_int32_t)((ch & 0x1f) << 6 |
			    (p[i + 1] & 0x3f));
			k = 2;
		} else if (ch >= 0xe1 && ch <= 0xef && ch != 0xed &&
		    len - i >= 3 && (p[i + 1] & 0xc0) == 0x80 &&
		    (p[i + 2] & 0xc0) == 0x80) {
			cp = (utf8proc_int32_t)((ch & 0x0f) << 12 |
			    (p[i + 1] & 0x3f) << 6 | (p[i + 2] & 0x3f));
			k = 3;
		} else if ((k = utf8proc_iterate(p + i,
		    (utf8proc_ssize_t)(len - i), &cp)) <= 0) {
			errno = EILSEQ;
			return -1;
		}
		if (cp < 0x10000 && !atomic_load_explicit(&cache_off,
		    memory_order_relaxed) &&
		    (pg = cpage_get((uint32_t)cp, skel)) != NULL) {
			e = &pg->e[cp & (PAGE_SIZE - 1)];
			c = pg->pool + e->off;
			if (scratch_reserve(s, e->n) == -1)
				return -1;
			if (skel) {
				struct unit	*u = s->u + s->n;

				for (j = 0; j < e->n; j++) {
					u[j].cp = c[j].cp;
					u[j].cls = c[j].cls;
					u[j].a = (uint32_t)i;
					u[j].b = (uint32_t)(i + (size_t)k);
					s->wide += c[j].cp >= 0x80;
					s->leet |= ascii_leet[c[j].cp & 127] &
					    (0U - (c[j].cp < 128));
				}
				s->n += e->n;
				i += (size_t)k;
				continue;
			}
			for (j = 0; j < e->n; j++) {
				if (!cp_joins(c[j].cp, c[j].cls)) {
					if (seg + 1 < s->n)
						compose_cached(s, seg, mp, memo);
					seg = s->n;
				}
				memo = NULL;
				if (push(s, c[j].cp, c[j].cls, i,
				    i + (size_t)k) == -1)
					return -1;
			}
			if (e->tail != TAIL_NONE) {
				memo = e;
				mp = pg;
			}
			i += (size_t)k;
			continue;
		}
		memo = NULL;
		m = utf8proc_decompose_char(cp, dst, 32, opt, &bound);
		if (m < 0 || m > 32)
			m = 0;
		for (j = 0; j < m; j++) {
			cls = cp_class((uint32_t)dst[j]);
			if (skel && dst[j] >= 0x80 &&
			    (conf = confusable((uint32_t)dst[j])) != NULL) {
				for (; *conf; conf++)
					if (push(s, (unsigned char)*conf,
					    ascii_cls[(unsigned char)*conf], i,
					    i + (size_t)k) == -1)
						return -1;
				seg = s->n - 1;
				continue;
			}
			if (!skel && !cp_joins((uint32_t)dst[j], cls)) {
				if (seg + 1 < s->n)
					compose_segment(s, seg);
				seg = s->n;
			}
			if (push(s, (uint32_t)dst[j], cls, i, i + (size_t)k) == -1)
				return -1;
		}
		i += (size_t)k;
	}
	if (!skel && seg + 1 < s->n)
		compose_cached(s, seg, mp, memo);
	return 0;
}

/* For the hot helpers called from more than one loop. */
#if defined(__GNUC__)
#define ALWAYS_INLINE	__attribute__((always_inline))
#else
#define ALWAYS_INLINE
#endif

/*
 * Keep V computed as a value: the compiler may not split the bitwise
 * test that computed it into branches (unpredictable at word boundaries).
 */
#if defined(__GNUC__)
#define MATERIALIZE(v)	__asm__("" : "+r"(v))
#else
#define MATERIALIZE(v)	(void)0
#endif

/* A one-character word at unit I (units [0, n)). */
static int
single(const struct unit *u, size_t n, size_t i)
{
	return (u[i].cls & (C_LETTER | C_DIGIT)) &&
	    (i == 0 || !(u[i - 1].cls & C_WORD)) &&
	    (i + 1 == n || !(u[i + 1].cls & C_WORD));
}

/*
 * Step 2: mark separators to drop.  Joins chains of one-character words;
 * every white space unit after the first of a run is dropped (the first
 * becomes a space covering the run, see emit).
 */
static void
collapse(struct unit *u, size_t n)
{
	size_t		 i, j, k, cnt, last;
	unsigned	 wp, wc, wn;

	if (n == 0)
		return;
	wp = 0;
	wc = (u[0].cls & C_WORD) != 0;
	for (i = 0; i < n; i++) {
		wn = i + 1 < n ? (u[i + 1].cls & C_WORD) != 0 : 0;
		/* one branch, rarely taken: a one-character word at i */
		if ((wc & ~wp & ~wn & ((u[i].cls & (C_LETTER | C_DIGIT)) != 0))
		    == 0) {
			wp = wc;
			wc = wn;
			continue;
		}
		/* follow the chain from the one-character word at i */
		cnt = 1;
		last = i;
		for (j = i + 1; ; ) {
			for (k = j; k < n && k - j < GAP_MAX + 1 &&
			    (u[k].cls & C_SEP); k++)
				;
			if (k == j || k - j > GAP_MAX || k == n ||
			    !single(u, n, k))
				break;
			cnt++;
			last = k;
			j = k + 1;
		}
		wp = wc;
		wc = wn;
		if (cnt < CHAIN_MIN)
			continue;
		for (k = i + 1; k < last; k++)
			if (u[k].cls & C_SEP)
				u[k].cls = C_DROP;
		i = last;
		wp = 1;
		wc = i + 1 < n ? (u[i + 1].cls & C_WORD) != 0 : 0;
	}
}

static char
leet(uint32_t cp)
{
	switch (cp) {
	case '0': return 'o';
	case '1': return 'i';
	case '3': return 'e';
	case '4': return 'a';
	case '5': return 's';
	case '6': return 'b';
	case '7': return 't';
	case '8': return 'b';
	case '9': return 'g';
	case '@': return 'a';
	case '$': return 's';
	case '!': return 'i';
	case '|': return 'l';
	case '+': return 't';
	case '(': return 'c';
	default: return 0;
	}
}

/*
 * Skeleton: in each word (a run of letters, digits and leet symbols, the
 * dropped separators of a joined chain skipped) that holds an ASCII letter,
 * digits, '$' and '@' become letters (0 o, 1 i, 3 e, 4 a, 5 s, 6 b, 7 t,
 * 8 b, 9 g, @ a, $ s), and so do '!' (i), '|' (l), '+' (t), '(' (c) between two
 * characters of the word.
 */
#define LEET_TOKEN(t)	(((t).cls & C_WORD) || \
			    ((t).cp < 128 && ascii_leet[(t).cp]))
#define IN_WORD(t)	((t).cls == C_DROP || LEET_TOKEN(t))

static void
leet_fold(struct unit *u, size_t n)
{
	size_t	 i, j, k, nx, x;
	int	 letter;
	char	 l;

	for (x = 0; x < n; x++) {
		/* the next leet character: rare, one predictable test */
		if ((u[x].cp >= 128 || ascii_leet[u[x].cp] == 0) ||
		    u[x].cls == C_DROP)
			continue;
		/*
		 * The word around it: from its first word character or leet
		 * character to the next unit that is neither (the dropped
		 * separators of a joined chain belong to the word).
		 */
		for (i = x; i > 0 && IN_WORD(u[i - 1]); i--)
			;
		while (u[i].cls == C_DROP)
			i++;
		for (j = x + 1; j < n && IN_WORD(u[j]); j++)
			;
		letter = 0;
		for (k = i; k < j; k++)
			if (u[k].cls != C_DROP && u[k].cp < 128 &&
			    (u[k].cls & C_LETTER))
				letter = 1;
		x = j;		/* not a leet character, nor in the word */
		if (letter) {
			for (k = i; k < j; k++) {
				if (u[k].cls == C_DROP || u[k].cp >= 128 ||
				    !(l = leet(u[k].cp)))
					continue;
				if (u[k].cls & C_PUNCT && u[k].cp != '$' &&
				    u[k].cp != '@') {
					nx = k + 1;
					while (nx < j && u[nx].cls == C_DROP)
						nx++;
					if (k == i || nx >= j)
						continue;
				}
				u[k].cp = (unsigned char)l;
				u[k].cls = C_LETTER;
			}
		}
	}
}

static size_t
utf8_put(uint32_t cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Step 3: write the units of S into OUT, with the maps when MAPS. */
static int
emit(const struct scratch *s, struct normtext *out, int maps)
{
	const struct unit *u = s->u;
	size_t		 n = s->n, i, j, o = 0, k, cap = 0;
	size_t		 rep_pos = 0, rep_len = 0, rep_second = 0;
	uint32_t	 rep_cp = 0, cp, cls;
	unsigned	 rep_cnt = 0, sp, prev_sp = 0, isl, hit;
	char		*os;
	size_t		*ost, *oen;

	cap = n + 3 * s->wide;		/* UTF-8 bytes, at most */
	out->s = malloc(cap + 1);
	if (maps) {
		out->start = malloc((cap + 1) * sizeof(size_t));
		out->end = malloc((cap + 1) * sizeof(size_t));
	}
	if (out->s == NULL || (maps && (out->start == NULL ||
	    out->end == NULL)))
		return -1;
	os = out->s;
	ost = out->start;
	oen = out->end;
	/*
	 * One unit at a time with few data-dependent branches: a white space
	 * unit after another (dropped units between them skipped) only
	 * stretches the space already written over the run.
	 */
	for (i = 0; i < n; i++) {
		cls = u[i].cls;
		if (cls == C_DROP)
			continue;
		sp = cls == C_SPACE;
		hit = sp & prev_sp;
		MATERIALIZE(hit);
		if (hit) {
			if (maps)
				oen[o - 1] = u[i].b;
			continue;
		}
		prev_sp = sp;
		cp = u[i].cp;
		cp ^= (cp ^ ' ') & (0U - sp);	/* ' ' for white space, no branch */
		isl = (cls & C_LETTER) != 0;
		hit = isl & (rep_cnt > 0) & (cp == rep_cp);
		MATERIALIZE(hit);
		if (hit) {
			if (++rep_cnt >= REPEAT_MIN) {
				o = rep_second;	/* forget the pair's second */
				for (k = rep_pos; maps && k < rep_pos + rep_len;
				    k++)
					oen[k] = u[i].b;
				continue;
			}
			rep_second = o;
		} else {
			/* a letter starts a run; anything else ends one */
			rep_cp = cp;
			rep_cnt = isl;
			rep_pos = o;
		}
		if (cp < 0x80) {
			rep_len = rep_cnt == 1 ? 1 : rep_len;
			os[o] = (char)cp;
			if (maps) {
				ost[o] = u[i].a;
				oen[o] = u[i].b;
			}
			o++;
			continue;
		}
		k = utf8_put(cp, os + o);
		rep_len = rep_cnt == 1 ? k : rep_len;
		for (j = o; maps && j < o + k; j++) {
			ost[j] = u[i].a;
			oen[j] = u[i].b;
		}
		o += k;
	}
	os[o] = '\0';
	out->len = o;
	return 0;
}

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

static int
normalize_raw(const char *text, size_t len, struct normtext *out)
{
	size_t	 i;

	out->s = malloc(len + 1);
	out->start = malloc((len + 1) * sizeof(size_t));
	out->end = malloc((len + 1) * sizeof(size_t));
	if (out->s == NULL || out->start == NULL || out->end == NULL)
		return -1;
	if (len > 0)
		memcpy(out->s, text, len);
	out->s[len] = '\0';
	for (i = 0; i < len; i++) {
		out->start[i] = i;
		out->end[i] = i + 1;
	}
	out->len = len;
	return 0;
}

/* A one-character word at byte I of ASCII text T. */
static int
ascii_single(const unsigned char *t, size_t len, size_t i)
{
	return (ascii_cls[t[i]] & (C_LETTER | C_DIGIT)) &&
	    (i == 0 || !(ascii_cls[t[i - 1]] & C_WORD)) &&
	    (i + 1 == len || !(ascii_cls[t[i + 1]] & C_WORD));
}

/*
 * collapse() for ASCII text T: set DROP[k] for the separators of every
 * chain of one-character words.  *DROP is allocated on the first chain.
 * Returns 0, -1 on allocation failure, or 1 when T is not all ASCII.
 */
static int
ascii_collapse(const unsigned char *t, size_t len, unsigned char **drop)
{
	size_t		 i, j, k, cnt, last;
	unsigned	 fp, fc, fn;

	if (len == 0)
		return 0;
	/* ascii_flag: 1 word character, 2 letter or digit; 0 past the end */
	fp = 0;
	fc = ascii_flag[t[0]];
	for (i = 0; i < len; i++) {
		if (t[i] >= 0x80)
			goto nonascii;
		fn = i + 1 < len ? ascii_flag[t[i + 1]] : 0;
		/* a one-character word: rare, one predictable branch */
		if (((fc >> 1) & ~fp & ~fn & 1) == 0) {
			fp = fc;
			fc = fn;
			continue;
		}
		cnt = 1;
		last = i;
		for (j = i + 1; ; ) {
			for (k = j; k < len && k - j < GAP_MAX + 1 &&
			    (ascii_cls[t[k]] & C_SEP); k++)
				;
			if (k == j || k - j > GAP_MAX || k == len ||
			    !ascii_single(t, len, k))
				break;
			cnt++;
			last = k;
			j = k + 1;
		}
		fp = fc;
		fc = fn;
		if (cnt < CHAIN_MIN)
			continue;
		if (*drop == NULL && (*drop = calloc(len, 1)) == NULL)
			return -1;
		for (k = i + 1; k < last; k++)
			if (ascii_cls[t[k]] & C_SEP)
				(*drop)[k] = 1;
		/* go on after the chain */
		for (; i < last; i++)
			if (t[i + 1] >= 0x80)
				goto nonascii;
		fp = ascii_flag[t[last]];
		fc = last + 1 < len ? ascii_flag[t[last + 1]] : 0;
	}
	return 0;
nonascii:
	free(*drop);
	*drop = NULL;
	return 1;
}

/*
 * The number of one-character words in the chain from the one at byte I
 * of ASCII text T, as ascii_collapse() counts them.
 */
static size_t
ascii_chain(const unsigned char *t, size_t len, size_t i)
{
	size_t	 j, k, cnt = 1;

	for (j = i + 1; ; ) {
		for (k = j; k < len && k - j < GAP_MAX + 1 &&
		    (ascii_cls[t[k]] & C_SEP); k++)
			;
		if (k == j || k - j > GAP_MAX || k == len ||
		    !ascii_single(t, len, k))
			break;
		cnt++;
		j = k + 1;
	}
	return cnt;
}

#define ONES	0x0101010101010101ULL
#define HIGH	0x8080808080808080ULL

/* 0x80 in each byte of X that is zero, else 0. */
static inline uint64_t
swar_zero(uint64_t x)
{
	return ~(((x & ~HIGH) + ~HIGH) | x | ~HIGH);
}

/*
 * The tests of ascii_block() below on the first R bytes (2 <= R <= 8) of
 * the eight at T[I] (I + 8 <= the text's length), NF the ascii_flag of
 * what follows them (of the first unit of the code point after, when that
 * is outside ASCII).  Bytes from R on are ignored (they may be anything);
 * O[0..8) is written, O[0..R) is the output.
 */
static inline ALWAYS_INLINE int
ascii_block_n(const unsigned char *t, size_t i, unsigned r, unsigned fp,
    unsigned nf, unsigned prev_sp, unsigned rep_cnt, unsigned char rep_c,
    char *o)
{
	uint64_t	 w, l, letter, space, eq, nl, m;
	unsigned char	 l0, l1;

	memcpy(&w, t + i, 8);
	m = r >= 8 ? HIGH : HIGH & ((1ULL << (8 * r)) - 1);
	l = w | (ONES * 0x20);
	/*
	 * Bytes in ASCII cannot carry; a carry out of a byte from R on (outside
	 * ASCII) reaches only the bytes above it, which are ignored too.
	 */
	letter = (l + ONES * (0x80 - 'a')) & ~(l + ONES * (0x80 - 'z' - 1)) &
	    m;
	nl = swar_zero(w ^ (ONES * '\n')) & m;
	space = (swar_zero(w ^ (ONES * ' ')) & m) | nl;
	if ((letter | space) != m)
		return 0;
	if ((space & 0x80ULL) && prev_sp)
		return 0;		/* a space run from before i */
	if (space & (space << 8))
		return 0;		/* two spaces */
	if (letter & (space << 8) & (space >> 8))
		return 0;		/* a one-character word inside */
	if ((space & (0x80ULL << 8)) && !(fp & 1))
		return 0;		/* one at the start */
	if ((space & (0x80ULL << (8 * (r - 2)))) && !(nf & 1))
		return 0;		/* one at the end */
	eq = swar_zero(l ^ (l << 8)) & ~0xffULL & m;
	if (eq & (eq << 8))
		return 0;		/* three in a row */
	l0 = (unsigned char)l;
	l1 = (unsigned char)(l >> 8);
	if (rep_cnt > 0 && rep_c == l0 && (rep_cnt >= 2 || l1 == l0))
		return 0;		/* a run from before i */
	nl = (nl >> 7) * 0xff;		/* newlines become spaces */
	l = (l & ~nl) | (ONES * ' ' & nl);
	memcpy(o, &l, 8);
	return 1;
}

/*
 * For the normalized form's ASCII loop: 1 when the eight bytes of T at I
 * (I + 8 <= LEN) are ASCII letters and single spaces or newlines, with no
 * one-character word (FP: ascii_flag of the byte before I, 0 at the
 * start), no white space run (PREV_SP: the byte before is white space)
 * and no letter three times in a row (REP_CNT, REP_C: the run of letters
 * before I); then their output, the bytes lowercased and newlines made
 * spaces, is in O[0..8).  So each byte maps to itself and the loop may
 * take them at once.
 */
static inline ALWAYS_INLINE int
ascii_block(const unsigned char *t, size_t len, size_t i, unsigned fp,
    unsigned prev_sp, unsigned rep_cnt, unsigned char rep_c, char *o)
{
	uint64_t	 w;

	memcpy(&w, t + i, 8);
	if (w & HIGH)
		return 0;	/* the common way out, before any test */
	return ascii_block_n(t, i, 8, fp, i + 8 == len ? 0 :
	    ascii_flag[t[i + 8]], prev_sp, rep_cnt, rep_c, o);
}

#ifdef __SSE2__
#define BLOCK_MAX	16
/*
 * ascii_block_n() for R bytes, 2 <= R <= 16, of the sixteen at T[I] (I +
 * 16 <= the text's length), with SSE2: the same tests on bit masks of
 * the bytes.  O[0..16) is written, O[0..R) is the output.
 */
static inline ALWAYS_INLINE int
ascii_block_v(const unsigned char *t, size_t i, unsigned r, unsigned fp,
    unsigned nf, unsigned prev_sp, unsigned rep_cnt, unsigned char rep_c,
    char *o)
{
	__m128i		 v, l, nl;
	unsigned	 m, let, sp, eq;
	unsigned char	 l0, l1;

	v = _mm_loadu_si128((const __m128i *)(t + i));
	l = _mm_or_si128(v, _mm_set1_epi8(0x20));
	/* signed: bytes outside ASCII are below 'a' */
	let = (unsigned)_mm_movemask_epi8(_mm_and_si128(
	    _mm_cmpgt_epi8(l, _mm_set1_epi8('a' - 1)),
	    _mm_cmplt_epi8(l, _mm_set1_epi8('z' + 1))));
	nl = _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'));
	sp = (unsigned)_mm_movemask_epi8(_mm_or_si128(nl,
	    _mm_cmpeq_epi8(v, _mm_set1_epi8(' '))));
	m = (1U << r) - 1;
	let &= m;
	sp &= m;
	if ((let | sp) != m)
		return 0;
	if ((sp & 1) && prev_sp)
		return 0;		/* a space run from before i */
	if (sp & (sp << 1))
		return 0;		/* two spaces */
	if (let & (sp << 1) & (sp >> 1))
		return 0;		/* a one-character word inside */
	if ((sp & 2) && !(fp & 1))
		return 0;		/* one at the start */
	if ((sp >> (r - 2) & 1) && !(nf & 1))
		return 0;		/* one at the end */
	eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(l,
	    _mm_slli_si128(l, 1))) & m & ~1U;	/* byte j == byte j-1 */
	if (eq & (eq << 1))
		return 0;		/* three in a row */
	l0 = t[i] | 0x20;
	l1 = t[i + 1] | 0x20;
	if (rep_cnt > 0 && rep_c == l0 && (rep_cnt >= 2 || l1 == l0))
		return 0;		/* a run from before i */
	/* newlines become spaces */
	l = _mm_or_si128(_mm_andnot_si128(nl, l),
	    _mm_and_si128(nl, _mm_set1_epi8(' ')));
	_mm_storeu_si128((__m128i *)o, l);
	return 1;
}
#else
#define BLOCK_MAX	8
#endif

#define DROPPED(k)	(drop != NULL && drop[k])

/*
 * The same forms for all-ASCII text with no unit array: ASCII needs no
 * decomposition, and steps 2 and 3 run on the bytes (chains of
 * one-character words marked in DROP, rare and usually absent).  Returns
 * 0, -1 on allocation failure, or 1 for text with a byte outside ASCII,
 * which takes the general path.  tests/unit/test-normalize.c checks that
 * both paths agree.
 */
static int
normalize_ascii(const unsigned char *t, size_t len, int skel,
    struct normtext *out, unsigned *leetp, int maps)
{
	unsigned	 leet_seen = 0;

	size_t		 i, j, k, nx, b, o = 0, rep_pos = 0, rep_second = 0;
	unsigned	 rep_cnt = 0;
	unsigned char	 c, rep_c = 0, *drop = NULL;
	uint32_t	 cls;
	int		 letter, rv = -1;
	char		 l, *os;
	size_t		*ost, *oen;

	pthread_once(&scratch_once, scratch_init);
	if (skel)
		maps = 1;	/* only the normalized loop can leave them out */
	out->s = malloc(len + 1);
	if (maps) {
		out->start = malloc((len + 1) * sizeof(size_t));
		out->end = malloc((len + 1) * sizeof(size_t));
	}
	if (out->s == NULL || (maps && (out->start == NULL ||
	    out->end == NULL)))
		goto done;
	/* local copies: stores through them cannot alias OUT */
	os = out->s;
	ost = out->start;
	oen = out->end;
	if (!skel) {
		/*
		 * The common case, normalized without chains: one loop with
		 * rarely taken branches (a byte outside ASCII, a one-character
		 * word, a second white space, a third repeat of a letter).
		 * The first chain of one-character words found sends the text
		 * to ascii_collapse() and the loop below.
		 */
		unsigned	 sp, prev_sp = 0, isl, fp = 0, fc, fn, one;

		fc = len > 0 ? ascii_flag[t[0]] : 0;
		for (i = 0; i < len; i++) {
			/* eight bytes of plain words at once when they allow */
			while (len - i >= 8 && ascii_block(t, len, i, fp,
			    prev_sp, rep_cnt, rep_c, os + o)) {
				for (k = 0; maps && k < 8; k++) {
					ost[o + k] = i + k;
					oen[o + k] = i + k + 1;
				}
				c = (unsigned char)os[o + 7];
				if (c == ' ') {
					rep_cnt = 0;
					rep_pos = o + 7;
				} else if (c == (unsigned char)os[o + 6]) {
					rep_cnt = 2;
					rep_pos = o + 6;
				} else {
					rep_cnt = 1;
					rep_pos = o + 7;
				}
				rep_c = c;
				prev_sp = c == ' ';
				o += 8;
				i += 8;
				fp = ascii_flag[t[i - 1]];
				fc = i < len ? ascii_flag[t[i]] : 0;
			}
			if (i == len)
				break;
			c = t[i];
			if (c >= 0x80) {
				rv = 1;
				goto done;
			}
			/* ascii_flag: 1 word character, 2 letter or digit */
			fn = i + 1 < len ? ascii_flag[t[i + 1]] : 0;
			one = (fc >> 1) & ~fp & ~fn & 1;
			fp = fc;
			fc = fn;
			if (one && ascii_chain(t, len, i) >= CHAIN_MIN)
				goto chains;
			cls = ascii_cls[c];
			leet_seen |= ascii_leet[c];
			sp = cls == C_SPACE;
			if (sp & prev_sp) {
				if (maps)	/* one space for the run */
					oen[o - 1] = i + 1;
				continue;
			}
			c = ascii_lower[c];
			isl = (cls & C_LETTER) != 0;
			/* bitwise, not &&: one branch, rarely taken */
			if (isl & (rep_cnt != 0) & (c == rep_c)) {
				if (++rep_cnt >= REPEAT_MIN) {
					if (rep_cnt == REPEAT_MIN)
						o--;	/* the pair's second */
					if (maps)
						oen[rep_pos] = i + 1;
					prev_sp = 0;
					continue;
				}
			} else {
				rep_cnt = isl;
				rep_c = c;
				rep_pos = o;
			}
			os[o] = sp ? ' ' : (char)c;
			if (maps) {
				ost[o] = i;
				oen[o] = i + 1;
			}
			o++;
			prev_sp = sp;
		}
		goto finish;
	}
chains:
	if (!maps) {		/* the loop below always writes them */
		out->start = malloc((len + 1) * sizeof(size_t));
		out->end = malloc((len + 1) * sizeof(size_t));
		if (out->start == NULL || out->end == NULL)
			goto done;
		ost = out->start;
		oen = out->end;
	}
	o = 0;
	rep_cnt = 0;
	rep_c = 0;
	rep_pos = 0;
	if ((rv = ascii_collapse(t, len, &drop)) != 0)
		goto done;
	rv = -1;
	for (i = 0; i < len; ) {
		if (DROPPED(i)) {
			i++;
			continue;
		}
		cls = ascii_cls[t[i]];
		if (cls == C_SPACE) {
			for (b = i + 1, j = i + 1; j < len &&
			    (ascii_cls[t[j]] == C_SPACE || DROPPED(j)); j++)
				if (!DROPPED(j))
					b = j + 1;
			os[o] = ' ';
			ost[o] = i;
			oen[o] = b;
			o++;
			rep_cnt = 0;
			i = j;
			continue;
		}
		/* skeleton: the word (letters, digits, leet symbols) at i */
		j = i + 1;
		letter = 0;
		if (skel && ((cls & C_WORD) || ascii_leet[t[i]])) {
			for (j = i; j < len; j++) {
				if (DROPPED(j))
					continue;
				if (!((ascii_cls[t[j]] & C_WORD) || ascii_leet[t[j]]))
					break;
				if (ascii_cls[t[j]] & C_LETTER)
					letter = 1;
			}
		}
		for (k = i; k < j; k++) {
			if (DROPPED(k))
				continue;
			c = ascii_lower[t[k]];
			cls = ascii_cls[t[k]];
			if (letter && (l = (char)ascii_leet[c]) != 0) {
				nx = k + 1;
				while (nx < j && DROPPED(nx))
					nx++;
				if (!(cls & C_PUNCT) || c == '$' || c == '@' ||
				    (k != i && nx < j)) {
					c = (unsigned char)l;
					cls = C_LETTER;
				}
			}
			if ((cls & C_LETTER) && rep_cnt > 0 && c == rep_c) {
				if (++rep_cnt >= REPEAT_MIN) {
					o = rep_second;
					oen[rep_pos] = k + 1;
					continue;
				}
				rep_second = o;
			} else if (cls & C_LETTER) {
				rep_c = c;
				rep_cnt = 1;
				rep_pos = o;
			} else
				rep_cnt = 0;
			os[o] = (char)c;
			ost[o] = k;
			oen[o] = k + 1;
			o++;
		}
		i = j;
	}
finish:
	os[o] = '\0';
	out->len = o;
	rv = 0;
	if (leetp != NULL)	/* only the tight loop tracks it */
		*leetp = skel || drop != NULL || leet_seen != 0;
done:
	free(drop);
	return rv;
}

#define TOKEN_CHAR(c)	((ascii_cls[c] & C_WORD) || ascii_leet[c])

int
normalize_skeleton_same(const char *text, size_t len)
{
	const unsigned char *t = (const unsigned char *)text;
	size_t		 i, l, r, k;
	int		 letter;

	pthread_once(&scratch_once, scratch_init);
	for (i = 0; i < len; i++) {
		/* most bytes: two predictable tests */
		if (t[i] >= 0x80)
			return 0;
		if (ascii_leet[t[i]] == 0 && !(ascii_cls[t[i]] & C_DIGIT))
			continue;
		/* a digit alone may join a chain of one-character words */
		if ((ascii_cls[t[i]] & C_DIGIT) &&
		    (i == 0 || !(ascii_cls[t[i - 1]] & C_WORD)) &&
		    (i + 1 == len || !(ascii_cls[t[i + 1]] & C_WORD)))
			return 0;
		if (ascii_leet[t[i]] == 0)
			continue;	/* 2: never folded */
		/* the word around it (letters, digits, leet symbols) */
		for (l = i; l > 0 && TOKEN_CHAR(t[l - 1]); l--)
			;
		for (r = i + 1; r < len && TOKEN_CHAR(t[r]); r++)
			;
		if ((ascii_cls[t[i]] & C_PUNCT) && t[i] != '$' && t[i] != '@' &&
		    (i == l || i + 1 == r))
			continue;	/* '!' '|' '+' '(' at a word's edge */
		for (letter = 0, k = l; k < r && !letter; k++)
			letter = (ascii_cls[t[k]] & C_LETTER) != 0;
		if (letter)
			return 0;
	}
	return 1;
}

/*
 * The fast path for text outside ASCII: steps 1-3 in one pass over the
 * text, with no unit array.  Each code point of the BMP takes the units
 * its decoding gives it alone (struct fent: decode() run on that one code
 * point, cached in pages like struct cpage); that is what decode() gives
 * it in any text unless a unit joins it to the code point before it (a
 * combining mark, a Hangul vowel), which the fast path leaves to the
 * general one.  Steps 2 and 3 run on the stream of units: a one-character
 * word that starts a chain, rare, also sends the text to the general
 * path; a word with a leet character is looked at to its end when that
 * character is reached (see fast_leet).  tests/unit/test-normalize.c and
 * fuzz/fuzz-normalize.c check that both paths agree.
 */
#define FE_MAX		8	/* units of a code point the fast path takes */

struct fu {
	uint32_t	 cp;
	uint8_t		 cls;
	uint8_t		 len;		/* UTF-8 bytes of cp: */
	char		 u8[4];
};

struct fent {
	uint16_t	 off;		/* pool index of the units */
	uint8_t		 n;		/* units */
	uint8_t		 ok:1;		/* 0: only the general path knows */
	uint8_t		 join:1;	/* normalized: its units join the segment before */
	uint8_t		 plain:1;	/* one unit, a letter */
};

struct fpage {
	struct fent	 e[PAGE_SIZE];
	struct fu	 pool[];
};

static _Atomic(void *) fpages[2][NPAGES];	/* struct fpage: normalized,
						   skeleton */

static struct fpage *
fpage_build(unsigned pg, int skel)
{
	struct scratch	 one;
	struct fpage	*p;
	struct fu	*tmp;
	unsigned char	 b[4];
	size_t		 np = 0, k, j;
	uint32_t	 cp;
	unsigned	 c;

	memset(&one, 0, sizeof(one));
	if ((tmp = malloc(PAGE_SIZE * FE_MAX * sizeof(*tmp))) == NULL)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto done;
	for (c = 0; c < PAGE_SIZE; c++) {
		cp = (pg << PAGE_BITS) | c;
		p->e[c].off = (uint16_t)np;
		if (cp < 0x80 || (cp >= 0xd800 && cp <= 0xdfff))
			continue;	/* not ok: never looked up */
		k = utf8_put(cp, (char *)b);
		one.n = 0;
		if (decode(&one, b, k, skel ? FORM_SKELETON :
		    FORM_NORMALIZED) == -1 || one.n > FE_MAX)
			continue;
		if (!skel && one.n > 0 && cp_joins(one.u[0].cp, one.u[0].cls)) {
			/* taken only when every unit joins */
			for (j = 1; j < one.n; j++)
				if (!cp_joins(one.u[j].cp, one.u[j].cls))
					break;
			if (j < one.n)
				continue;
			p->e[c].join = 1;
		}
		for (j = 0; j < one.n; j++, np++) {
			tmp[np].cp = one.u[j].cp;
			tmp[np].cls = (uint8_t)one.u[j].cls;
			memset(tmp[np].u8, 0, sizeof(tmp[np].u8));
			tmp[np].len = (uint8_t)utf8_put(one.u[j].cp,
			    tmp[np].u8);
		}
		p->e[c].n = (uint8_t)one.n;
		p->e[c].ok = 1;
		p->e[c].plain = one.n == 1 && one.u[0].cls == C_LETTER &&
		    !p->e[c].join;
	}
	p = page_trim(p, offsetof(struct fpage, pool), tmp, np,
	    sizeof(*tmp));
done:
	free(one.u);
	free(tmp);
	return p;
}

/* The fast path's page of BMP code point CP in FORM, or NULL (no memory). */
static const struct fpage *
fpage_get(uint32_t cp, int skel)
{
	_Atomic(void *)	*slot = &fpages[skel][cp >> PAGE_BITS];
	struct fpage	*p;

	if ((p = atomic_load_explicit(slot, memory_order_acquire)) != NULL)
		return p;
	if ((p = fpage_build(cp >> PAGE_BITS, skel)) == NULL)
		return NULL;
	return page_publish(slot, p);
}

/*
 * The code point at T[*I] (*I < LEN, a byte outside ASCII): its entry,
 * *U its units, *CPP the code point, *I moved past it.  NULL when the fast
 * path cannot take it (outside the BMP, more units than FE_MAX, no
 * memory).
 */
static inline ALWAYS_INLINE const struct fent *
fast_cp(const unsigned char *t, size_t len, size_t *i, int skel,
    const struct fu **u, uint32_t *cpp)
{
	const struct fpage *pg;
	const struct fent *e;
	uint32_t	 cp;
	unsigned char	 ch = t[*i];
	size_t		 k;

	if (len - *i >= 3) {
		/*
		 * The same tests with no branch on the length of the
		 * sequence (scripts of two and three bytes alternate).
		 */
		uint32_t	 b1 = t[*i + 1], b2 = t[*i + 2], c2, c3, bad;

		k = ch >= 0xc2 && ch <= 0xdf ? 2 : ch >= 0xe0 && ch <= 0xef ?
		    3 : 0;
		c2 = (uint32_t)(ch & 0x1f) << 6 | (b1 & 0x3f);
		c3 = (uint32_t)(ch & 0x0f) << 12 | (b1 & 0x3f) << 6 |
		    (b2 & 0x3f);
		bad = (k == 0) | ((b1 & 0xc0) != 0x80) | ((k == 3) &
		    (((b2 & 0xc0) != 0x80) | (c3 < 0x800) |
		    (c3 - 0xd800 < 0x800)));
		if (bad)
			return NULL;
		cp = k == 3 ? c3 : c2;
	} else if (ch >= 0xc2 && ch <= 0xdf && len - *i >= 2 &&
	    (t[*i + 1] & 0xc0) == 0x80) {
		cp = (uint32_t)(ch & 0x1f) << 6 | (t[*i + 1] & 0x3f);
		k = 2;
	} else if (ch >= 0xe0 && ch <= 0xef && len - *i >= 3 &&
	    (t[*i + 1] & 0xc0) == 0x80 && (t[*i + 2] & 0xc0) == 0x80) {
		cp = (uint32_t)(ch & 0x0f) << 12 |
		    (uint32_t)(t[*i + 1] & 0x3f) << 6 | (t[*i + 2] & 0x3f);
		k = 3;
		if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
			return NULL;
	} else
		return NULL;
	if ((pg = fpage_get(cp, skel)) == NULL)
		return NULL;
	e = &pg->e[cp & (PAGE_SIZE - 1)];
	if (!e->ok)
		return NULL;
	*u = pg->pool + e->off;
	*cpp = cp;
	*i += k;
	return e;
}

/* The units after a point of the text, one at a time. */
struct fit {
	const unsigned char *t;
	size_t		 len, i;	/* next code point */
	const struct fu	*u;		/* the rest of the current one */
	int		 n, skel;
};

/*
 * The next unit: its class (0 past the end, -1 when the fast path cannot
 * say, as for units that join the segment before), its code point in *CP.
 */
static int
fit_next(struct fit *it, uint32_t *cp)
{
	const struct fent *e;
	uint32_t	 c32;
	unsigned char	 c;

	while (it->n == 0) {
		if (it->i >= it->len)
			return 0;
		c = it->t[it->i];
		if (c < 0x80) {
			it->i++;
			*cp = ascii_lower[c];
			return ascii_cls[c];
		}
		if ((e = fast_cp(it->t, it->len, &it->i, it->skel, &it->u,
		    &c32)) == NULL || e->join)
			return -1;
		it->n = e->n;
	}
	it->n--;
	*cp = it->u->cp;
	return (it->u++)->cls;
}

/*
 * The number of one-character words in the chain that starts at the one
 * before IT, as collapse() counts them up to CHAIN_MIN; -1 when the fast
 * path cannot say.
 */
static int
fast_chain(struct fit *it)
{
	uint32_t	 cp;
	int		 cls, ncls, cnt = 1, k;

	cls = fit_next(it, &cp);
	for (;;) {
		for (k = 0; cls > 0 && (cls & C_SEP) && k <= GAP_MAX; k++)
			cls = fit_next(it, &cp);
		if (cls < 0)
			return -1;
		if (k == 0 || k > GAP_MAX || cls == 0 ||
		    !(cls & (C_LETTER | C_DIGIT)))
			break;
		if ((ncls = fit_next(it, &cp)) < 0)
			return -1;
		if (ncls & C_WORD)
			break;
		if (++cnt >= CHAIN_MIN)
			break;
		cls = ncls;
	}
	return cnt;
}

struct fstate {
	const unsigned char *t;
	size_t		 len;
	int		 skel, maps;
	char		*os;
	size_t		*ost, *oen, o, cap;
	uint32_t	 pcls;		/* class of the unit before */
	/* step 3 */
	unsigned	 prev_sp, rep_cnt;
	uint32_t	 rep_cp;
	size_t		 rep_pos, rep_len, rep_second;
	/* skeleton: the word of letters, digits and leet characters */
	unsigned	 inw;		/* the unit before is in one */
	unsigned	 wlet;		/* it holds an ASCII letter */
	unsigned	 known;		/* its end is known: */
	unsigned	 fold;		/* fold its leet characters */
	size_t		 left;		/* its units after this one */
};

#define LEET_CP(cp)	((cp) < 128 && ascii_leet[cp])

/*
 * Skeleton, step 2: the leet character CP (class *CLS) of a word, with IT
 * after it.  The first in its word looks at the rest of the word; any of
 * them may then be folded as leet_fold() folds it.  0, or -1 when the
 * fast path cannot say.
 */
static int
fast_leet(struct fstate *st, uint32_t *cp, uint32_t *cls, struct fit *it,
    unsigned first)
{
	uint32_t	 c;
	int		 k;
	size_t		 n = 0;
	unsigned	 letter = st->wlet;

	if (!st->known) {
		/* the first leet character of the word: to the word's end */
		while ((k = fit_next(it, &c)) > 0 &&
		    ((k & C_WORD) || LEET_CP(c))) {
			n++;
			letter |= c < 128 && (k & C_LETTER);
		}
		if (k < 0)
			return -1;
		st->known = 1;
		st->left = n;
		st->fold = letter;
	}
	if (!st->fold)
		return 0;
	if ((*cls & C_PUNCT) && *cp != '$' && *cp != '@' &&
	    (first || st->left == 0))
		return 0;	/* '!' '|' '+' '(' at an edge of the word */
	*cp = (unsigned char)ascii_leet[*cp];
	*cls = C_LETTER;
	return 0;
}

static int
fast_grow(struct fstate *st, size_t need)
{
	size_t	 ncap;
	char	*ns;
	size_t	*nst, *nen;

	if (st->cap - st->o >= need)
		return 0;
	ncap = (st->o + need) * 2;
	if ((ns = realloc(st->os, ncap)) == NULL)
		return -1;
	st->os = ns;
	if (st->maps) {
		if ((nst = reallocarray(st->ost, ncap, sizeof(size_t))) == NULL)
			return -1;
		st->ost = nst;
		if ((nen = reallocarray(st->oen, ncap, sizeof(size_t))) == NULL)
			return -1;
		st->oen = nen;
	}
	st->cap = ncap;
	return 0;
}

/*
 * Step 2 for a unit that may start a chain (a letter or digit after no
 * word character) or, in the skeleton, one of a word with a leet
 * character: *CP and *CLS of the unit, folded; AT starts at the unit
 * after it, whose class is HINT when known (0 at the end), else -1.  0,
 * or 1 when the text needs the general path.
 */
static int
fast_word(struct fstate *st, uint32_t *cp, uint32_t *cls,
    const struct fit *at, int hint)
{
	struct fit	 it;
	unsigned	 first;
	uint32_t	 ncp;
	int		 ncls;

	if ((*cls & (C_LETTER | C_DIGIT)) && !(st->pcls & C_WORD)) {
		it = *at;
		if ((ncls = hint) < 0 && (ncls = fit_next(&it, &ncp)) < 0)
			return 1;
		if (!(ncls & C_WORD)) {
			it = *at;
			if ((ncls = fast_chain(&it)) < 0 || ncls >= CHAIN_MIN)
				return 1;
		}
	}
	st->pcls = *cls;
	if (!st->skel)
		return 0;
	if (!((*cls & C_WORD) || LEET_CP(*cp))) {
		st->inw = 0;
		st->wlet = 0;
		st->known = 0;
		return 0;
	}
	first = !st->inw;
	st->inw = 1;
	if (st->known)
		st->left--;
	if (LEET_CP(*cp)) {
		it = *at;
		if (fast_leet(st, cp, cls, &it, first) == -1)
			return 1;
	} else if (*cp < 128 && (*cls & C_LETTER))
		st->wlet = 1;
	return 0;
}

/* Step 3 for one unit: CP of class CLS from original bytes [A, B). */
static inline ALWAYS_INLINE void
fast_emit(struct fstate *st, uint32_t cp, uint32_t cls, size_t a, size_t b)
{
	unsigned	 sp, isl, hit;
	size_t		 k, j;

	sp = cls == C_SPACE;
	if (sp & st->prev_sp) {
		if (st->maps)
			st->oen[st->o - 1] = b;
		return;
	}
	st->prev_sp = sp;
	if (sp)
		cp = ' ';
	isl = (cls & C_LETTER) != 0;
	hit = isl & (st->rep_cnt > 0) & (cp == st->rep_cp);
	if (hit) {
		if (++st->rep_cnt >= REPEAT_MIN) {
			st->o = st->rep_second;
			for (k = st->rep_pos; st->maps &&
			    k < st->rep_pos + st->rep_len; k++)
				st->oen[k] = b;
			return;
		}
		st->rep_second = st->o;
	} else {
		st->rep_cp = cp;
		st->rep_cnt = isl;
		st->rep_pos = st->o;
	}
	if (cp < 0x80) {
		st->os[st->o] = (char)cp;
		k = 1;
	} else
		k = utf8_put(cp, st->os + st->o);
	if (st->rep_cnt == 1)
		st->rep_len = k;
	if (st->maps)
		for (j = st->o; j < st->o + k; j++) {
			st->ost[j] = a;
			st->oen[j] = b;
		}
	st->o += k;
}

/*
 * One unit: CP of class CLS from original bytes [A, B); AT starts at the
 * unit after it, HINT its class or -1 (see fast_word).  0, or 1 when the
 * text needs the general path.
 */
static inline ALWAYS_INLINE int
fast_unit(struct fstate *st, uint32_t cp, uint32_t cls, size_t a, size_t b,
    const struct fit *at, int hint)
{
	/* a letter or digit after no word character and before none */
	if (((cls & (C_LETTER | C_DIGIT)) && !(st->pcls & C_WORD) &&
	    !(hint > 0 && (hint & C_WORD))) ||
	    (st->skel && (LEET_CP(cp) || st->known))) {
		if (fast_word(st, &cp, &cls, at, hint) != 0)
			return 1;
	} else {
		st->pcls = cls;
		if (st->skel) {
			st->inw = (cls & C_WORD) != 0;
			st->wlet |= cp < 128 && (cls & C_LETTER);
			st->wlet &= st->inw;
		}
	}
	fast_emit(st, cp, cls, a, b);
	return 0;
}

/*
 * 1 when the first unit after byte J, past code points without units,
 * joins the segment before it; 0 when not; -1 when the fast path cannot
 * say.
 */
static int
fast_joins(const unsigned char *t, size_t len, size_t j)
{
	const struct fent *e;
	const struct fu	*u;
	uint32_t	 cp;

	while (j < len && t[j] >= 0x80) {
		if ((e = fast_cp(t, len, &j, 0, &u, &cp)) == NULL)
			return -1;
		if (e->n > 0)
			return e->join;
	}
	return 0;
}

#define SEG_MAX		64	/* as compose_segment() */
#define BLOCK_RETRY	4	/* bytes before another eight-byte try */

/*
 * Normalized: the segment SEG (N units, a starter and what joined it so
 * far) with every code point after byte *IP that joins it, composed as
 * decode() composes it, through step 2 and 3; *IP moved past them.  0, -1
 * on allocation failure, or 1 when the text needs the general path.
 */
static int
fast_segment(struct fstate *st, struct unit *seg, size_t n, size_t *ip)
{
	struct scratch	 one;
	struct fit	 it;
	struct fu	 cu[SEG_MAX];
	const struct fent *e;
	const struct fu	*u;
	uint32_t	 cp;
	size_t		 i = *ip, j = *ip, a, k;
	int		 rv;

	while (j < st->len && st->t[j] >= 0x80) {
		a = j;
		if ((e = fast_cp(st->t, st->len, &j, 0, &u, &cp)) == NULL)
			return 1;
		if (e->n == 0)
			continue;
		if (!e->join)
			break;
		if (n + e->n > SEG_MAX)
			return 1;
		for (k = 0; k < e->n; k++, n++) {
			seg[n].cp = u[k].cp;
			seg[n].cls = u[k].cls;
			seg[n].a = (uint32_t)a;
			seg[n].b = (uint32_t)j;
		}
		i = j;
	}
	*ip = i;
	memset(&one, 0, sizeof(one));
	one.u = seg;
	one.n = n;
	one.cap = SEG_MAX;
	compose_segment(&one, 0);
	if (fast_grow(st, st->len - i + 1 + 4 * one.n) == -1)
		return -1;
	for (k = 0; k < one.n; k++) {
		cu[k].cp = seg[k].cp;
		cu[k].cls = (uint8_t)seg[k].cls;
	}
	memset(&it, 0, sizeof(it));
	it.t = st->t;
	it.len = st->len;
	it.i = i;
	for (k = 0; k < one.n; k++) {
		it.u = cu + k + 1;
		it.n = (int)(one.n - k - 1);
		if ((rv = fast_unit(st, seg[k].cp, seg[k].cls, seg[k].a,
		    seg[k].b, &it, k + 1 < one.n ? (int)cu[k + 1].cls : -1)) != 0)
			return rv;
	}
	return 0;
}

/*
 * Steps 1-3 on any text in one pass.  Returns 0, -1 on allocation
 * failure, or 1 when the text needs the general path.
 */
static int
normalize_fast(const unsigned char *t, size_t len, int skel,
    struct normtext *out, int maps)
{
	struct fstate	 st;
	struct fit	 it;
	struct unit	 seg[SEG_MAX];
	const struct fent *e, *ne = NULL;
	const struct cpage *rp;
	const struct cpent *re;
	const struct fu	*u, *nu = NULL;
	size_t		 i = 0, a, k, nat = 0, ni = 0, retry = 0;
	uint32_t	 cp, ncp = 0;
	int		 n, j, rv = -1, hint, jr;
	unsigned char	 c;

	if (atomic_load_explicit(&cache_off, memory_order_relaxed) ||
	    len >= UINT32_MAX)
		return 1;
	pthread_once(&scratch_once, scratch_init);
	memset(&st, 0, sizeof(st));
	st.t = t;
	st.len = len;
	st.skel = skel;
	st.maps = maps;
	/* room: one byte for each byte of ASCII left, and the NUL */
	st.cap = len + 16;
	st.os = malloc(st.cap);
	if (maps) {
		st.ost = malloc(st.cap * sizeof(size_t));
		st.oen = malloc(st.cap * sizeof(size_t));
	}
	if (st.os == NULL || (maps && (st.ost == NULL || st.oen == NULL)))
		goto done;
	memset(&it, 0, sizeof(it));
	it.t = t;
	it.len = len;
	it.skel = skel;
	while (i < len) {
		c = t[i];
		if (c < 0x80) {
			/*
			 * Up to eight bytes of plain words at once when they
			 * allow (the ASCII bytes before the next code point
			 * outside it, whose entry is then looked up once);
			 * after a refusal, not again for a few bytes.
			 */
			while (i >= retry && len - i >= 8 && !st.known) {
				uint64_t	 w;
				unsigned	 r, nf, fp;
				int		 ok;

				memcpy(&w, t + i, 8);
				r = (w & HIGH) ? (unsigned)__builtin_ctzll(w &
				    HIGH) >> 3 : 8;
				if (r == 0)
					break;
#ifdef __SSE2__
				/* sixteen when the text has them */
				if (r == 8 && len - i >= 16) {
					memcpy(&w, t + i + 8, 8);
					r += (w & HIGH) ?
					    (unsigned)__builtin_ctzll(w & HIGH) >>
					    3 : 8;
				}
#endif
				if (i + r == len)
					nf = 0;
				else if (t[i + r] < 0x80)
					nf = ascii_flag[t[i + r]];
				else {
					/* a unit that joins: the byte path */
					nat = ni = i + r;
					if ((ne = fast_cp(t, len, &ni, skel, &nu,
					    &ncp)) == NULL || ne->n == 0 ||
					    ne->join)
						break;
					nf = (nu[0].cls & C_WORD ? 1 : 0) |
					    (nu[0].cls & (C_LETTER | C_DIGIT) ?
					    2 : 0);
				}
				if (r == 1) {
					/* one white space before it */
					if (ascii_cls[t[i]] != C_SPACE ||
					    st.prev_sp)
						break;
					if (maps) {
						st.ost[st.o] = i;
						st.oen[st.o] = i + 1;
					}
					st.os[st.o] = ' ';
					st.rep_cnt = 0;
					st.rep_cp = ' ';
					st.rep_pos = st.o;
					st.prev_sp = 1;
					st.pcls = C_SPACE;
					st.inw = 0;
					st.wlet = 0;
					st.o++;
					i++;
					continue;
				}
				fp = (st.pcls & C_WORD ? 1 : 0) |
				    (st.pcls & (C_LETTER | C_DIGIT) ? 2 : 0);
				ok = 0;
#ifdef __SSE2__
				if (r > 8) {
					ok = ascii_block_v(t, i, r, fp, nf,
					    st.prev_sp, st.rep_cnt, st.rep_cp <
					    128 ? (unsigned char)st.rep_cp : 0,
					    st.os + st.o);
					if (!ok) {
						/* the first eight alone */
						r = 8;
						nf = ascii_flag[t[i + 8]];
					}
				}
#endif
				if (!ok && !ascii_block_n(t, i, r, fp, nf,
				    st.prev_sp, st.rep_cnt, st.rep_cp < 128 ?
				    (unsigned char)st.rep_cp : 0, st.os + st.o)) {
					retry = i + BLOCK_RETRY;
					break;
				}
				if (maps)
					for (k = 0; k < r; k++) {
						st.ost[st.o + k] = i + k;
						st.oen[st.o + k] = i + k + 1;
					}
				/* the block's last two bytes as output */
				c = t[i + r - 1];
				c = ascii_cls[c] == C_SPACE ? ' ' : c | 0x20;
				if (c == ' ') {
					st.rep_cnt = 0;
					st.rep_pos = st.o + r - 1;
				} else if (c == (t[i + r - 2] | 0x20)) {
					st.rep_cnt = 2;
					st.rep_pos = st.o + r - 2;
					st.rep_second = st.o + r - 1;
					st.rep_len = 1;
				} else {
					st.rep_cnt = 1;
					st.rep_pos = st.o + r - 1;
					st.rep_len = 1;
				}
				st.rep_cp = c;
				st.prev_sp = c == ' ';
				st.pcls = ascii_cls[t[i + r - 1]];
				st.inw = c != ' ';
				st.wlet = c != ' ';
				st.o += r;
				i += r;
			}
			if (i == len)
				break;
			c = t[i];
			if (c >= 0x80)
				continue;	/* after a block, the code point */
			hint = i + 1 < len ? ascii_cls[t[i + 1]] : 0;
			if (i + 1 < len && t[i + 1] >= 0x80) {
				/* the code point after it, looked up once */
				nat = ni = i + 1;
				if ((ne = fast_cp(t, len, &ni, skel, &nu,
				    &ncp)) == NULL) {
					rv = 1;
					goto done;
				}
				hint = ne->n > 0 ? nu[0].cls : -1;
				jr = ne->n > 0 ? ne->join : skel ? 0 :
				    fast_joins(t, len, ni);
				if (jr < 0) {
					rv = 1;
					goto done;
				}
				if (jr) {
					/* a combining mark after it */
					seg[0].cp = ascii_lower[c];
					seg[0].cls = ascii_cls[c];
					seg[0].a = (uint32_t)i;
					seg[0].b = (uint32_t)i + 1;
					i++;
					if ((rv = fast_segment(&st, seg, 1,
					    &i)) != 0)
						goto done;
					continue;
				}
			}
			/* a letter after no word character, before one */
			if ((ascii_cls[c] & (C_LETTER | C_DIGIT)) &&
			    !(st.pcls & C_WORD) && hint > 0 &&
			    (hint & C_WORD) &&
			    !(skel && (ascii_leet[c] || st.known))) {
				st.pcls = ascii_cls[c];
				if (skel) {
					st.inw = 1;
					st.wlet = (ascii_cls[c] & C_LETTER) != 0;
				}
				fast_emit(&st, ascii_lower[c], ascii_cls[c], i,
				    i + 1);
				i++;
				continue;
			}
			it.i = i + 1;
			if ((rv = fast_unit(&st, ascii_lower[c], ascii_cls[c], i,
			    i + 1, &it, hint)) != 0)
				goto done;
			i++;
			continue;
		}
		a = i;
		if (ne != NULL && nat == i) {
			e = ne;
			u = nu;
			cp = ncp;
			i = ni;
		} else if ((e = fast_cp(t, len, &i, skel, &u, &cp)) == NULL) {
			rv = 1;
			goto done;
		}
		if (e->join) {
			rv = 1;
			goto done;
		}
		n = e->n;
		if (st.cap - st.o < len - i + 1 + 4 * (size_t)n &&
		    fast_grow(&st, len - i + 1 + 4 * (size_t)n) == -1) {
			rv = -1;
			goto done;
		}
		hint = i < len ? ascii_cls[t[i]] : 0;
		if (i < len && t[i] >= 0x80) {
			nat = ni = i;
			if ((ne = fast_cp(t, len, &ni, skel, &nu, &ncp)) ==
			    NULL) {
				rv = 1;
				goto done;
			}
			hint = ne->n > 0 ? nu[0].cls : -1;
			jr = n == 0 ? 0 : ne->n > 0 ? ne->join : skel ? 0 :
			    fast_joins(t, len, ni);
			if (jr < 0) {
				rv = 1;
				goto done;
			}
			if (jr) {
				/* a combining mark after it: its units as decoded */
				if ((rp = cpage_get(cp, 0)) == NULL ||
				    (re = &rp->e[cp & (PAGE_SIZE - 1)])->tail != 0 ||
				    re->n > SEG_MAX) {
					rv = 1;
					goto done;
				}
				for (k = 0; k < re->n; k++) {
					seg[k].cp = rp->pool[re->off + k].cp;
					seg[k].cls = rp->pool[re->off + k].cls;
					seg[k].a = (uint32_t)a;
					seg[k].b = (uint32_t)i;
				}
				if ((rv = fast_segment(&st, seg, re->n, &i)) != 0)
					goto done;
				continue;
			}
		}
		if (e->plain && ((st.pcls & C_WORD) ||
		    (hint > 0 && (hint & C_WORD))) && !st.known &&
		    !(st.rep_cnt > 0 && st.rep_cp == u->cp)) {
			/*
			 * A letter inside a word or starting one (a word
			 * character after it): no chain, leet or repeat.
			 */
			st.pcls = C_LETTER;
			st.inw = 1;
			st.wlet |= u->cp < 128;	/* a confusable's letter */
			st.prev_sp = 0;
			st.rep_cp = u->cp;
			st.rep_cnt = 1;
			st.rep_pos = st.o;
			st.rep_len = u->len;
			memcpy(st.os + st.o, u->u8, 4);
			if (maps)
				for (k = st.o; k < st.o + u->len; k++) {
					st.ost[k] = a;
					st.oen[k] = i;
				}
			st.o += u->len;
			continue;
		}
		for (j = 0; j < n; j++) {
			it.i = i;
			it.u = u + j + 1;
			it.n = n - j - 1;
			if ((rv = fast_unit(&st, u[j].cp, u[j].cls, a, i,
			    &it, j + 1 < n ? (int)u[j + 1].cls : hint)) != 0)
				goto done;
		}
		it.n = 0;
	}
	st.os[st.o] = '\0';
	rv = 0;
done:
	if (rv == 0) {
		out->s = st.os;
		out->len = st.o;
		out->start = st.ost;
		out->end = st.oen;
	} else {
		free(st.os);
		free(st.ost);
		free(st.oen);
	}
	return rv;
}

/* Steps 1-3 over units: any text.  Without MAPS, OUT gets no maps. */
static int
general_form(const char *text, size_t len, enum norm_form form,
    struct normtext *out, int maps)
{
	struct scratch	*s;
	int		 rv = -1;

	memset(out, 0, sizeof(*out));
	if ((unsigned)form >= FORM_COUNT) {
		errno = EINVAL;
		return -1;
	}
	if (len >= UINT32_MAX) {	/* units keep 32-bit offsets */
		errno = EOVERFLOW;
		return -1;
	}
	if (form == FORM_RAW) {
		rv = normalize_raw(text, len, out);
		goto done;
	}
	if ((s = scratch_get()) == NULL)
		goto done;
	s->n = 0;
	s->wide = 0;
	s->leet = 0;
	if (decode(s, (const unsigned char *)text, len, form) == -1)
		goto done;
	collapse(s->u, s->n);
	if (form == FORM_SKELETON && s->leet != 0)	/* else nothing to fold */
		leet_fold(s->u, s->n);
	rv = emit(s, out, maps);
	if (s->cap > 65536) {		/* don't keep a huge request's scratch */
		free(s->u);
		s->u = NULL;
		s->cap = 0;
	}
	s->n = 0;
done:
	if (rv == -1)
		normtext_clear(out);
	return rv;
}

int
normalize_general(const char *text, size_t len, enum norm_form form,
    struct normtext *out)
{
	return general_form(text, len, form, out, 1);
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
			rv = general_form(text, len, form, out, maps);
		}
	} else
		rv = normalize_hybrid(t, len, form, out, maps);
	if (rv != 0) {
		normtext_clear(out);
		return -1;
	}
	return 0;
}
