/*
 * normalize-fast: the one-pass path for text dense outside ASCII (see
 * src/normalize.c).
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "normalize.h"
#include "normalize-internal.h"

/*
 * The fast path for text outside ASCII: steps 1-3 in one pass over the
 * text, with no unit array.  Each code point of the BMP takes the units
 * its decoding gives it alone (struct fent: norm_decode() run on that one code
 * point, cached in pages like struct cpage); that is what norm_decode() gives
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
		if (norm_decode(&one, b, k, skel ? FORM_SKELETON :
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
	p = norm_page_trim(p, offsetof(struct fpage, pool), tmp, np,
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
	return norm_page_publish(slot, p);
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

#define SEG_MAX		64	/* as norm_compose() */
#define BLOCK_RETRY	4	/* bytes before another eight-byte try */

/*
 * Normalized: the segment SEG (N units, a starter and what joined it so
 * far) with every code point after byte *IP that joins it, composed as
 * norm_decode() composes it, through step 2 and 3; *IP moved past them.  0, -1
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
	norm_compose(&one, 0);
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
int
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

	if (atomic_load_explicit(&norm_cache_off, memory_order_relaxed) ||
	    len >= UINT32_MAX)
		return 1;
	norm_tables_init();
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
