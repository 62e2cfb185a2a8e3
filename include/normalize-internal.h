/*
 * normalize-internal: for the rules stage and tests, then what the files
 * of the normaliser share (src/normalize*.c, see src/normalize.c).
 * normalize() takes a one-pass path for ASCII text; normalize_general() is
 * the general path it must agree with (tests/unit/test-normalize.c
 * compares them).
 */
#ifndef MODGATE_NORMALIZE_INTERNAL_H
#define MODGATE_NORMALIZE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "normalize.h"

/*
 * 1 when the skeleton form of TEXT is sure to equal its normalized form
 * (ASCII text with nothing for leetspeak to fold), so that a caller may
 * compute one and use it for both; 0 when it may differ.
 */
int	 normalize_skeleton_same(const char *text, size_t len);
/*
 * normalize() that also sets in *FLAGS NORM_ASCII when the text was all
 * ASCII, and NORM_LEET unless it is sure that no character for leetspeak
 * to fold occurs (then the skeleton is the normalized form).
 */
#define NORM_ASCII	1
#define NORM_LEET	2
int	 normalize_flags(const char *text, size_t len, enum norm_form form,
	    struct normtext *out, unsigned *flags);
int	 normalize_general(const char *text, size_t len, enum norm_form form,
	    struct normtext *out);
/*
 * normalize_flags() that may leave OUT's maps out (start and end NULL)
 * when MAPS is 0, for a caller that needs them only when a rule may
 * match: computing the form again with MAPS 1 gives the same text.
 */
int	 normalize_maps(const char *text, size_t len, enum norm_form form,
	    struct normtext *out, unsigned *flags, int maps);
/*
 * For tests: ON 0 makes every thread decode code points with utf8proc
 * alone, not from the per-code-point cache of the BMP; 1 (the default)
 * uses the cache.  Returns the previous setting.
 */
int	 normalize_cache(int on);

/*
 * Between the files of the normaliser: normalize.c (the entry points, the
 * choice of path, the piecewise path), normalize-general.c (the general
 * path over units), normalize-ascii.c (all-ASCII text on the bytes),
 * normalize-fast.c (one pass over text dense outside ASCII),
 * normalize-pages.c (the cache of every BMP code point's decoding),
 * normalize-class.c (character classes, confusables, leetspeak); the
 * block tests of the ASCII loops, eight bytes at a time or sixteen with
 * SSE2, are below.
 */

/* Classes of a unit. */
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

/* The tables of ASCII bytes, filled once by norm_tables_init(). */
extern unsigned char	 ascii_cls[256];	/* bytes >= 0x80: C_OTHER */
extern unsigned char	 ascii_lower[256];
extern unsigned char	 ascii_leet[256];	/* norm_leet(c) of lowercase c */
extern unsigned char	 ascii_flag[256];	/* 1 word, 2 letter or digit */
extern pthread_once_t	 norm_tables_once;
void		 norm_tables_fill(void);

static inline void
norm_tables_init(void)
{
	pthread_once(&norm_tables_once, norm_tables_fill);
}

/* The class of any code point (C_LETTER, ...). */
uint32_t	 norm_cp_class(uint32_t cp);
/* ASCII text confusable with CP (lowercase letters or digits), or NULL. */
const char	*norm_confusable(uint32_t cp);
/* The letter leetspeak character CP stands for, or 0. */
char		 norm_leet(uint32_t cp);

/* Hangul vowel and trailing jamo compose with the syllable before them. */
static inline int
cp_joins(uint32_t cp, uint32_t cls)
{
	return cls == C_MARK || (cp >= 0x1161 && cp <= 0x1175) ||
	    (cp >= 0x11a8 && cp <= 0x11c2);
}

/*
 * The general path (normalize-general.c).  norm_decode: step 1, TEXT
 * decoded into units of FORM appended to S; 0, or -1 (no memory, or
 * EILSEQ).  norm_compose: units [FROM, S->n), a starter and what joins
 * it, reordered and composed in place.  normalize_general_form: steps 1-3,
 * OUT without maps unless MAPS.
 */
int		 norm_decode(struct scratch *s, const unsigned char *p,
		    size_t len, enum norm_form form);
void		 norm_compose(struct scratch *s, size_t from);
int		 normalize_general_form(const char *text, size_t len,
		    enum norm_form form, struct normtext *out, int maps);

/*
 * The other paths: 0, -1 on allocation failure, or 1 for text they cannot
 * take, which takes the general path.  normalize_ascii (normalize-ascii.c)
 * for all-ASCII text, *LEETP (may be NULL) set unless sure that nothing
 * is for leetspeak to fold; normalize_fast (normalize-fast.c) for any
 * text in one pass.
 */
int		 normalize_ascii(const unsigned char *t, size_t len, int skel,
		    struct normtext *out, unsigned *leetp, int maps);
int		 normalize_fast(const unsigned char *t, size_t len, int skel,
		    struct normtext *out, int maps);

/*
 * The cache of the decoding of BMP code points (normalize-pages.c), in
 * pages of PAGE_SIZE code points, per form (0 normalized, 1 skeleton).
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

extern _Atomic(void *) norm_cpages[2][NPAGES];	/* struct cpage */
extern atomic_int	 norm_cache_off;	/* tests: decode without the cache */
/* The options of utf8proc's decomposition in step 1. */
int		 norm_decode_options(int skel);
struct cpage	*norm_cpage_build(unsigned pg, int skel);
/*
 * Page P cut down to its HDR bytes of entries and a pool of the N entries
 * of ES bytes at TMP; NULL (P freed) when out of memory.  Install page P
 * in SLOT unless another thread's page got there first: the page in SLOT.
 */
void		*norm_page_trim(void *p, size_t hdr, const void *tmp, size_t n,
		    size_t es);
void		*norm_page_publish(_Atomic(void *) *slot, void *p);

/* The cache page of BMP code point CP in FORM, or NULL (no memory). */
static inline const struct cpage *
cpage_get(uint32_t cp, int skel)
{
	_Atomic(void *)	*slot = &norm_cpages[skel][cp >> PAGE_BITS];
	struct cpage	*p;

	if ((p = atomic_load_explicit(slot, memory_order_acquire)) != NULL)
		return p;
	if ((p = norm_cpage_build(cp >> PAGE_BITS, skel)) == NULL)
		return NULL;
	return norm_page_publish(slot, p);
}

/* For the hot helpers called from more than one loop. */
#if defined(__GNUC__)
#define ALWAYS_INLINE	__attribute__((always_inline))
#else
#define ALWAYS_INLINE
#endif


/* Write CP as UTF-8 at O; the number of bytes. */
static inline size_t
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

#endif
