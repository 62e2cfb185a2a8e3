/*
 * protocol: JSON Lines protocol v1.  See include/protocol.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <utf8proc.h>

#include "config.h"
#include "normalize.h"
#include "protocol.h"
#include "verdict.h"

static const char *const op_names[] = { "check", "ping", "version", "stats",
    "reload", "metrics", "stream_open", "stream_append", "stream_close" };

const char *
protocol_op_name(enum proto_op op)
{
	if ((size_t)op < sizeof(op_names) / sizeof(op_names[0]))
		return op_names[op];
	return "unknown";
}

static int
proto_fail(struct proto_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
proto_fail(struct proto_error *err, const char *code, const char *fmt, ...)
{
	va_list	 ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Nesting depth of the JSON text LINE, counting brackets outside strings.
 * Stops counting past MAX.
 */
static int
json_depth(const char *line, size_t len, int max)
{
	size_t	 i;
	int	 depth = 0, deepest = 0, in_string = 0;

	for (i = 0; i < len; i++) {
		if (in_string) {
			if (line[i] == '\\')
				i++;
			else if (line[i] == '"')
				in_string = 0;
			continue;
		}
		switch (line[i]) {
		case '"':
			in_string = 1;
			break;
		case '{':
		case '[':
			if (++depth > deepest)
				deepest = depth;
			if (deepest > max)
				return deepest;
			break;
		case '}':
		case ']':
			depth--;
			break;
		}
	}
	return deepest;
}

json_t *
protocol_load(const char *line, size_t len, struct proto_error *err)
{
	json_error_t	 jerr;
	json_t		*root;

	memset(err, 0, sizeof(*err));
	/*
	 * The one UTF-8 check of a request: its strings are valid too, as
	 * jansson refuses the escapes that are not ("\u0000", lone
	 * surrogates).
	 */
	if (!utf8_valid(line, len)) {
		proto_fail(err, "bad_request", "request is not valid UTF-8");
		return NULL;
	}
	if (json_depth(line, len, PROTOCOL_MAX_DEPTH) > PROTOCOL_MAX_DEPTH) {
		proto_fail(err, "bad_request", "JSON nested deeper than %d",
		    PROTOCOL_MAX_DEPTH);
		return NULL;
	}
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		proto_fail(err, "bad_request", "malformed JSON at column %d: "
		    "%s", jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		proto_fail(err, "bad_request", "a request is a JSON object");
		return NULL;
	}
	return root;
}

int
protocol_parse(const char *line, size_t len, struct proto_request *out,
    struct proto_error *err)
{
	json_t		*root, *v, *text = NULL;
	const char	*key, *op;
	size_t		 i;

	memset(out, 0, sizeof(*out));
	if ((root = protocol_load(line, len, err)) == NULL)
		return -1;

	if ((v = json_object_get(root, "id")) != NULL) {
		if (json_is_object(v) || json_is_array(v)) {
			proto_fail(err, "bad_request",
			    "id must be a string, number, boolean or null");
			goto fail;
		}
		err->id = json_incref(v);
		out->req.id = v;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "id") != 0 && strcmp(key, "text") != 0 &&
		    strcmp(key, "policy") != 0 && strcmp(key, "meta") != 0 &&
		    strcmp(key, "op") != 0 && strcmp(key, "stream") != 0) {
			proto_fail(err, "bad_request", "unknown field \"%.64s\"",
			    key);
			goto fail;
		}
	}

	out->op = OP_CHECK;
	if ((v = json_object_get(root, "op")) != NULL) {
		if (!json_is_string(v)) {
			proto_fail(err, "bad_request", "op must be a string");
			goto fail;
		}
		op = json_string_value(v);
		for (i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
			if (strcmp(op, op_names[i]) == 0)
				break;
		if (i == sizeof(op_names) / sizeof(op_names[0])) {
			proto_fail(err, "bad_request", "unknown op \"%.64s\" "
			    "(check, ping, version, stats, reload, metrics, "
			    "stream_open, stream_append, stream_close)", op);
			goto fail;
		}
		out->op = (enum proto_op)i;
	}

	if ((v = json_object_get(root, "policy")) != NULL) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > PROTOCOL_MAX_POLICY) {
			proto_fail(err, "bad_request", "policy must be a "
			    "non-empty string of at most %d bytes",
			    PROTOCOL_MAX_POLICY);
			goto fail;
		}
		out->req.policy = json_string_value(v);
	}
	if ((v = json_object_get(root, "meta")) != NULL) {
		if (!json_is_object(v)) {
			proto_fail(err, "bad_request", "meta must be an object");
			goto fail;
		}
		out->req.meta = v;
	}
	if ((v = json_object_get(root, "stream")) != NULL) {
		if ((out->op != OP_STREAM_APPEND &&
		    out->op != OP_STREAM_CLOSE) || !json_is_string(v) ||
		    json_string_length(v) == 0 || json_string_length(v) > 64) {
			proto_fail(err, "bad_request", "stream must be the "
			    "id stream_open answered, in stream_append and "
			    "stream_close");
			goto fail;
		}
		out->stream = json_string_value(v);
	} else if (out->op == OP_STREAM_APPEND || out->op == OP_STREAM_CLOSE) {
		proto_fail(err, "bad_request", "missing field \"stream\"");
		goto fail;
	}
	text = json_object_get(root, "text");
	if ((out->op == OP_STREAM_APPEND || out->op == OP_STREAM_CLOSE) &&
	    text != NULL) {
		if (!json_is_string(text)) {
			proto_fail(err, "bad_request", "text must be a string "
			    "of valid UTF-8 without NUL");
			goto fail;
		}
		out->req.text = json_string_value(text);
		out->req.len = json_string_length(text);
	} else if (out->op == OP_STREAM_APPEND) {
		proto_fail(err, "bad_request", "missing field \"text\"");
		goto fail;
	} else if (out->op == OP_CHECK) {
		if (text == NULL) {
			proto_fail(err, "bad_request", "missing field \"text\"");
			goto fail;
		}
		if (!json_is_string(text)) {
			proto_fail(err, "bad_request", "text must be a string");
			goto fail;
		}
		out->req.text = json_string_value(text);
		out->req.len = json_string_length(text);
	} else if (text != NULL) {
		proto_fail(err, "bad_request", "op %s takes no text",
		    op_names[out->op]);
		goto fail;
	}
	/* ERR is for failures only: give back the id's reference. */
	json_decref(err->id);
	err->id = NULL;
	out->root = root;
	return 0;
fail:
	json_decref(root);
	memset(out, 0, sizeof(*out));
	return -1;
}

void
protocol_request_clear(struct proto_request *pr)
{
	json_decref(pr->root);
	memset(pr, 0, sizeof(*pr));
}

/* Dump OBJ (stolen) as one line with its newline. */
static char *
dump_line(json_t *obj, size_t *len)
{
	char	*s, *line = NULL;
	size_t	 n;

	if (obj == NULL)
		return NULL;
	s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(obj);
	if (s == NULL)
		return NULL;
	n = strlen(s);
	if ((line = realloc(s, n + 2)) == NULL) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	*len = n + 1;
	return line;
}

/* Set KEY of O to V (stolen); -1 when V is NULL or out of memory. */
static int
put(json_t *o, const char *key, json_t *v)
{
	if (v == NULL)
		return -1;
	return json_object_set_new(o, key, v);
}

json_t *
protocol_answer_json(const struct request *req, const struct result *res,
    const char *policy_version)
{
	json_t		*o, *a, *m, *sc, *st;
	const struct match *mt;
	size_t		 i;
	int		 bad = 0;

	if ((o = json_object()) == NULL)
		return NULL;
	bad |= put(o, "id", req->id != NULL ? json_incref(req->id) :
	    json_null());
	bad |= put(o, "verdict", json_string(verdict_name(res->verdict)));
	if (res->verdict == VERDICT_REWRITE && res->text != NULL)
		bad |= put(o, "text", json_stringn(res->text, res->text_len));
	if (res->verdict == VERDICT_BLOCK && res->message != NULL)
		bad |= put(o, "message", json_string(res->message));
	if (res->policy != NULL) {
		bad |= put(o, "policy", json_string(res->policy->name));
		if (res->policy->monitor) {
			bad |= put(o, "monitor", json_true());
			bad |= put(o, "would_verdict", json_string(
			    verdict_name((enum verdict)res->would_verdict)));
		}
	}
	bad |= put(o, "policy_version", json_string(policy_version));
	bad |= put(o, "audit_seq", res->stage[STAGE_AUDIT] == STAGE_OK ?
	    json_integer((json_int_t)res->audit_seq) : json_null());

	if ((a = json_array()) == NULL || put(o, "matches", a) == -1)
		goto fail;
	for (i = 0; i < res->matches.n; i++) {
		mt = &res->matches.v[i];
		if ((m = json_object()) == NULL ||
		    json_array_append_new(a, m) == -1)
			goto fail;
		bad |= put(m, "rule", json_string(mt->rule));
		bad |= put(m, "category", json_string(mt->category));
		bad |= put(m, "action", json_string(rule_action_name(mt->action)));
		bad |= put(m, "start", json_integer((json_int_t)mt->start));
		bad |= put(m, "end", json_integer((json_int_t)mt->end));
		if (mt->monitor)
			bad |= put(m, "monitor", json_true());
	}
	if ((sc = json_object()) == NULL || put(o, "scores", sc) == -1)
		goto fail;
	for (i = 0; i < res->n_scores; i++)
		bad |= put(sc, res->labels[i], json_real(res->scores[i]));
	if ((a = json_array()) == NULL || put(o, "flagged", a) == -1)
		goto fail;
	for (i = 0; i < res->n_flagged; i++)
		bad |= json_array_append_new(a, json_string(res->flagged[i]));
	bad |= put(o, "elapsed_us", json_integer((json_int_t)res->elapsed_us));
	if (res->degraded)
		bad |= put(o, "degraded", json_true());
	if ((st = json_object()) == NULL || put(o, "stages", st) == -1)
		goto fail;
	for (i = 0; i < STAGE_COUNT; i++)
		bad |= put(st, stage_name(i),
		    json_string(stage_state_name(res->stage[i])));
	if (bad)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

char *
protocol_answer(const struct request *req, const struct result *res,
    const char *policy_version, size_t *len)
{
	return dump_line(protocol_answer_json(req, res, policy_version), len);
}

/*
 * A JSON string of S with every byte that is not part of a valid UTF-8
 * character replaced by '?': a message may quote a client's bytes cut
 * anywhere (e.g. "%.64s" of a key ending mid-character).
 */
static json_t *
string_lossy(const char *s)
{
	json_t		*j;
	char		*t;
	size_t		 n = strlen(s), i = 0;
	utf8proc_int32_t cp;
	utf8proc_ssize_t k;

	if (utf8_valid(s, n))
		return json_stringn(s, n);
	if ((t = strdup(s)) == NULL)
		return NULL;
	while (i < n) {
		k = utf8proc_iterate((const utf8proc_uint8_t *)t + i,
		    (utf8proc_ssize_t)(n - i), &cp);
		if (k < 1) {
			t[i++] = '?';
			continue;
		}
		i += (size_t)k;
	}
	j = json_stringn(t, n);
	free(t);
	return j;
}

char *
protocol_error(json_t *id, const char *code, const char *message,
    size_t *len)
{
	json_t	*o, *e;

	if ((o = json_object()) == NULL)
		return NULL;
	if (put(o, "id", id != NULL ? json_incref(id) : json_null()) == -1 ||
	    (e = json_object()) == NULL || put(o, "error", e) == -1 ||
	    put(e, "code", json_string(code)) == -1 ||
	    put(e, "message", string_lossy(message)) == -1) {
		json_decref(o);
		return NULL;
	}
	return dump_line(o, len);
}

char *
protocol_object(json_t *id, json_t *obj, size_t *len)
{
	json_t	*o;

	if (obj == NULL)
		return NULL;
	/* "id" first: build a new object and copy OBJ's members after it. */
	if ((o = json_object()) == NULL ||
	    put(o, "id", id != NULL ? json_incref(id) : json_null()) == -1 ||
	    json_object_update(o, obj) == -1) {
		json_decref(o);
		json_decref(obj);
		return NULL;
	}
	json_decref(obj);
	return dump_line(o, len);
}
