/*
 * normalize-general: the general path, steps 1-3 over an array of units,
 * for any text (see src/normalize.c); the reference the other paths must
 * agree with.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "normalize.h"
#include "normalize-internal.h"

static pthread_key_t	 scratch_key;
static pthread_once_t	 scratch_once = PTHREAD_ONCE_INIT;

static void
scratch_free(void *p)
{
	struct scratch *s = p;

	if (s != NULL)
		free(s->u);
	free(s);
}

static void
scratch_key_init(void)
{
	(void)pthread_key_create(&scratch_key, scratch_free);
}

static struct scratch *
scratch_get(void)
{
	struct scratch	*s;

	norm_tables_init();
	pthread_once(&scratch_once, scratch_key_init);
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

/*
 * Reorder and compose units [from, s->n) (a starter and what joins it) in
 * place, mapped to the range of the whole segment.
 */
void
norm_compose(struct scratch *s, size_t from)
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
		s->u[from + i].cls = norm_cp_class((uint32_t)buf[i]);
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
 * norm_compose(S, FROM), taken from the cache when the segment is the
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
		norm_compose(s, from);
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
int
norm_decode(struct scratch *s, const unsigned char *p, size_t len,
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

	opt = norm_decode_options(skel);
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
		if (cp < 0x10000 && !atomic_load_explicit(&norm_cache_off,
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
			cls = norm_cp_class((uint32_t)dst[j]);
			if (skel && dst[j] >= 0x80 &&
			    (conf = norm_confusable((uint32_t)dst[j])) != NULL) {
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
					norm_compose(s, seg);
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
				    !(l = norm_leet(u[k].cp)))
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

/* Steps 1-3 over units: any text.  Without MAPS, OUT gets no maps. */
int
normalize_general_form(const char *text, size_t len, enum norm_form form,
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
	if (norm_decode(s, (const unsigned char *)text, len, form) == -1)
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
	return normalize_general_form(text, len, form, out, 1);
}
