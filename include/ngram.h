/*
 * ngram: the optional hashed n-gram linear head of modgate-encoder-v1
 * (train/FORMAT.md, "n-gram head"; train/ngram.py is the reference).
 * Word unigrams and bigrams and character 3- and 4-grams of the
 * tokenizer's words, hashed with 32-bit FNV-1a into BUCKETS rows of a
 * linear model, combined per label with the transformer's logit.
 */
#ifndef MODGATE_NGRAM_H
#define MODGATE_NGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "verdict.h"

#define NGRAM_MAX_BUCKETS	(1u << 24)
#define NGRAM_FEATURES		"fnv1a32:w1,w2,c3,c4/sqrt"

struct ngram_head {
	size_t		 buckets;
	size_t		 n_labels;
	const float	*weight;		/* [buckets, n_labels] */
	const float	*bias;			/* [n_labels] */
	int		 whole_text;		/* context "text": over the whole
						   text, not each window */
	float		 w_transformer[MAX_LABELS];	/* combination */
	float		 w_ngram[MAX_LABELS];
	float		 b[MAX_LABELS];
	float		 window_slope[MAX_LABELS];	/* per ln(windows) */
};

/*
 * The 32-bit FNV-1a hash of LEN bytes at S, continuing from H (start
 * with NGRAM_FNV_OFFSET), ASCII letters lowercased when LOWER is set.
 */
#define NGRAM_FNV_OFFSET	0x811c9dc5u
uint32_t	 ngram_fnv(uint32_t h, const char *s, size_t len, int lower);

/*
 * The head's logits Z[n_labels] for LEN bytes of TEXT (any bytes;
 * invalid UTF-8 bytes are words of one byte, as in the tokenizer).
 * Returns the number of features.  Never allocates; linear in LEN.
 */
size_t		 ngram_logits(const struct ngram_head *h, const char *text,
		    size_t len, float *z);

/*
 * The combined probability of each label from the transformer's logits
 * ZT and the head's ZN: sigmoid(w_t zt + w_n zn + b), into P.
 */
void		 ngram_combine(const struct ngram_head *h, const float *zt,
		    const float *zn, float *p);

/*
 * The document's probabilities from P[n_labels], each label's maximum
 * over the WINDOWS windows of a text: in place, sigmoid(logit(p) -
 * window_slope ln(windows)), so that a long text's many windows do not
 * raise its score by their number alone.  No change for one window or a
 * zero slope.
 */
void		 ngram_doc_probs(const struct ngram_head *h, size_t windows,
		    float *p);

#endif
