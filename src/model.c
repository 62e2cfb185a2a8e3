/* model: load and check a model directory; see include/model.h. */

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "file.h"
#include "log.h"
#include "model.h"
#include "model-internal.h"

#define CONFIG_MAX_BYTES	(1u << 20)
#define TOKENIZER_MAX_BYTES	(64u << 20)
#define SLOT_TOKENS		4096	/* tokens a new slot holds */

/* Read the whole regular file PATH (at most MAX bytes) into *BUF. */
static int
model_file(const char *path, size_t max, char **buf, size_t *len)
{
	char	 err[256];

	if (file_read(path, max, buf, len, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", path, err);
		return -1;
	}
	return 0;
}

static void
digest_file(crypto_hash_sha256_state *h, const char *name, const void *buf,
    size_t len)
{
	unsigned char	 n[8];
	size_t		 i;

	crypto_hash_sha256_update(h, (const unsigned char *)name,
	    strlen(name) + 1);
	for (i = 0; i < 8; i++)
		n[i] = (unsigned char)((uint64_t)len >> (8 * i));
	crypto_hash_sha256_update(h, n, sizeof(n));
	crypto_hash_sha256_update(h, buf, len);
}

/* OBJ[KEY] as an integer in [MIN, MAX].  0 or -1 after logging. */
static int
conf_size(const char *file, json_t *obj, const char *key, size_t min,
    size_t max, size_t *out)
{
	json_t		*v = json_object_get(obj, key);
	json_int_t	 i;

	if (!json_is_integer(v) || (i = json_integer_value(v)) < 0 ||
	    (uintmax_t)i < min || (uintmax_t)i > max) {
		log_warnx("%s: \"%s\" must be an integer in [%zu, %zu]", file,
		    key, min, max);
		return -1;
	}
	*out = (size_t)i;
	return 0;
}

/* ARR as N finite numbers into OUT.  0 or -1 after logging. */
static int
conf_floats(const char *file, const char *what, json_t *arr, size_t n,
    float *out)
{
	size_t	 i;
	double	 x;

	if (!json_is_array(arr) || json_array_size(arr) != n) {
		log_warnx("%s: \"%s\" must be an array of %zu numbers", file,
		    what, n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		x = json_number_value(json_array_get(arr, i));
		if (!json_is_number(json_array_get(arr, i)) || !isfinite(x) ||
		    fabs(x) > 1e6) {
			log_warnx("%s: \"%s\"[%zu] must be a finite number",
			    file, what, i);
			return -1;
		}
		out[i] = (float)x;
	}
	return 0;
}

/* The optional "ngram" object NG of config.json into M.  0 or -1. */
static int
ngram_parse(struct model *m, const char *file, json_t *ng)
{
	json_t		*v, *comb;

	if (ng == NULL)
		return 0;
	if (!json_is_object(ng)) {
		log_warnx("%s: \"ngram\" must be an object", file);
		return -1;
	}
	if (conf_size(file, ng, "buckets", 1, NGRAM_MAX_BUCKETS,
	    &m->ng.buckets) == -1)
		return -1;
	v = json_object_get(ng, "features");
	if (!json_is_string(v) || strcmp(json_string_value(v),
	    NGRAM_FEATURES) != 0) {
		log_warnx("%s: ngram \"features\" must be \"%s\"", file,
		    NGRAM_FEATURES);
		return -1;
	}
	v = json_object_get(ng, "context");
	if (v != NULL && (!json_is_string(v) ||
	    (strcmp(json_string_value(v), "window") != 0 &&
	    strcmp(json_string_value(v), "text") != 0))) {
		log_warnx("%s: ngram \"context\" must be \"window\" or "
		    "\"text\"", file);
		return -1;
	}
	m->ng.whole_text = v != NULL && strcmp(json_string_value(v),
	    "text") == 0;
	comb = json_object_get(ng, "combine");
	if (!json_is_object(comb)) {
		log_warnx("%s: ngram \"combine\" must be an object", file);
		return -1;
	}
	if (conf_floats(file, "w_transformer", json_object_get(comb,
	    "w_transformer"), m->n_labels, m->ng.w_transformer) == -1 ||
	    conf_floats(file, "w_ngram", json_object_get(comb, "w_ngram"),
	    m->n_labels, m->ng.w_ngram) == -1 ||
	    conf_floats(file, "bias", json_object_get(comb, "bias"),
	    m->n_labels, m->ng.b) == -1)
		return -1;
	v = json_object_get(comb, "window_slope");
	if (v != NULL && conf_floats(file, "window_slope", v, m->n_labels,
	    m->ng.window_slope) == -1)
		return -1;
	m->ng.n_labels = m->n_labels;
	m->has_ngram = 1;
	return 0;
}

/* Parse config.json (BUF) into M; *TOKFILE gets the tokenizer file name. */
static int
config_parse(struct model *m, const char *file, const char *buf, size_t len,
    const char **tokfile, json_t **rootp)
{
	json_t		*root, *v, *tk, *cal;
	json_error_t	 jerr;
	const char	*s;
	size_t		 i, j, mwc;
	double		 eps;

	*rootp = root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		log_warnx("%s:%d: %s", file, jerr.line, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		log_warnx("%s: not a JSON object", file);
		return -1;
	}
	v = json_object_get(root, "format");
	if (!json_is_string(v) || strcmp(json_string_value(v),
	    MODEL_FORMAT) != 0) {
		log_warnx("%s: \"format\" must be \"%s\"", file, MODEL_FORMAT);
		return -1;
	}
	if (conf_size(file, root, "vocab_size", 5, TOKENIZER_MAX_VOCAB,
	    &m->cfg.vocab_size) == -1 ||
	    conf_size(file, root, "d_model", 1, 4096, &m->cfg.d_model) == -1 ||
	    conf_size(file, root, "n_layers", 1, 64, &m->cfg.n_layers) == -1 ||
	    conf_size(file, root, "n_heads", 1, 256, &m->cfg.n_heads) == -1 ||
	    conf_size(file, root, "d_ff", 1, 65536, &m->cfg.d_ff) == -1 ||
	    conf_size(file, root, "max_positions", 2, 8192,
	    &m->cfg.max_positions) == -1)
		return -1;
	if (m->cfg.d_model % m->cfg.n_heads != 0) {
		log_warnx("%s: d_model %zu is not a multiple of n_heads %zu",
		    file, m->cfg.d_model, m->cfg.n_heads);
		return -1;
	}
	v = json_object_get(root, "norm_eps");
	eps = json_number_value(v);
	if (!json_is_number(v) || !(eps > 0 && eps <= 0.1)) {
		log_warnx("%s: \"norm_eps\" must be a number in (0, 0.1]", file);
		return -1;
	}
	m->cfg.norm_eps = (float)eps;
	v = json_object_get(root, "pooling");
	if (v != NULL && (!json_is_string(v) ||
	    (strcmp(json_string_value(v), "mean") != 0 &&
	    strcmp(json_string_value(v), "cls") != 0))) {
		log_warnx("%s: \"pooling\" must be \"mean\" or \"cls\"", file);
		return -1;
	}
	m->cfg.pool_cls = v != NULL && strcmp(json_string_value(v), "cls") == 0;

	v = json_object_get(root, "labels");
	if (!json_is_array(v) || json_array_size(v) < 1 ||
	    json_array_size(v) > MAX_LABELS) {
		log_warnx("%s: \"labels\" must be an array of 1 to %d names",
		    file, MAX_LABELS);
		return -1;
	}
	m->n_labels = m->cfg.n_labels = json_array_size(v);
	for (i = 0; i < m->n_labels; i++) {
		s = json_string_value(json_array_get(v, i));
		if (s == NULL || s[0] == '\0' ||
		    strlen(s) >= MODEL_LABEL_MAX ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
		    strlen(s)) {
			log_warnx("%s: labels[%zu] must be a name of [A-Za-z0-9_.-] "
			    "under %d bytes", file, i, MODEL_LABEL_MAX);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(m->labels[j], s) == 0) {
				log_warnx("%s: label \"%s\" twice", file, s);
				return -1;
			}
		if ((m->labels[i] = strdup(s)) == NULL) {
			log_warn("%s", file);
			return -1;
		}
	}

	tk = json_object_get(root, "tokenizer");
	if (!json_is_object(tk)) {
		log_warnx("%s: \"tokenizer\" must be an object", file);
		return -1;
	}
	v = json_object_get(tk, "kind");
	if (!json_is_string(v) || strcmp(json_string_value(v),
	    "wordpiece") != 0) {
		log_warnx("%s: tokenizer \"kind\" must be \"wordpiece\"", file);
		return -1;
	}
	v = json_object_get(tk, "file");
	s = json_string_value(v);
	if (s == NULL || s[0] == '\0' || strchr(s, '/') != NULL ||
	    strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strlen(s) > 255) {
		log_warnx("%s: tokenizer \"file\" must be a file name in the "
		    "model directory", file);
		return -1;
	}
	*tokfile = s;
	if (conf_size(file, tk, "max_word_chars", 1, TOKENIZER_MAX_WORD_CHARS,
	    &mwc) == -1)
		return -1;
	m->max_word_chars = (int)mwc;

	cal = json_object_get(root, "calibration");
	if (!json_is_object(cal)) {
		log_warnx("%s: \"calibration\" must be an object", file);
		return -1;
	}
	if (conf_floats(file, "scale", json_object_get(cal, "scale"),
	    m->n_labels, m->scale) == -1 ||
	    conf_floats(file, "bias", json_object_get(cal, "bias"),
	    m->n_labels, m->bias) == -1)
		return -1;
	return ngram_parse(m, file, json_object_get(root, "ngram"));
}

/*
 * The tensor NAME of shape [D0] (D1 == 0) or [D0, D1], marked used.
 * NULL after logging.
 */
static const float *
bind(struct model *m, const char *file, unsigned char *used, const char *name,
    size_t d0, size_t d1)
{
	const struct st_tensor *t;
	size_t		 nd = d1 ? 2 : 1;

	if ((t = safetensors_find(&m->st, name)) == NULL) {
		log_warnx("%s: tensor %s missing", file, name);
		return NULL;
	}
	if (t->ndim != nd || t->shape[0] != d0 || (nd == 2 &&
	    t->shape[1] != d1)) {
		if (nd == 1)
			log_warnx("%s: %s: want shape [%zu]", file, name, d0);
		else
			log_warnx("%s: %s: want shape [%zu, %zu]", file, name,
			    d0, d1);
		return NULL;
	}
	used[t - m->st.t] = 1;
	return t->data;
}

static int
weights_bind(struct model *m, const char *file)
{
	struct transformer_config *c = &m->cfg;
	struct transformer_weights *w = &m->w;
	struct transformer_layer *L;
	unsigned char	*used;
	char		 n[ST_MAX_NAME];
	size_t		 d = c->d_model, i;
	int		 rc = -1;

#define B(dst, nm, a, b) do {						\
	if (((dst) = bind(m, file, used, (nm), (a), (b))) == NULL)	\
		goto out;						\
} while (0)
#define BL(dst, suffix, a, b) do {					\
	snprintf(n, sizeof(n), "layers.%zu.%s", i, (suffix));		\
	B(dst, n, a, b);						\
} while (0)

	if ((used = calloc(m->st.n + 1, 1)) == NULL ||
	    (w->layers = calloc(c->n_layers, sizeof(*w->layers))) == NULL) {
		log_warn("%s", file);
		goto out;
	}
	B(w->tok_emb, "tok_emb.weight", c->vocab_size, d);
	B(w->pos_emb, "pos_emb.weight", c->max_positions, d);
	for (i = 0; i < c->n_layers; i++) {
		L = &w->layers[i];
		BL(L->ln1_w, "ln1.weight", d, 0);
		BL(L->ln1_b, "ln1.bias", d, 0);
		BL(L->qkv_w, "attn.qkv.weight", 3 * d, d);
		BL(L->qkv_b, "attn.qkv.bias", 3 * d, 0);
		BL(L->out_w, "attn.out.weight", d, d);
		BL(L->out_b, "attn.out.bias", d, 0);
		BL(L->ln2_w, "ln2.weight", d, 0);
		BL(L->ln2_b, "ln2.bias", d, 0);
		BL(L->up_w, "ffn.up.weight", c->d_ff, d);
		BL(L->up_b, "ffn.up.bias", c->d_ff, 0);
		BL(L->down_w, "ffn.down.weight", d, c->d_ff);
		BL(L->down_b, "ffn.down.bias", d, 0);
	}
	B(w->lnf_w, "ln_f.weight", d, 0);
	B(w->lnf_b, "ln_f.bias", d, 0);
	B(w->head_w, "head.weight", c->n_labels, d);
	B(w->head_b, "head.bias", c->n_labels, 0);
	if (m->has_ngram) {
		B(m->ng.weight, "ngram.weight", m->ng.buckets, c->n_labels);
		B(m->ng.bias, "ngram.bias", c->n_labels, 0);
	}
	for (i = 0; i < m->st.n; i++)
		if (!used[i]) {
			log_warnx("%s: unexpected tensor %s", file,
			    m->st.t[i].name);
			goto out;
		}
	rc = 0;
#undef BL
#undef B
out:
	free(used);
	return rc;
}

static struct model_slot *
slot_new(const struct model *m)
{
	struct model_slot *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto fail;
	if ((s->ts = transformer_state_new(&m->cfg, MODEL_BATCH_MAX)) == NULL)
		goto fail;
	s->toks_cap = SLOT_TOKENS;
	if ((s->toks = calloc(s->toks_cap, sizeof(*s->toks))) == NULL ||
	    (s->ids = calloc(MODEL_BATCH_MAX * m->cfg.max_positions,
	    sizeof(*s->ids))) == NULL ||
	    (s->logits = calloc(MODEL_BATCH_MAX * m->n_labels,
	    sizeof(*s->logits))) == NULL)
		goto fail;
	return s;
fail:
	log_warnx("%s: no memory for classifier scratch", m->dir);
	if (s != NULL) {
		transformer_state_free(s->ts);
		free(s->toks);
		free(s->ids);
		free(s->logits);
		free(s);
	}
	return NULL;
}

static void
slot_free(struct model_slot *s)
{
	transformer_state_free(s->ts);
	free(s->toks);
	free(s->ids);
	free(s->logits);
	free(s);
}

void
model_window_probs(const struct model *m, const float *logits,
    const char *text, size_t len, const float *zn, float *p)
{
	float	 z[MAX_LABELS];
	size_t	 j;

	if (m->has_ngram) {
		if (zn == NULL) {
			ngram_logits(&m->ng, text, len, z);
			zn = z;
		}
		ngram_combine(&m->ng, logits, zn, p);
		return;
	}
	for (j = 0; j < m->n_labels; j++)
		p[j] = 1.0f / (1.0f + expf(-(m->scale[j] * logits[j] +
		    m->bias[j])));
}

void
model_doc_probs(const struct model *m, size_t windows, float *p)
{
	if (m->has_ngram)
		ngram_doc_probs(&m->ng, windows, p);
}

struct model_slot *
model_slot_get(const struct model *cm)
{
	struct model	*m = (struct model *)cm;	/* the pool only */
	struct model_slot *s;

	pthread_mutex_lock(&m->lock);
	if ((s = m->free_slots) != NULL)
		m->free_slots = s->next;
	pthread_mutex_unlock(&m->lock);
	if (s == NULL && (s = slot_new(m)) != NULL) {
		pthread_mutex_lock(&m->lock);
		m->n_slots++;
		pthread_mutex_unlock(&m->lock);
	}
	return s;
}

void
model_slot_put(const struct model *cm, struct model_slot *s)
{
	struct model	*m = (struct model *)cm;

	if (s == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	s->next = m->free_slots;
	m->free_slots = s;
	pthread_mutex_unlock(&m->lock);
}

int
model_slot_reserve(const struct model *m, struct model_slot *s, size_t n)
{
	struct token	*t;

	if (n <= s->toks_cap)
		return 0;
	if (n > SIZE_MAX / sizeof(*t) ||
	    (t = realloc(s->toks, n * sizeof(*t))) == NULL) {
		log_warnx("%s: no memory for %zu tokens", m->dir, n);
		return -1;
	}
	s->toks = t;
	s->toks_cap = n;
	return 0;
}

void
model_slot_shrink(const struct model *m, struct model_slot *s)
{
	struct token	*t;

	if (s->toks_cap <= SLOT_TOKENS * 4 ||
	    (t = realloc(s->toks, SLOT_TOKENS * sizeof(*t))) == NULL)
		return;
	s->toks = t;
	s->toks_cap = SLOT_TOKENS;
}

struct model *
model_load(const char *dir)
{
	struct model	*m;
	crypto_hash_sha256_state h;
	json_t		*root = NULL;
	char		 path[PATH_MAX];
	char		*cbuf = NULL, *tbuf = NULL;
	const char	*tokfile;
	size_t		 clen, tlen, i, nslots;
	long		 ncpu;

	if (sodium_init() < 0) {
		log_warnx("libsodium failed to initialise");
		return NULL;
	}
	transformer_default_threads();
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->dir = strdup(dir)) == NULL) {
		log_warn("%s", dir);
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->qlock, NULL);
	pthread_cond_init(&m->qcond, NULL);
	crypto_hash_sha256_init(&h);

	if ((size_t)snprintf(path, sizeof(path), "%s/config.json", dir) >=
	    sizeof(path)) {
		log_warnx("%s: path too long", dir);
		goto fail;
	}
	if (model_file(path, CONFIG_MAX_BYTES, &cbuf, &clen) == -1 ||
	    config_parse(m, path, cbuf, clen, &tokfile, &root) == -1)
		goto fail;
	digest_file(&h, "config.json", cbuf, clen);

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, tokfile) >=
	    sizeof(path)) {
		log_warnx("%s: path too long", dir);
		goto fail;
	}
	if (model_file(path, TOKENIZER_MAX_BYTES, &tbuf, &tlen) == -1 ||
	    (m->tok = tokenizer_new(tbuf, tlen, m->max_word_chars,
	    path)) == NULL)
		goto fail;
	digest_file(&h, "tokenizer", tbuf, tlen);
	if (tokenizer_size(m->tok) != m->cfg.vocab_size) {
		log_warnx("%s: %zu tokens, config.json says vocab_size %zu",
		    path, tokenizer_size(m->tok), m->cfg.vocab_size);
		goto fail;
	}

	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	if (safetensors_open(&m->st, path) == -1 ||
	    weights_bind(m, path) == -1)
		goto fail;
	digest_file(&h, "model.safetensors", m->st.buf, m->st.len);
	crypto_hash_sha256_final(&h, m->digest);

	/* One scratch slot per CPU now; more only if more threads score. */
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	nslots = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (size_t)ncpu;
	m->ncpu = nslots;
	for (i = 0; i < nslots; i++) {
		struct model_slot *s = slot_new(m);
		if (s == NULL)
			goto fail;
		s->next = m->free_slots;
		m->free_slots = s;
		m->n_slots++;
	}
	json_decref(root);
	free(cbuf);
	free(tbuf);
	return m;
fail:
	json_decref(root);
	free(cbuf);
	free(tbuf);
	model_free(m);
	return NULL;
}

void
model_free(struct model *m)
{
	struct model_slot *s;
	size_t		 i;

	if (m == NULL)
		return;
	while ((s = m->free_slots) != NULL) {
		m->free_slots = s->next;
		slot_free(s);
	}
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->qlock);
	pthread_cond_destroy(&m->qcond);
	for (i = 0; i < MAX_LABELS; i++)
		free(m->labels[i]);
	free(m->w.layers);
	safetensors_close(&m->st);
	tokenizer_free(m->tok);
	free(m->dir);
	free(m);
}

size_t
model_labels(const struct model *m, const char *const **labels)
{
	if (labels != NULL)
		*labels = (const char *const *)m->labels;
	return m->n_labels;
}

void
model_digest(const struct model *m, void *ctx)
{
	crypto_hash_sha256_update(ctx, m->digest, sizeof(m->digest));
}
