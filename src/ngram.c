/* ngram: see include/ngram.h and train/FORMAT.md, "n-gram head". */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ngram.h"
#include "tokenizer.h"

#define FNV_PRIME	0x01000193u

uint32_t
ngram_fnv(uint32_t h, const char *s, size_t len, int lower)
{
	size_t		 i;
	unsigned char	 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (lower && c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		h = (h ^ c) * FNV_PRIME;
	}
	return h;
}

struct acc {
	const struct ngram_head *h;
	double		 sum[MAX_LABELS];
	size_t		 n;
};

static void
add(struct acc *a, uint32_t hash)
{
	const float	*row;
	size_t		 j;

	row = a->h->weight + (size_t)(hash % a->h->buckets) * a->h->n_labels;
	for (j = 0; j < a->h->n_labels; j++)
		a->sum[j] += row[j];
	a->n++;
}

/* An element of a padded word: bytes at P (LEN). */
struct elem {
	const char	*p;
	size_t		 len;
};

/* The character 3- and 4-grams of the word "<" W ">" (W: LEN bytes). */
static void
char_grams(struct acc *a, const char *w, size_t len)
{
	struct elem	 ring[4], e;
	size_t		 i = 0, k, idx = 0, n, g;
	int32_t		 cp;
	uint32_t	 hash;
	int		 last = 0;

	e.p = "<";
	e.len = 1;
	for (;;) {
		ring[idx % 4] = e;
		for (n = 3; n <= 4; n++) {
			if (idx + 1 < n)
				continue;
			hash = ngram_fnv(NGRAM_FNV_OFFSET, "c:", 2, 0);
			for (g = idx + 1 - n; g <= idx; g++)
				hash = ngram_fnv(hash, ring[g % 4].p,
				    ring[g % 4].len, 1);
			add(a, hash);
		}
		if (last)
			break;
		idx++;
		if (i < len) {
			k = tokenizer_next_cp(w + i, len - i, &cp);
			e.p = w + i;
			e.len = k;
			i += k;
		} else {
			e.p = ">";
			e.len = 1;
			last = 1;
		}
	}
}

/* Features of word W (LEN bytes, NCP code points) after word PREV. */
static void
word(struct acc *a, const char *prev, size_t plen, const char *w,
    size_t len, size_t ncp)
{
	uint32_t	 hash;

	add(a, ngram_fnv(ngram_fnv(NGRAM_FNV_OFFSET, "w:", 2, 0), w, len, 1));
	if (prev != NULL) {
		hash = ngram_fnv(NGRAM_FNV_OFFSET, "b:", 2, 0);
		hash = ngram_fnv(hash, prev, plen, 1);
		hash = ngram_fnv(hash, " ", 1, 0);
		add(a, ngram_fnv(hash, w, len, 1));
	}
	if (ncp > 3)
		char_grams(a, w, len);
}

size_t
ngram_logits(const struct ngram_head *h, const char *text, size_t len,
    float *z)
{
	struct acc	 a;
	const char	*prev = NULL;
	size_t		 plen = 0, i = 0, k, ncp = 0, wstart = 0, j;
	int32_t		 cp;
	int		 inword = 0;

	memset(&a, 0, sizeof(a));
	a.h = h;
	while (i < len) {
		k = tokenizer_next_cp(text + i, len - i, &cp);
		if (tokenizer_is_word(cp)) {
			if (!inword) {
				inword = 1;
				wstart = i;
				ncp = 0;
			}
			ncp++;
			i += k;
			continue;
		}
		if (inword) {
			inword = 0;
			word(&a, prev, plen, text + wstart, i - wstart, ncp);
			prev = text + wstart;
			plen = i - wstart;
		}
		if (!tokenizer_is_space(cp)) {
			word(&a, prev, plen, text + i, k, 1);
			prev = text + i;
			plen = k;
		}
		i += k;
	}
	if (inword)
		word(&a, prev, plen, text + wstart, len - wstart, ncp);
	for (j = 0; j < h->n_labels; j++)
		z[j] = (float)((double)h->bias[j] + (a.n > 0 ?
		    a.sum[j] / sqrt((double)a.n) : 0.0));
	return a.n;
}

void
ngram_combine(const struct ngram_head *h, const float *zt, const float *zn,
    float *p)
{
	size_t	 j;

	for (j = 0; j < h->n_labels; j++)
		p[j] = 1.0f / (1.0f + expf(-(h->w_transformer[j] * zt[j] +
		    h->w_ngram[j] * zn[j] + h->b[j])));
}

void
ngram_doc_probs(const struct ngram_head *h, size_t windows, float *p)
{
	double	 lw, z;
	size_t	 j;

	if (windows < 2)
		return;
	lw = log((double)windows);
	for (j = 0; j < h->n_labels; j++) {
		if (h->window_slope[j] == 0 || p[j] <= 0 || p[j] >= 1)
			continue;
		z = log((double)p[j]) - log1p(-(double)p[j]);
		p[j] = (float)(1.0 / (1.0 + exp(-(z - h->window_slope[j] * lw))));
	}
}
