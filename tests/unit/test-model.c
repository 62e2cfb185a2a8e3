/*
 * test-model: hostile and broken model directories.  Each case copies the
 * golden model of tests/data/model-golden into a temporary directory,
 * breaks one thing, and expects model_load to refuse it with a message,
 * never to crash or read out of bounds (run under `make test SAN=1`).
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>

#include "classifier.h"
#include "model-internal.h"
#include "safetensors.h"
#include "tokenizer.h"

static char	 src[4096], tmp[64];
static char	*st_buf, *cfg_buf, *tok_buf;
static size_t	 st_len, cfg_len, tok_len;

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	char	*b;
	long	 n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void
put(const char *name, const void *buf, size_t len)
{
	char	 path[200];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

/* A fresh copy of the golden model in tmp. */
static void
reset(void)
{
	put("config.json", cfg_buf, cfg_len);
	put("tokenizer.txt", tok_buf, tok_len);
	put("model.safetensors", st_buf, st_len);
}

static int
setup(void **state)
{
	const char	*top = getenv("MODGATE_TOP");

	snprintf(src, sizeof(src), "%s/tests/data/model-golden",
	    top ? top : ".");
	strcpy(tmp, "/tmp/test-model.XXXXXX");
	assert_non_null(mkdtemp(tmp));
	snprintf(src + strlen(src), sizeof(src) - strlen(src), "/%s",
	    "config.json");
	cfg_buf = slurp(src, &cfg_len);
	strcpy(strrchr(src, '/') + 1, "tokenizer.txt");
	tok_buf = slurp(src, &tok_len);
	strcpy(strrchr(src, '/') + 1, "model.safetensors");
	st_buf = slurp(src, &st_len);
	return 0;
}

static int
teardown(void **state)
{
	char	 path[200];

	snprintf(path, sizeof(path), "%s/config.json", tmp);
	unlink(path);
	snprintf(path, sizeof(path), "%s/tokenizer.txt", tmp);
	unlink(path);
	snprintf(path, sizeof(path), "%s/model.safetensors", tmp);
	unlink(path);
	rmdir(tmp);
	free(st_buf);
	free(cfg_buf);
	free(tok_buf);
	return 0;
}

static void
expect_fail(const char *what)
{
	struct model	*m = model_load(tmp);

	if (m != NULL) {
		model_free(m);
		fail_msg("model loaded despite: %s", what);
	}
	reset();
}

static void
test_control(void **state)
{
	struct model	*m;
	struct classifier_conf conf = { .window = 16, .stride = 8,
	    .batch_max = 4 };
	struct classifier_out out;

	reset();
	m = model_load(tmp);
	assert_non_null(m);
	assert_int_equal(classifier_score(m, &conf, "hello there", 11, &out),
	    0);
	model_free(m);
	model_free(NULL);
}

static void
digest_of(unsigned char out[32])
{
	crypto_hash_sha256_state st;
	struct model	*m = model_load(tmp);

	assert_non_null(m);
	crypto_hash_sha256_init(&st);
	model_digest(m, &st);
	crypto_hash_sha256_final(&st, out);
	model_free(m);
}

/* The digest is a function of the three files, each of them. */
static void
test_digest(void **state)
{
	unsigned char	 a[32], b[32];
	char		*c;

	reset();
	digest_of(a);
	digest_of(b);
	assert_memory_equal(a, b, 32);
	c = malloc(cfg_len + 2);
	memcpy(c, cfg_buf, cfg_len);
	c[cfg_len] = ' ';
	put("config.json", c, cfg_len + 1);
	free(c);
	digest_of(b);
	assert_memory_not_equal(a, b, 32);
	reset();
	c = malloc(st_len);
	memcpy(c, st_buf, st_len);
	c[st_len - 1] ^= 1;
	put("model.safetensors", c, st_len);
	free(c);
	digest_of(b);
	assert_memory_not_equal(a, b, 32);
	reset();
	/* the last two vocabulary lines swapped: still valid, not the same */
	{
		char *l1, *l2;
		size_t n1, n2;

		c = malloc(tok_len + 1);
		memcpy(c, tok_buf, tok_len);
		c[tok_len] = '\0';
		l2 = c + tok_len - 1;			/* final newline */
		while (l2[-1] != '\n')
			l2--;
		l1 = l2 - 1;
		while (l1[-1] != '\n')
			l1--;
		n1 = (size_t)(l2 - l1);
		n2 = (size_t)(c + tok_len - l2);
		{
			char *t = malloc(n1 + n2);
			memcpy(t, l2, n2);
			memcpy(t + n2, l1, n1);
			memcpy(l1, t, n1 + n2);
			free(t);
		}
		put("tokenizer.txt", c, tok_len);
		free(c);
	}
	digest_of(b);
	assert_memory_not_equal(a, b, 32);
	reset();
}

/* ---- model.safetensors ---- */

static uint64_t
hlen_of(const char *b)
{
	uint64_t n = 0;
	int	 i;

	for (i = 0; i < 8; i++)
		n |= (uint64_t)(unsigned char)b[i] << (8 * i);
	return n;
}

static json_t *
header(void)
{
	json_t	*h = json_loadb(st_buf + 8, hlen_of(st_buf), 0, NULL);

	assert_non_null(h);
	return h;
}

/* Write header H (padded to 8) and the golden data section, or DATA. */
static void
put_st(json_t *h, const char *data, size_t dlen)
{
	char	*js = json_dumps(h, JSON_COMPACT), *b;
	size_t	 n = strlen(js), pad = (8 - n % 8) % 8, i;
	uint64_t hl = n + pad;

	if (data == NULL) {
		data = st_buf + 8 + hlen_of(st_buf);
		dlen = st_len - 8 - hlen_of(st_buf);
	}
	b = malloc(8 + hl + dlen);
	assert_non_null(b);
	for (i = 0; i < 8; i++)
		b[i] = (char)(hl >> (8 * i));
	memcpy(b + 8, js, n);
	memset(b + 8 + n, ' ', pad);
	memcpy(b + 8 + hl, data, dlen);
	put("model.safetensors", b, 8 + hl + dlen);
	free(b);
	free(js);
	json_decref(h);
}

static void
test_truncated(void **state)
{
	size_t	 hend = 8 + hlen_of(st_buf), n;
	char	 b[16];

	/* every length through the header, then steps through the data */
	for (n = 0; n < st_len; n += (n < hend + 64 ? 1 : 997)) {
		put("model.safetensors", st_buf, n);
		expect_fail("truncated weights");
	}
	put("model.safetensors", st_buf, st_len - 1);
	expect_fail("one byte short");
	/* a longer file is a tensor-free tail: still refused? no: allowed */
	/* header length past the end of the file */
	memcpy(b, st_buf, 8);
	b[0] = (char)0xff;
	b[1] = (char)0xff;
	b[2] = (char)0x0f;
	memcpy(b + 8, "{}      ", 8);
	put("model.safetensors", b, 16);
	expect_fail("header length past EOF");
	memset(b, 0xff, 8);
	put("model.safetensors", b, 16);
	expect_fail("header length 2^64-1");
}

static void
test_header_json(void **state)
{
	static const char *const bad[] = {
		"[]", "null", "{", "{\"a\":1}", "{\"x\":{\"dtype\":\"F32\"}}",
		"{\"__metadata__\":[]}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
		"\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
	};
	size_t	 i, n;
	char	 b[512];

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = strlen(bad[i]);
		memset(b, 0, 8);
		b[0] = (char)n;
		memcpy(b + 8, bad[i], n);
		memset(b + 8 + n, 0, 8);
		put("model.safetensors", b, 8 + n + 8);
		expect_fail(bad[i]);
	}
}

static void
set_entry(json_t *h, const char *name, const char *dtype, json_t *shape,
    json_t *offs)
{
	json_t	*e = json_object_get(h, name);

	assert_non_null(e);
	if (dtype)
		json_object_set_new(e, "dtype", json_string(dtype));
	if (shape)
		json_object_set_new(e, "shape", shape);
	if (offs)
		json_object_set_new(e, "data_offsets", offs);
}

static void
test_tensors(void **state)
{
	json_t	*h, *e;
	size_t	 dlen = st_len - 8 - hlen_of(st_buf);

	h = header();
	put_st(h, NULL, 0);
	{
		struct model *m = model_load(tmp);	/* rewritten, still fine */
		assert_non_null(m);
		model_free(m);
	}

	h = header();
	set_entry(h, "head.bias", "F16", NULL, NULL);
	put_st(h, NULL, 0);
	expect_fail("F16 tensor");

	h = header();
	set_entry(h, "head.bias", "BF16", NULL, NULL);
	put_st(h, NULL, 0);
	expect_fail("BF16 tensor");

	h = header();
	json_object_del(h, "head.bias");
	put_st(h, NULL, 0);
	expect_fail("missing tensor");

	h = header();
	json_object_set_new(h, "extra.weight", json_pack("{s:s,s:[i],s:[I,I]}",
	    "dtype", "F32", "shape", 0, "data_offsets", (json_int_t)dlen,
	    (json_int_t)dlen));
	put_st(h, NULL, 0);
	expect_fail("extra tensor");

	/* same byte count, transposed shape */
	h = header();
	e = json_object_get(json_object_get(h, "layers.0.ffn.up.weight"),
	    "shape");
	set_entry(h, "layers.0.ffn.up.weight", NULL, json_pack("[I,I]",
	    json_integer_value(json_array_get(e, 1)),
	    json_integer_value(json_array_get(e, 0))), NULL);
	put_st(h, NULL, 0);
	expect_fail("transposed shape");

	h = header();
	set_entry(h, "tok_emb.weight", NULL, json_pack("[i,i,i]", 1, 1, 1),
	    NULL);
	put_st(h, NULL, 0);
	expect_fail("shape and offsets disagree");

	h = header();
	set_entry(h, "head.bias", NULL, json_pack("[I]",
	    (json_int_t)1 << 62), NULL);
	put_st(h, NULL, 0);
	expect_fail("shape overflowing size_t");

	h = header();
	set_entry(h, "head.bias", NULL, json_pack("[i]", -6), NULL);
	put_st(h, NULL, 0);
	expect_fail("negative shape");

	h = header();
	set_entry(h, "head.bias", NULL, json_pack("[f]", 6.0), NULL);
	put_st(h, NULL, 0);
	expect_fail("real shape");

	h = header();
	set_entry(h, "head.bias", NULL, NULL, json_pack("[I,I]",
	    (json_int_t)dlen - 8, (json_int_t)dlen + 16));
	put_st(h, NULL, 0);
	expect_fail("offsets past the end");

	h = header();
	set_entry(h, "head.bias", NULL, NULL, json_pack("[I,I]",
	    (json_int_t)24, (json_int_t)0));
	put_st(h, NULL, 0);
	expect_fail("offsets reversed");

	h = header();
	set_entry(h, "head.bias", NULL, NULL, json_pack("[I,I]",
	    (json_int_t)2, (json_int_t)26));
	put_st(h, NULL, 0);
	expect_fail("misaligned offsets");

	h = header();
	set_entry(h, "head.bias", NULL, NULL, json_pack("[i]", 0));
	put_st(h, NULL, 0);
	expect_fail("one offset");

	/* ln_f.bias placed on top of ln_f.weight (same size) */
	h = header();
	e = json_object_get(json_object_get(h, "ln_f.weight"),
	    "data_offsets");
	set_entry(h, "ln_f.bias", NULL, NULL, json_deep_copy(e));
	put_st(h, NULL, 0);
	expect_fail("overlapping tensors");

	h = header();
	e = json_object_get(json_object_get(h, "ln_f.weight"),
	    "data_offsets");
	set_entry(h, "ln_f.bias", NULL, NULL, json_pack("[I,I]",
	    json_integer_value(json_array_get(e, 0)) + 4,
	    json_integer_value(json_array_get(e, 1)) + 4));
	put_st(h, NULL, 0);
	expect_fail("partly overlapping tensors");

	h = header();
	json_object_set_new(json_object_get(h, "head.bias"), "extra",
	    json_true());
	put_st(h, NULL, 0);
	expect_fail("unknown key in an entry");
}

static void
test_safetensors_api(void **state)
{
	struct safetensors st;

	assert_int_equal(safetensors_parse(&st, st_buf, st_len, "golden"), 0);
	assert_non_null(safetensors_find(&st, "tok_emb.weight"));
	assert_null(safetensors_find(&st, "nope"));
	assert_int_equal(safetensors_find(&st, "head.bias")->nelem, 6);
	safetensors_close(&st);
	assert_int_equal(safetensors_parse(&st, st_buf, 7, "short"), -1);
	safetensors_close(&st);
	assert_int_equal(safetensors_open(&st, "/nonexistent/x"), -1);
	assert_int_equal(safetensors_open(&st, "/tmp"), -1);
}

/* ---- config.json ---- */

static void
put_cfg(json_t *c)
{
	char	*s = json_dumps(c, 0);

	put("config.json", s, strlen(s));
	free(s);
	json_decref(c);
}

static json_t *
cfg(void)
{
	json_t	*c = json_loadb(cfg_buf, cfg_len, 0, NULL);

	assert_non_null(c);
	return c;
}

static void
test_config(void **state)
{
	json_t	*c;
	int	 i;
	static const char *const ints[] = { "vocab_size", "d_model",
	    "n_layers", "n_heads", "d_ff", "max_positions" };

	for (i = 0; i < 6; i++) {
		c = cfg();
		json_object_set_new(c, ints[i], json_integer(0));
		put_cfg(c);
		expect_fail(ints[i]);
		c = cfg();
		json_object_set_new(c, ints[i], json_string("32"));
		put_cfg(c);
		expect_fail(ints[i]);
		c = cfg();
		json_object_set_new(c, ints[i], json_integer(-1));
		put_cfg(c);
		expect_fail(ints[i]);
		c = cfg();
		json_object_set_new(c, ints[i], json_integer(1LL << 40));
		put_cfg(c);
		expect_fail(ints[i]);
		c = cfg();
		json_object_del(c, ints[i]);
		put_cfg(c);
		expect_fail(ints[i]);
	}
	c = cfg();
	json_object_set_new(c, "n_heads", json_integer(3));
	put_cfg(c);
	expect_fail("d_model % n_heads");
	c = cfg();
	json_object_set_new(c, "d_model", json_integer(64));
	put_cfg(c);
	expect_fail("d_model disagreeing with the weights");
	c = cfg();
	json_object_set_new(c, "max_positions", json_integer(64));
	put_cfg(c);
	expect_fail("max_positions disagreeing with the weights");
	c = cfg();
	json_object_set_new(c, "vocab_size", json_integer(699));
	put_cfg(c);
	expect_fail("vocab_size disagreeing with the tokenizer");
	c = cfg();
	json_object_set_new(c, "norm_eps", json_real(-1e-5));
	put_cfg(c);
	expect_fail("negative norm_eps");
	c = cfg();
	json_object_set_new(c, "format", json_string("gguf"));
	put_cfg(c);
	expect_fail("format");
	c = cfg();
	json_object_set_new(c, "labels", json_pack("[s,s,s,s,s,s,s,s,s,s,s,s,"
	    "s,s,s,s,s]", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j",
	    "k", "l", "m", "n", "o", "p", "q"));
	put_cfg(c);
	expect_fail("17 labels");
	c = cfg();
	json_object_set_new(c, "labels", json_pack("[s,s,s,s,s,s]", "a",
	    "b", "c", "d", "e", "a"));
	put_cfg(c);
	expect_fail("duplicate label");
	c = cfg();
	json_object_set_new(c, "labels", json_pack("[s,s,s,s,s]", "a", "b",
	    "c", "d", "e"));
	put_cfg(c);
	expect_fail("5 labels for a head of 6");
	c = cfg();
	json_object_set_new(c, "labels", json_pack("[s,s,s,s,s,i]", "a", "b",
	    "c", "d", "e", 6));
	put_cfg(c);
	expect_fail("label not a string");
	c = cfg();
	json_object_set_new(json_object_get(c, "tokenizer"), "file",
	    json_string("../../etc/passwd"));
	put_cfg(c);
	expect_fail("tokenizer path escaping the directory");
	c = cfg();
	json_object_set_new(json_object_get(c, "tokenizer"), "kind",
	    json_string("bpe"));
	put_cfg(c);
	expect_fail("tokenizer kind");
	c = cfg();
	json_object_set_new(json_object_get(c, "tokenizer"), "max_word_chars",
	    json_integer(0));
	put_cfg(c);
	expect_fail("max_word_chars 0");
	c = cfg();
	json_array_remove(json_object_get(json_object_get(c, "calibration"),
	    "scale"), 0);
	put_cfg(c);
	expect_fail("calibration too short");
	c = cfg();
	json_array_set_new(json_object_get(json_object_get(c, "calibration"),
	    "bias"), 0, json_string("x"));
	put_cfg(c);
	expect_fail("calibration not numbers");
	c = cfg();
	json_object_del(c, "calibration");
	put_cfg(c);
	expect_fail("no calibration");
	put("config.json", "{\"format\":", 10);
	expect_fail("truncated config.json");
	put("config.json", "", 0);
	expect_fail("empty config.json");
	put("config.json", "[1,2]", 5);
	expect_fail("config.json an array");
}

/* ---- the optional n-gram head ---- */

static void
test_ngram(void **state)
{
	struct model	*m;
	json_t		*c, *ng, *h;
	static const char *const arrs[] = { "w_transformer", "w_ngram",
	    "bias" };
	int		 i;

	reset();
	m = model_load(tmp);
	assert_non_null(m);
	assert_true(m->has_ngram);
	assert_int_equal(m->ng.buckets, 4096);
	model_free(m);

	/* Without "ngram" its tensors are unexpected. */
	c = cfg();
	json_object_del(c, "ngram");
	put_cfg(c);
	expect_fail("n-gram tensors without \"ngram\"");

	c = cfg();
	json_object_set_new(c, "ngram", json_integer(1));
	put_cfg(c);
	expect_fail("ngram not an object");
	c = cfg();
	json_object_set_new(json_object_get(c, "ngram"), "buckets",
	    json_integer(4095));
	put_cfg(c);
	expect_fail("buckets disagreeing with ngram.weight");
	c = cfg();
	json_object_set_new(json_object_get(c, "ngram"), "buckets",
	    json_integer(0));
	put_cfg(c);
	expect_fail("buckets 0");
	c = cfg();
	json_object_set_new(json_object_get(c, "ngram"), "buckets",
	    json_integer(1LL << 40));
	put_cfg(c);
	expect_fail("buckets 2^40");
	c = cfg();
	json_object_set_new(json_object_get(c, "ngram"), "buckets",
	    json_integer(-4096));
	put_cfg(c);
	expect_fail("buckets negative");
	c = cfg();
	json_object_set_new(json_object_get(c, "ngram"), "features",
	    json_string("crc32:w1"));
	put_cfg(c);
	expect_fail("unknown features");
	c = cfg();
	json_object_set_new(json_object_get(c, "ngram"), "context",
	    json_string("sentence"));
	put_cfg(c);
	expect_fail("unknown context");
	c = cfg();
	json_object_set_new(json_object_get(c, "ngram"), "context",
	    json_integer(1));
	put_cfg(c);
	expect_fail("context not a string");
	c = cfg();
	json_object_set_new(json_object_get(c, "ngram"), "context",
	    json_string("text"));
	put_cfg(c);
	m = model_load(tmp);
	assert_non_null(m);
	assert_true(m->ng.whole_text);
	model_free(m);
	reset();
	c = cfg();
	json_object_del(json_object_get(c, "ngram"), "combine");
	put_cfg(c);
	expect_fail("no combine");
	for (i = 0; i < 3; i++) {
		c = cfg();
		ng = json_object_get(json_object_get(c, "ngram"), "combine");
		json_array_remove(json_object_get(ng, arrs[i]), 0);
		put_cfg(c);
		expect_fail(arrs[i]);
		c = cfg();
		ng = json_object_get(json_object_get(c, "ngram"), "combine");
		json_array_set_new(json_object_get(ng, arrs[i]), 1,
		    json_real(1e300));
		put_cfg(c);
		expect_fail(arrs[i]);
		c = cfg();
		ng = json_object_get(json_object_get(c, "ngram"), "combine");
		json_array_set_new(json_object_get(ng, arrs[i]), 1,
		    json_string("1"));
		put_cfg(c);
		expect_fail(arrs[i]);
	}

	/* Tensors: missing, wrong shape. */
	h = header();
	json_object_del(h, "ngram.bias");
	put_st(h, NULL, 0);
	expect_fail("ngram.bias missing");
	h = header();
	json_object_del(h, "ngram.weight");
	put_st(h, NULL, 0);
	expect_fail("ngram.weight missing");
	h = header();
	set_entry(h, "ngram.bias", NULL, json_pack("[i,i]", 2, 3), NULL);
	put_st(h, NULL, 0);
	expect_fail("ngram.bias of shape [2, 3]");
	h = header();
	set_entry(h, "ngram.weight", NULL, json_pack("[i,i]", 6, 4096),
	    NULL);
	put_st(h, NULL, 0);
	expect_fail("ngram.weight transposed");
}

/* "pooling": "mean" (also when absent) or "cls", nothing else. */
static void
test_pooling(void **state)
{
	static const struct {
		const char	*json;		/* NULL: no "pooling" */
		int		 cls;		/* -1: must not load */
	} cases[] = {
		{ NULL, 0 }, { "\"cls\"", 1 }, { "\"mean\"", 0 },
		{ "\"max\"", -1 }, { "1", -1 }, { "null", -1 },
	};
	struct model	*m;
	json_t		*c;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = cfg();
		if (cases[i].json != NULL)
			json_object_set_new(c, "pooling", json_loads(
			    cases[i].json, JSON_DECODE_ANY, NULL));
		put_cfg(c);
		if (cases[i].cls == -1) {
			expect_fail(cases[i].json);
			continue;
		}
		m = model_load(tmp);
		assert_non_null(m);
		assert_int_equal(m->cfg.pool_cls, cases[i].cls);
		model_free(m);
	}
	reset();
}

/*
 * The window-count term: optional, checked like the other arrays, and a
 * text of n windows scores sigmoid(logit(m) - slope ln n) with m what it
 * scores without the term (the same windows and maxima).
 */
static void
test_window_slope(void **state)
{
	struct model	*m;
	struct classifier_conf conf = { .window = 8, .stride = 4,
	    .batch_max = 4 };
	struct classifier_out flat, sloped, one;
	static const char text[] = "the quick brown fox jumps over the lazy "
	    "dog while the cat watches from a sunny window sill all day";
	static const double slope[] = { 0.5, 0, 1.25, 2, 0.1, 3 };
	json_t		*c, *comb, *arr;
	double		 z, want;
	size_t		 j, n;

	reset();
	m = model_load(tmp);
	assert_non_null(m);
	for (j = 0; j < m->n_labels; j++)
		assert_true(m->ng.window_slope[j] == 0);
	assert_int_equal(classifier_score(m, &conf, text, strlen(text),
	    &flat), 0);
	assert_int_equal(classifier_score(m, &conf, "fox", 3, &one), 0);
	n = tokenizer_encode(m->tok, text, strlen(text), NULL, 0);
	model_free(m);
	assert_true(n > 2 * 7);			/* several windows */
	n = 1 + (n - 7 + 3) / 4;

	c = cfg();
	comb = json_object_get(json_object_get(c, "ngram"), "combine");
	arr = json_array();
	for (j = 0; j < sizeof(slope) / sizeof(slope[0]); j++)
		json_array_append_new(arr, json_real(slope[j]));
	json_object_set_new(comb, "window_slope", arr);
	put_cfg(c);
	m = model_load(tmp);
	assert_non_null(m);
	assert_int_equal(classifier_score(m, &conf, text, strlen(text),
	    &sloped), 0);
	for (j = 0; j < m->n_labels; j++) {
		z = log(flat.scores[j]) - log1p(-(double)flat.scores[j]);
		want = 1 / (1 + exp(-(z - slope[j] * log((double)n))));
		assert_true(fabs(sloped.scores[j] - want) < 1e-6);
		if (slope[j] > 0)
			assert_true(sloped.scores[j] < flat.scores[j]);
	}
	assert_int_equal(sloped.span_start, flat.span_start);
	assert_int_equal(sloped.span_end, flat.span_end);
	/* One window: no term. */
	assert_int_equal(classifier_score(m, &conf, "fox", 3, &sloped), 0);
	for (j = 0; j < m->n_labels; j++)
		assert_true(sloped.scores[j] == one.scores[j]);
	model_free(m);

	c = cfg();
	comb = json_object_get(json_object_get(c, "ngram"), "combine");
	json_object_set_new(comb, "window_slope", json_pack("[f,f]", 1.0,
	    1.0));
	put_cfg(c);
	expect_fail("window_slope of 2 numbers");
	c = cfg();
	comb = json_object_get(json_object_get(c, "ngram"), "combine");
	json_object_set_new(comb, "window_slope", json_pack("[f,f,f,f,f,s]",
	    1.0, 1.0, 1.0, 1.0, 1.0, "1"));
	put_cfg(c);
	expect_fail("window_slope with a string");
	c = cfg();
	comb = json_object_get(json_object_get(c, "ngram"), "combine");
	json_object_set_new(comb, "window_slope", json_pack("[f,f,f,f,f,f]",
	    1.0, 1.0, 1.0, 1.0, 1.0, 1e300));
	put_cfg(c);
	expect_fail("window_slope 1e300");
}

/* ---- tokenizer.txt ---- */

static void
put_tok_edit(const char *find, const char *repl)
{
	char	*b, *p;
	size_t	 fl = strlen(find), rl = strlen(repl);

	p = memmem(tok_buf, tok_len, find, fl);
	assert_non_null(p);
	b = malloc(tok_len + rl + 1);
	assert_non_null(b);
	memcpy(b, tok_buf, (size_t)(p - tok_buf));
	memcpy(b + (p - tok_buf), repl, rl);
	memcpy(b + (p - tok_buf) + rl, p + fl, tok_len - (size_t)(p -
	    tok_buf) - fl);
	put("tokenizer.txt", b, tok_len - fl + rl);
	free(b);
}

static void
test_vocab(void **state)
{
	char	*longline;
	size_t	 n;

	/* the entry on line 6 replaced by the one on line 5 */
	{
		const char *l5, *l6, *l7;
		char *b;
		size_t pre, n5, rest;

		l5 = memchr(tok_buf, '\n', tok_len);	/* end of line 1 */
		for (n = 1; n < 4; n++)
			l5 = memchr(l5 + 1, '\n', tok_len);
		l5++;					/* line 5 */
		l6 = (const char *)memchr(l5, '\n', tok_len) + 1;
		l7 = (const char *)memchr(l6, '\n', tok_len) + 1;
		n5 = (size_t)(l6 - l5);
		pre = (size_t)(l6 - tok_buf);
		rest = tok_len - (size_t)(l7 - tok_buf);
		b = malloc(tok_len + 64);
		assert_non_null(b);
		memcpy(b, tok_buf, pre);
		memcpy(b + pre, l5, n5);
		memcpy(b + pre + n5, l7, rest);
		put("tokenizer.txt", b, pre + n5 + rest);
		free(b);
	}
	expect_fail("duplicate token");

	longline = malloc(TOKENIZER_MAX_PIECE + 16);
	memset(longline, 'q', TOKENIZER_MAX_PIECE + 8);
	memcpy(longline, "[SEP]\n", 6);
	longline[TOKENIZER_MAX_PIECE + 8] = '\n';
	longline[TOKENIZER_MAX_PIECE + 9] = '\0';
	put_tok_edit("[SEP]\n", longline);
	expect_fail("line too long");
	free(longline);

	put_tok_edit("[SEP]\n", "[SEP]\n\n");
	expect_fail("empty line");
	put_tok_edit("[SEP]\n", "[SEX]\n");
	expect_fail("special token misnamed");
	put_tok_edit("[UNK]\n", "");
	expect_fail("special token missing");
	put_tok_edit("[SEP]\n", "[SEP]\r\n");
	expect_fail("CRLF");
	put_tok_edit("[SEP]\n", "[SEP]\n\xc3\x28\n");
	expect_fail("invalid UTF-8");
	put_tok_edit("[SEP]\n", "[SEP]\na b\n");
	expect_fail("space inside a token");
	put("tokenizer.txt", "", 0);
	expect_fail("empty vocabulary");
	put("tokenizer.txt", tok_buf, tok_len / 2);
	expect_fail("truncated vocabulary");
}

static void
test_missing_files(void **state)
{
	char	 path[200];

	snprintf(path, sizeof(path), "%s/tokenizer.txt", tmp);
	unlink(path);
	expect_fail("no tokenizer.txt");
	snprintf(path, sizeof(path), "%s/model.safetensors", tmp);
	unlink(path);
	expect_fail("no model.safetensors");
	snprintf(path, sizeof(path), "%s/config.json", tmp);
	unlink(path);
	expect_fail("no config.json");
	assert_null(model_load("/nonexistent"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_header_json),
		cmocka_unit_test(test_tensors),
		cmocka_unit_test(test_safetensors_api),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_ngram),
		cmocka_unit_test(test_window_slope),
		cmocka_unit_test(test_pooling),
		cmocka_unit_test(test_vocab),
		cmocka_unit_test(test_missing_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
