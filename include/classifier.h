/*
 * classifier: a loaded model (include/model.h) scored in sliding windows
 * over long text.
 */
#ifndef MODGATE_CLASSIFIER_H
#define MODGATE_CLASSIFIER_H

#include <stddef.h>

#include "config.h"
#include "verdict.h"

struct model;

struct classifier_out {
	float	 scores[MAX_LABELS];	/* max over windows, per label */
	size_t	 span_start, span_end;	/* bytes of the highest-scoring window */
};

/*
 * Score TEXT in windows of CONF->window tokens every CONF->stride tokens
 * (window capped at the model's max_positions, stride at window - 1 so no
 * token is skipped), CONF->batch_max windows a forward pass.  Safe from
 * many threads at once: windows of concurrent calls may share a pass (at
 * most one pass per CPU / CONF->threads runs at a time; the others' windows
 * wait and ride along).  Call transformer_set_threads(CONF->threads) once
 * before threads start.  0, or -1 on failure (logged).
 */
int		 classifier_score(const struct model *m,
		    const struct classifier_conf *conf, const char *text,
		    size_t len, struct classifier_out *out);

#endif
