/*
 * fuzz-stream: the stream engine on arbitrary chunked text, with the
 * shipped rules (rules/NAME.rules, from the top of the tree) and a hold-back
 * of 16 bytes.  The input is cut into chunks at 0xff bytes (never UTF-8);
 * invalid UTF-8 in a chunk is replaced, as the protocol would refuse it.
 * After every append: at most 2H bytes held, the release point never goes
 * back, released text is a real prefix of the output; at close: the
 * verdict, matches and rewritten text are those of pipeline_run on the
 * whole text, and when the answer is not late, the released text joined
 * is the whole-text output.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "normalize.h"
#include "pipeline.h"
#include "snapshot.h"
#include "stream.h"

#define HOLDBACK	16

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

static struct snapshot	*snap;
static char		 conf[128];

static void
cleanup(void)
{
	snapshot_unref(snap);
	unlink(conf);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 cwd[4096];
	FILE	*f;
	int	 fd;

	log_init("fuzz-stream", 1, 0);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		abort();
	snprintf(conf, sizeof(conf), "/tmp/fuzz-stream.XXXXXX");
	if ((fd = mkstemp(conf)) == -1 || (f = fdopen(fd, "w")) == NULL)
		abort();
	fprintf(f, "server: { socket = \"/tmp/fuzz-stream.sock\";"
	    " stream_holdback = %d; stream_max_bytes = 1048576; };\n"
	    "rules: { paths = [ \"%s/rules/*.rules\" ]; };\n"
	    "classifier: { enabled = false; };\n"
	    "audit: { enabled = false; };\n"
	    "policies: { default: { }; };\n", HOLDBACK, cwd);
	fclose(f);
	if ((snap = snapshot_load(conf, NULL)) == NULL)
		abort();
	atexit(cleanup);
	return 0;
}

static json_t *
call(enum stream_op op, const char *id, const char *text, size_t len)
{
	struct stream_args	 a;
	struct stream_call	*c;
	const char		*code;
	char			 msg[256];
	json_t			*o;

	memset(&a, 0, sizeof(a));
	a.op = op;
	a.stream = id;
	a.text = text;
	a.len = len;
	a.owner = 1;
	if ((c = stream_call_new(snap, &a, &code, msg, sizeof(msg))) == NULL)
		abort();
	stream_call_run(c, NULL);
	o = stream_call_result(c, &code, msg, sizeof(msg));
	stream_call_free(c);
	if (o == NULL)
		abort();
	return o;
}

/* DATA[0, N) with invalid UTF-8 and NUL bytes turned into '?'. */
static char *
clean(const uint8_t *data, size_t n)
{
	char	*s = malloc(n + 1);
	size_t	 i, k;

	memcpy(s, data, n);
	s[n] = '\0';
	for (i = 0; i < n; ) {
		for (k = 4; k > 0; k--)
			if (i + k <= n && utf8_valid(s + i, k))
				break;
		if (k == 0) {
			s[i++] = '?';
			continue;
		}
		i += k;
	}
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request	 req;
	struct result	 res;
	json_t		*o, *close;
	char		*whole, *out, id[32], *chunk;
	const char	*v, *want;
	size_t		 i, start, len = 0, outlen = 0, released = 0, wlen;

	if (size > 65536)
		return 0;
	whole = malloc(size + 1);
	out = malloc(16 * size + 1024);
	o = call(STREAM_OPEN, NULL, NULL, 0);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(o,
	    "stream")));
	json_decref(o);
	for (start = 0, i = 0; i <= size; i++) {
		if (i < size && data[i] != 0xff)
			continue;
		chunk = clean(data + start, i - start);
		memcpy(whole + len, chunk, i - start);
		len += i - start;
		o = call(STREAM_APPEND, id, chunk, i - start);
		free(chunk);
		start = i + 1;
		if ((size_t)json_integer_value(json_object_get(o, "held")) >
		    2 * HOLDBACK ||
		    (size_t)json_integer_value(json_object_get(o,
		    "released")) < released ||
		    (size_t)json_integer_value(json_object_get(o, "bytes")) !=
		    len)
			abort();
		released = (size_t)json_integer_value(json_object_get(o,
		    "released"));
		v = json_string_value(json_object_get(o, "release"));
		memcpy(out + outlen, v, strlen(v));
		outlen += strlen(v);
		json_decref(o);
	}
	close = call(STREAM_CLOSE, id, NULL, 0);

	memset(&req, 0, sizeof(req));
	req.text = whole;
	req.len = len;
	result_init(&res);
	if (pipeline_run(snap, NULL, &req, &res) == -1)
		abort();
	v = json_string_value(json_object_get(close, "verdict"));
	if (strcmp(v, verdict_name(res.verdict)) != 0 ||
	    json_array_size(json_object_get(close, "matches")) !=
	    res.matches.n)
		abort();
	if (res.verdict == VERDICT_REWRITE && strcmp(json_string_value(
	    json_object_get(close, "text")), res.text) != 0)
		abort();
	v = json_string_value(json_object_get(close, "release"));
	memcpy(out + outlen, v, strlen(v));
	outlen += strlen(v);
	want = res.verdict == VERDICT_REWRITE ? res.text : whole;
	wlen = res.verdict == VERDICT_REWRITE ? res.text_len : len;
	if (!json_is_true(json_object_get(close, "late")) &&
	    res.verdict != VERDICT_BLOCK &&
	    (outlen != wlen || memcmp(out, want, wlen) != 0))
		abort();
	result_clear(&res);
	json_decref(close);
	free(whole);
	free(out);
	return 0;
}
