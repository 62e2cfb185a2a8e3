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

/*
 * Incremental scoring of a text that grows at its end (a stream): the
 * windows of classifier_score's scoring of the whole text, each scored
 * once its tokens are sure, that is once they end before the last white
 * space of the text so far (a later byte may still extend the last word).
 * One caller at a time per classifier_stream; M must outlive it.  NULL on
 * allocation failure.
 */
struct classifier_stream *classifier_stream_new(const struct model *m,
		    const struct classifier_conf *conf);
/* NULL is a no-op. */
void		 classifier_stream_free(struct classifier_stream *);

/*
 * Score the windows that TEXT[0, LEN), the whole text so far (the bytes
 * given to earlier calls unchanged), completes.  When it completes some,
 * OUT->scores holds the text's probabilities over every window scored so
 * far, combined as classifier_score combines them, and the call returns
 * the number of windows it scored.  0 when it completes none (OUT
 * untouched), as always when the window is below 2 tokens or the model's
 * n-gram head reads the whole text (a window's score is then known only
 * with the whole text).  -1 when the classifier failed (logged).
 */
int		 classifier_stream_score(struct classifier_stream *cs,
		    const char *text, size_t len, struct classifier_out *out);

#endif
