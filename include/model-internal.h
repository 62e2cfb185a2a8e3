/*
 * model-internal: the inside of a loaded model directory, shared by
 * model.c (load and checks), classifier.c (scoring) and the eval tool.  Everything here
 * is immutable after model_load, except the pool of scratch slots, which
 * is guarded by its mutex.
 */
#ifndef MODGATE_MODEL_INTERNAL_H
#define MODGATE_MODEL_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "ngram.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "transformer.h"
#include "verdict.h"

#define MODEL_FORMAT		"modgate-encoder-v1"
#define MODEL_BATCH_MAX		16	/* windows per forward pass, at most */
#define MODEL_LABEL_MAX		64	/* bytes of a label name */

struct batch_req;

/* The scratch one scoring call uses: taken from the pool, given back. */
struct model_slot {
	struct model_slot *next;	/* free list */
	struct transformer_state *ts;
	struct token	*toks;		/* [toks_cap] the text's tokens */
	size_t		 toks_cap;
	uint32_t	*ids;		/* [MODEL_BATCH_MAX * max_positions] */
	size_t		 lens[MODEL_BATCH_MAX];
	size_t		 starts[MODEL_BATCH_MAX];	/* first token index */
	struct batch_req *owner[MODEL_BATCH_MAX];	/* request of window */
	float		*logits;	/* [MODEL_BATCH_MAX, n_labels] */
};

struct model {
	char		*dir;
	struct transformer_config cfg;
	struct transformer_weights w;	/* into st */
	struct safetensors st;
	struct tokenizer *tok;
	size_t		 n_labels;
	char		*labels[MAX_LABELS];
	float		 scale[MAX_LABELS];	/* calibration */
	float		 bias[MAX_LABELS];
	int		 max_word_chars;
	int		 has_ngram;	/* config.json "ngram" present */
	struct ngram_head ng;		/* then: the n-gram head */
	unsigned char	 digest[32];	/* SHA-256 over the three files */

	pthread_mutex_t	 lock;		/* guards free_slots */
	struct model_slot *free_slots;
	size_t		 n_slots;
	size_t		 ncpu;		/* online CPUs at load */

	/*
	 * Windows of concurrent classifier_score calls waiting for a forward
	 * pass (classifier.c), guarded by qlock.
	 */
	pthread_mutex_t	 qlock;
	pthread_cond_t	 qcond;		/* queue or leaders changed */
	struct batch_req *qhead, *qtail;
	size_t		 q_windows;	/* queued windows not handed out */
	size_t		 q_arriving;	/* calls still tokenizing */
	size_t		 leaders;	/* threads running a forward pass */
	uint64_t	 n_passes;	/* forward passes run (statistics) */
	uint64_t	 n_shared;	/* passes holding windows of 2+ calls */
};

/*
 * A scratch slot of M for the calling thread: from the pool, or a new one
 * when every slot is busy (the pool grows to the number of threads that
 * score at once, then stays).  NULL after logging on allocation failure.
 */
struct model_slot *model_slot_get(const struct model *m);
void		 model_slot_put(const struct model *m, struct model_slot *s);

/*
 * The probability of each label for one window into P[n_labels]: from
 * the transformer's LOGITS and, when M has an n-gram head, its logits ZN
 * (combined per label), else by Platt calibration.  When ZN is NULL and
 * the head's context is the window, they are computed over the LEN bytes
 * of TEXT the window covers.  Safe from many threads at once.
 */
void		 model_window_probs(const struct model *m, const float *logits,
		    const char *text, size_t len, const float *zn, float *p);

/*
 * A text's probabilities from P[n_labels], each label's maximum over its
 * WINDOWS windows, in place: the n-gram combination's window-count term
 * (ngram_doc_probs), when M has one.
 */
void		 model_doc_probs(const struct model *m, size_t windows,
		    float *p);

/*
 * Make S able to hold N tokens.  0, or -1 after logging.
 */
int		 model_slot_reserve(const struct model *m, struct model_slot *s,
		    size_t n);
/* Give back the token room a long text made S grow. */
void		 model_slot_shrink(const struct model *m, struct model_slot *s);

#endif
