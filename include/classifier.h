/*
 * classifier: a transformer encoder model directory (config.json,
 * model.safetensors, tokenizer) loaded and checked whole, and scored in
 * sliding windows over long text.
 */
#ifndef MODGATE_CLASSIFIER_H
#define MODGATE_CLASSIFIER_H

#include <stddef.h>

#include "config.h"
#include "pipeline.h"

struct model;

/*
 * Load the model in DIR, checking every size against the files.  Returns
 * the model, or NULL after logging why.
 */
struct model	*model_load(const char *dir);
void		 model_free(struct model *);
/* Number of labels; *LABELS points at their names (owned by the model). */
size_t		 model_labels(const struct model *, const char *const **labels);
void		 model_digest(const struct model *, void *ctx);

struct classifier_out {
	float	 scores[MAX_LABELS];	/* max over windows, per label */
	size_t	 span_start, span_end;	/* bytes of the highest-scoring window */
};

/*
 * Score TEXT in windows of CONF->window tokens every CONF->stride tokens.
 * Safe from many threads at once.  0, or -1 on failure.
 */
int		 classifier_score(const struct model *m,
		    const struct classifier_conf *conf, const char *text,
		    size_t len, struct classifier_out *out);

#endif
