/*
 * test-stream: the stream engine without a daemon.  The classifier scores
 * a stream's windows as they complete, with the golden model of
 * tests/data/model-golden: after the last append the stream's scores are
 * those of classifier_score on the prefix that the complete windows cover,
 * never above the whole-text scores at close; a block threshold blocks the
 * stream at the bytes not yet released.  Calls run in ticket order, and a
 * call given up unrun passes its turn on.
 */
#include <math.h>
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

#include "classifier.h"
#include "config.h"
#include "model-internal.h"
#include "snapshot.h"
#include "stream.h"
#include "tokenizer.h"

#define WINDOW	16
#define STRIDE	8
#define TOL	1e-4

static struct snapshot	*snap;
static struct model	*own_model;	/* loaded here when snapshot_load did not */
static char		 conf_path[256];

static const char *const words[] = { "the", "and", "you", "for", "that",
    "can", "with", "are", "your", "this", "have", "help", "their", "not",
    "from", "such", "they", "was", "which", "all", "use", "more", "will",
    "has", "some", "but", "also", "may", "them", "here", "play", "other",
    "there", "time", "over", "learn", "how", "any", "these", "need", "make" };

static int
setup(void **state)
{
	const char	*top = getenv("MODGATE_TOP");
	char		 model[4096];
	FILE		*f;
	int		 fd;

	snprintf(model, sizeof(model), "%s/tests/data/model-golden",
	    top ? top : ".");
	snprintf(conf_path, sizeof(conf_path), "/tmp/test-stream.XXXXXX");
	if ((fd = mkstemp(conf_path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		return -1;
	fprintf(f,
	    "server: { socket = \"/tmp/test-stream.sock\";"
	    " stream_holdback = 16; };\n"
	    "rules: { paths = []; };\n"
	    "classifier: { enabled = true; model = \"%s\"; window = %d;"
	    " stride = %d; batch_max = 3; };\n"
	    "audit: { enabled = false; };\n"
	    "policies: {\n"
	    "  default: { categories = { hate = { block = 2.0; }; }; };\n"
	    "  blockall: { categories = { hate = { block = 0.0; };"
	    " violence = { block = 0.0; }; }; };\n"
	    "};\n", model, WINDOW, STRIDE);
	fclose(f);
	if ((snap = snapshot_load(conf_path, NULL)) == NULL)
		return -1;
	if (snap->model == NULL) {
		if ((own_model = model_load(model)) == NULL)
			return -1;
		snap->model = own_model;
	}
	return 0;
}

static int
teardown(void **state)
{
	if (own_model != NULL) {
		snap->model = NULL;
		model_free(own_model);
	}
	snapshot_unref(snap);
	unlink(conf_path);
	return 0;
}

/* Run one call to its answer; NULL for an error (*CODE set). */
static json_t *
call(enum stream_op op, const char *id, const char *text, const char *policy,
    const char **code)
{
	struct stream_args	 a;
	struct stream_call	*c;
	char			 msg[256];
	json_t			*o;

	memset(&a, 0, sizeof(a));
	a.op = op;
	a.stream = id;
	a.text = text;
	a.len = text != NULL ? strlen(text) : 0;
	a.policy = policy;
	a.owner = 7;
	if ((c = stream_call_new(snap, &a, code, msg, sizeof(msg))) == NULL)
		return NULL;
	stream_call_run(c, NULL);
	o = stream_call_result(c, code, msg, sizeof(msg));
	stream_call_free(c);
	return o;
}

static char *
make_text(size_t nwords, unsigned int seed)
{
	size_t	 i, n = 0;
	char	*t = malloc(nwords * 8 + 1);

	for (i = 0; i < nwords; i++) {
		seed = seed * 1103515245u + 12345u;
		n += (size_t)sprintf(t + n, "%s ",
		    words[(seed >> 16) % (sizeof(words) / sizeof(words[0]))]);
	}
	return t;
}

static void
test_windows_as_they_fill(void **state)
{
	struct classifier_out	 ref, whole;
	struct token		*toks;
	const char		*code = NULL, *const *labels;
	char			*text = make_text(150, 3), sid[32], chunk[64];
	size_t			 len = strlen(text), n, k, off, nl, j, end;
	json_t			*o, *last = NULL, *sc;
	double			 v;

	o = call(STREAM_OPEN, NULL, NULL, NULL, &code);
	assert_non_null(o);
	snprintf(sid, sizeof(sid), "%s", json_string_value(json_object_get(o,
	    "stream")));
	json_decref(o);
	/* Chunks of 5 bytes: words are cut anywhere. */
	for (off = 0; off < len; off += 5) {
		snprintf(chunk, sizeof(chunk), "%.5s", text + off);
		o = call(STREAM_APPEND, sid, chunk, NULL, &code);
		assert_non_null(o);
		assert_string_not_equal(json_string_value(json_object_get(o,
		    "verdict")), "block");
		json_decref(last);
		last = o;
	}
	/* The text ends in a space: every token is known. */
	toks = calloc(len, sizeof(*toks));
	n = tokenizer_encode(snap->model->tok, text, len, toks, len);
	assert_true(n >= 100);
	assert_int_equal(n, 150);		/* one token a word */
	k = (n - (WINDOW - 1)) / STRIDE + 1;	/* complete windows */
	end = toks[(k - 1) * STRIDE + WINDOW - 2].end;
	assert_int_equal(classifier_score(snap->model, &snap->cfg->classifier,
	    text, end, &ref), 0);
	assert_int_equal(classifier_score(snap->model, &snap->cfg->classifier,
	    text, len, &whole), 0);
	nl = model_labels(snap->model, &labels);
	sc = json_object_get(last, "scores");
	assert_non_null(sc);
	assert_int_equal(json_object_size(sc), nl);
	for (j = 0; j < nl; j++) {
		v = json_real_value(json_object_get(sc, labels[j]));
		assert_true(v > 0);
		assert_true(fabs(v - ref.scores[j]) <= TOL);
		assert_true(v <= whole.scores[j] + TOL);
	}
	json_decref(last);
	/* Close: the whole-text scores. */
	o = call(STREAM_CLOSE, sid, NULL, NULL, &code);
	assert_non_null(o);
	sc = json_object_get(o, "scores");
	for (j = 0; j < nl; j++)
		assert_true(fabs(json_real_value(json_object_get(sc,
		    labels[j])) - whole.scores[j]) <= TOL);
	assert_string_equal(json_string_value(json_object_get(o, "verdict")),
	    "allow");
	assert_false(json_is_true(json_object_get(o, "late")));
	json_decref(o);
	free(toks);
	free(text);
}

static void
test_window_blocks(void **state)
{
	const char	*code = NULL;
	char		*text = make_text(40, 9), sid[32];
	size_t		 half = 60;
	json_t		*o;
	json_int_t	 released, off;

	o = call(STREAM_OPEN, NULL, NULL, "blockall", &code);
	assert_non_null(o);
	snprintf(sid, sizeof(sid), "%s", json_string_value(json_object_get(o,
	    "stream")));
	json_decref(o);
	/* Too few tokens for a complete window: held, not blocked. */
	text[half] = '\0';
	o = call(STREAM_APPEND, sid, text, NULL, &code);
	assert_string_equal(json_string_value(json_object_get(o, "verdict")),
	    "hold");
	released = json_integer_value(json_object_get(o, "released"));
	json_decref(o);
	text[half] = ' ';
	o = call(STREAM_APPEND, sid, text + half, NULL, &code);
	assert_string_equal(json_string_value(json_object_get(o, "verdict")),
	    "block");
	off = json_integer_value(json_object_get(o, "offset"));
	assert_int_equal(off, released);
	assert_string_equal(json_string_value(json_object_get(o, "release")),
	    "");
	json_decref(o);
	o = call(STREAM_CLOSE, sid, NULL, NULL, &code);
	assert_string_equal(json_string_value(json_object_get(o, "verdict")),
	    "block");
	json_decref(o);
	free(text);
}

static void
test_turns(void **state)
{
	struct stream_args	 a;
	struct stream_call	*c[4];
	const char		*code = NULL;
	char			 msg[256], sid[32];
	json_t			*o;
	int			 i;

	o = call(STREAM_OPEN, NULL, NULL, NULL, &code);
	snprintf(sid, sizeof(sid), "%s", json_string_value(json_object_get(o,
	    "stream")));
	json_decref(o);
	memset(&a, 0, sizeof(a));
	a.op = STREAM_APPEND;
	a.stream = sid;
	a.owner = 7;
	for (i = 0; i < 4; i++) {
		a.text = i == 2 ? "lost " : "kept ";
		a.len = 5;
		c[i] = stream_call_new(snap, &a, &code, msg, sizeof(msg));
		assert_non_null(c[i]);
	}
	/* Give up the third before the first ran: its turn passes on. */
	stream_call_free(c[2]);
	stream_call_run(c[0], NULL);
	stream_call_run(c[1], NULL);
	stream_call_run(c[3], NULL);
	o = stream_call_result(c[3], &code, msg, sizeof(msg));
	assert_int_equal(json_integer_value(json_object_get(o, "bytes")), 15);
	json_decref(o);
	stream_call_free(c[0]);
	stream_call_free(c[1]);
	stream_call_free(c[3]);
	/* A close or an open never run is as if never sent. */
	a.op = STREAM_CLOSE;
	a.text = NULL;
	a.len = 0;
	c[0] = stream_call_new(snap, &a, &code, msg, sizeof(msg));
	assert_non_null(c[0]);
	assert_int_equal(stream_count(), 0);
	stream_call_free(c[0]);
	assert_int_equal(stream_count(), 1);
	a.op = STREAM_OPEN;
	c[0] = stream_call_new(snap, &a, &code, msg, sizeof(msg));
	assert_int_equal(stream_count(), 2);
	stream_call_free(c[0]);
	assert_int_equal(stream_count(), 1);
	a.op = STREAM_APPEND;
	a.text = "more ";
	a.len = 5;
	o = call(STREAM_APPEND, sid, "more ", NULL, &code);
	assert_int_equal(json_integer_value(json_object_get(o, "bytes")), 20);
	json_decref(o);
	/* Another owner does not see the stream; dropping the owner ends it. */
	a.owner = 8;
	assert_null(stream_call_new(snap, &a, &code, msg, sizeof(msg)));
	assert_string_equal(code, "bad_request");
	assert_int_equal(stream_count(), 1);
	stream_drop_owner(7);
	assert_int_equal(stream_count(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_windows_as_they_fill),
		cmocka_unit_test(test_window_blocks),
		cmocka_unit_test(test_turns),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
