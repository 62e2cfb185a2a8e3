/*
 * model: a transformer encoder model directory (config.json,
 * model.safetensors, tokenizer) loaded and checked whole.  What is inside
 * a loaded model is in include/model-internal.h; classifier.h scores text
 * with it.
 */
#ifndef MODGATE_MODEL_H
#define MODGATE_MODEL_H

#include <stddef.h>

struct model;

/*
 * Load the model in DIR, checking every size against the files.  Returns
 * the model, or NULL after logging why.
 */
struct model	*model_load(const char *dir);
void		 model_free(struct model *);
/* Number of labels; *LABELS points at their names (owned by the model). */
size_t		 model_labels(const struct model *, const char *const **labels);
/*
 * Feed the model's identity (SHA-256 over config.json, the vocabulary and
 * model.safetensors) into CTX, a crypto_hash_sha256_state *.
 */
void		 model_digest(const struct model *, void *ctx);

#endif
