/*
 * fuzz-ngram: the n-gram head's featurizer on arbitrary bytes (invalid
 * UTF-8 included), with a small head of known weights: the feature count
 * stays within its bound and the logits are finite and, since every
 * weight is 1, exactly bias + sqrt(count).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ngram.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BUCKETS	61	/* not a power of two: the modulo matters */
#define LABELS	3

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static float	 weight[BUCKETS * LABELS], bias[LABELS];
	struct ngram_head h = { .buckets = BUCKETS, .n_labels = LABELS,
	    .weight = weight, .bias = bias };
	float		 z[LABELS];
	size_t		 n, j;

	for (j = 0; j < BUCKETS * LABELS; j++)
		weight[j] = 1.0f;
	for (j = 0; j < LABELS; j++)
		bias[j] = (float)j;
	n = ngram_logits(&h, (const char *)data, size, z);
	/* per byte: a word, a bigram, and at most two character n-grams,
	 * plus two more per word for the boundary marks */
	if (n > 8 * size)
		abort();
	for (j = 0; j < LABELS; j++)
		if (!isfinite(z[j]) || fabs(z[j] - ((float)j +
		    sqrt((double)n))) > 1e-3 * (1 + sqrt((double)n)))
			abort();
	return 0;
}
