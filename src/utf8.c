/*
 * utf8: strict UTF-8 validation (see include/normalize.h, utf8_valid).
 *
 * Two implementations that must agree on every input: a scalar one, eight
 * ASCII bytes at a time and byte at a time around the rest, and on x86-64
 * processors with AVX2 (checked at run time) the table look-up method of
 * Keiser and Lemire ("Validating UTF-8 In Less Than One Instruction Per
 * Byte", 2021), 32 bytes at a time: three 16-entry tables indexed by the
 * high and low nibble of the byte before and the high nibble of each byte
 * flag every error of a two-byte window (a continuation where none may
 * be, a missing one, overlong forms, surrogates, code points above
 * U+10FFFF, lead bytes F5-FF and C0-C1); the bytes two and three back tell
 * where a third or fourth byte must follow.  NUL bytes are refused too.
 * tests/unit/test-normalize.c compares both on every sequence of up to
 * three bytes and on generated text; fuzz/fuzz-normalize.c on any input.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "normalize.h"
#include "utf8.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define UTF8_AVX2	1
#include <immintrin.h>
#endif

int
utf8_valid_scalar(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text, *e = p + len;
	unsigned char	 c;

	while (p < e) {
		/* eight ASCII bytes without NUL at a time */
		while (e - p >= 8) {
			uint64_t	 w;

			memcpy(&w, p, 8);
			if ((w & 0x8080808080808080ULL) != 0 ||
			    ((w - 0x0101010101010101ULL) & ~w &
			    0x8080808080808080ULL) != 0)
				break;
			p += 8;
		}
		if (p == e)
			break;
		c = *p;
		if (c >= 0x01 && c < 0x80) {
			p++;
			continue;
		}
		if (c == 0x00)
			return 0;
		if (c >= 0xc2 && c <= 0xdf) {
			if (e - p < 2 || (p[1] & 0xc0) != 0x80)
				return 0;
			p += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			if (e - p < 3 || (p[1] & 0xc0) != 0x80 ||
			    (p[2] & 0xc0) != 0x80)
				return 0;
			if (c == 0xe0 && p[1] < 0xa0)		/* overlong */
				return 0;
			if (c == 0xed && p[1] >= 0xa0)		/* surrogate */
				return 0;
			p += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			if (e - p < 4 || (p[1] & 0xc0) != 0x80 ||
			    (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
				return 0;
			if (c == 0xf0 && p[1] < 0x90)		/* overlong */
				return 0;
			if (c == 0xf4 && p[1] >= 0x90)		/* > U+10FFFF */
				return 0;
			p += 4;
		} else
			return 0;	/* continuation, C0/C1 overlong, F5+ */
	}
	return 1;
}

#ifdef UTF8_AVX2

/* Error bits of a two-byte window (byte 1, then byte 2). */
#define TOO_SHORT	(1 << 0)	/* 11______ then 0_______ or 11______ */
#define TOO_LONG	(1 << 1)	/* 0_______ then 10______ */
#define OVERLONG_3	(1 << 2)	/* 11100000 100_____ */
#define TOO_LARGE	(1 << 3)	/* 11110100 1001____ and above */
#define SURROGATE	(1 << 4)	/* 11101101 101_____ */
#define OVERLONG_2	(1 << 5)	/* 1100000_ 10______ */
#define TOO_LARGE_1000	(1 << 6)	/* 11110101 1000____ and above */
#define OVERLONG_4	(1 << 6)	/* 11110000 1000____ */
#define TWO_CONTS	(1 << 7)	/* 10______ 10______ */
#define CARRY		(TOO_SHORT | TOO_LONG | TWO_CONTS)

/* A 16-byte table in both lanes, for _mm256_shuffle_epi8. */
#define B(x)	((char)(unsigned char)(x))
#define TABLE(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)		\
	_mm256_setr_epi8(B(a), B(b), B(c), B(d), B(e), B(f), B(g), B(h),	\
	    B(i), B(j), B(k), B(l), B(m), B(n), B(o), B(p),		\
	    B(a), B(b), B(c), B(d), B(e), B(f), B(g), B(h),		\
	    B(i), B(j), B(k), B(l), B(m), B(n), B(o), B(p))

struct avx2_state {
	__m256i		 prev;		/* the 32 bytes before */
	__m256i		 incomplete;	/* nonzero: prev ends inside a sequence */
	__m256i		 error;
};

/* X's bytes shifted up by N (1-3) lanes of bytes, PREV's last N below. */
#define PREV_N(x, prev, n)						\
	_mm256_alignr_epi8((x), _mm256_permute2x128_si256((prev), (x),	\
	    0x21), 16 - (n))

__attribute__((target("avx2")))
static inline void
avx2_block(struct avx2_state *s, __m256i in)
{
	const __m256i	 nib = _mm256_set1_epi8(0x0f);
	const __m256i	 b1_high = TABLE(
	    TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
	    TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
	    TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,
	    TOO_SHORT | OVERLONG_2,
	    TOO_SHORT,
	    TOO_SHORT | OVERLONG_3 | SURROGATE,
	    TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4);
	const __m256i	 b1_low = TABLE(
	    CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4,
	    CARRY | OVERLONG_2,
	    CARRY,
	    CARRY,
	    CARRY | TOO_LARGE,
	    CARRY | TOO_LARGE | TOO_LARGE_1000,
	    CARRY | TOO_LARGE | TOO_LARGE_1000,
	    CARRY | TOO_LARGE | TOO_LARGE_1000,
	    CARRY | TOO_LARGE | TOO_LARGE_1000,
	    CARRY | TOO_LARGE | TOO_LARGE_1000,
	    CARRY | TOO_LARGE | TOO_LARGE_1000,
	    CARRY | TOO_LARGE | TOO_LARGE_1000,
	    CARRY | TOO_LARGE | TOO_LARGE_1000,
	    CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
	    CARRY | TOO_LARGE | TOO_LARGE_1000,
	    CARRY | TOO_LARGE | TOO_LARGE_1000);
	const __m256i	 b2_high = TABLE(
	    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
	    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
	    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 |
	    OVERLONG_4,
	    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
	    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
	    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
	    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT);
	/* the largest byte allowed in each of the last three places */
	const __m256i	 last_max = _mm256_setr_epi8(
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    B(0xf0 - 1), B(0xe0 - 1), B(0xc0 - 1));
	__m256i		 prev1, prev2, prev3, sc, must23, nul;

	nul = _mm256_cmpeq_epi8(in, _mm256_setzero_si256());
	if (_mm256_testz_si256(in, _mm256_set1_epi8((char)0x80))) {
		/* ASCII: only a sequence left open before is an error */
		s->error = _mm256_or_si256(s->error,
		    _mm256_or_si256(s->incomplete, nul));
		s->incomplete = _mm256_setzero_si256();
		s->prev = in;
		return;
	}
	prev1 = PREV_N(in, s->prev, 1);
	sc = _mm256_and_si256(_mm256_and_si256(
	    _mm256_shuffle_epi8(b1_high,
	    _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nib)),
	    _mm256_shuffle_epi8(b1_low, _mm256_and_si256(prev1, nib))),
	    _mm256_shuffle_epi8(b2_high,
	    _mm256_and_si256(_mm256_srli_epi16(in, 4), nib)));
	prev2 = PREV_N(in, s->prev, 2);
	prev3 = PREV_N(in, s->prev, 3);
	/* 0x80 where a third (after E0-FF) or fourth (after F0-FF) byte is due */
	must23 = _mm256_and_si256(_mm256_or_si256(
	    _mm256_subs_epu8(prev2, _mm256_set1_epi8(0xe0 - 0x80)),
	    _mm256_subs_epu8(prev3, _mm256_set1_epi8(0xf0 - 0x80))),
	    _mm256_set1_epi8((char)0x80));
	s->error = _mm256_or_si256(s->error, _mm256_or_si256(nul,
	    _mm256_xor_si256(must23, sc)));
	s->incomplete = _mm256_subs_epu8(in, last_max);
	s->prev = in;
}

__attribute__((target("avx2")))
static int
utf8_valid_avx2(const char *text, size_t len)
{
	struct avx2_state s;
	char		 tail[32];
	size_t		 i = 0;

	s.prev = _mm256_setzero_si256();
	s.incomplete = _mm256_setzero_si256();
	s.error = _mm256_setzero_si256();
	for (; len - i >= 32; i += 32) {
		avx2_block(&s, _mm256_loadu_si256((const __m256i *)(text + i)));
		/* give up early on a bad stretch of a long text */
		if ((i & 1023) == 992 && !_mm256_testz_si256(s.error, s.error))
			return 0;
	}
	/* the rest, padded with spaces (which end any open sequence) */
	memset(tail, ' ', sizeof(tail));
	if (len > i)
		memcpy(tail, text + i, len - i);
	avx2_block(&s, _mm256_loadu_si256((const __m256i *)tail));
	return _mm256_testz_si256(s.error, s.error) &&
	    _mm256_testz_si256(s.incomplete, s.incomplete);
}

int
utf8_valid_simd(const char *text, size_t len)
{
	static atomic_int have = -1;	/* every thread finds the same */
	int		 h;

	if ((h = atomic_load_explicit(&have, memory_order_relaxed)) == -1) {
		__builtin_cpu_init();
		h = __builtin_cpu_supports("avx2") ? 1 : 0;
		atomic_store_explicit(&have, h, memory_order_relaxed);
	}
	if (!h)
		return -1;
	return utf8_valid_avx2(text, len);
}

#else

int
utf8_valid_simd(const char *text, size_t len)
{
	return -1;
}

#endif

int
utf8_valid(const char *text, size_t len)
{
	int	 rv;

	/* short texts: the scalar loop costs less than the set-up */
	if (len >= 64 && (rv = utf8_valid_simd(text, len)) != -1)
		return rv;
	return utf8_valid_scalar(text, len);
}
