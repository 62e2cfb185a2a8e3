/*
 * protocol: wire protocol v1 (JSON Lines over a stream socket).  Parses one
 * request line and serialises answers and errors; knows nothing of sockets.
 *
 *	request	{"id": …, "text": "…", "policy": "…", "meta": {…}}
 *		{"id": …, "op": "ping" | "version" | "stats" | "reload" |
 *		 "metrics"}
 *		{"id": …, "op": "stream_open", "policy": …, "meta": {…}}
 *		{"id": …, "op": "stream_append" | "stream_close",
 *		 "stream": "s1", "text": "…" (chunk; optional for close)}
 *	answer	{"id", "verdict", "text" (rewrite), "message" (block), "policy",
 *		 "policy_version", "audit_seq", "matches", "scores", "flagged",
 *		 "elapsed_us", "degraded" (when true), "stages"}
 *	error	{"id": …, "error": {"code": "…", "message": "…"}}
 */
#ifndef MODGATE_PROTOCOL_H
#define MODGATE_PROTOCOL_H

#include <stddef.h>

#include <jansson.h>

#include "verdict.h"

#define PROTOCOL_VERSION	1
#define PROTOCOL_MAX_DEPTH	32	/* nesting of arrays and objects */
#define PROTOCOL_MAX_POLICY	128	/* bytes of a policy name */

enum proto_op { OP_CHECK, OP_PING, OP_VERSION, OP_STATS, OP_RELOAD,
    OP_METRICS, OP_STREAM_OPEN, OP_STREAM_APPEND, OP_STREAM_CLOSE };

struct proto_request {
	enum proto_op	 op;
	json_t		*root;		/* the parsed line; owns req's pointers */
	struct request	 req;		/* id, text, len, policy, meta (not peer) */
	const char	*stream;	/* stream ops: the stream id, else NULL */
};

struct proto_error {
	const char	*code;		/* bad_request, too_large, ... */
	char		 message[256];
	json_t		*id;		/* the request's id when readable, else NULL */
};

/*
 * Read the request LINE (LEN bytes) as a JSON object: the one UTF-8 check
 * of a request, the nesting bound (PROTOCOL_MAX_DEPTH), JSON without
 * duplicate keys.  Returns the object (the caller's reference), or NULL
 * and fills ERR (no id).  Every front reads its requests with it.
 */
json_t	*protocol_load(const char *line, size_t len, struct proto_error *err);

/*
 * Parse the request LINE (LEN bytes, no newline): protocol_load, then the
 * protocol v1 fields.  Returns 0 and fills OUT
 * (release with protocol_request_clear), or -1 and fills ERR (release its
 * id with json_decref).
 */
int	 protocol_parse(const char *line, size_t len, struct proto_request *out,
	    struct proto_error *err);
void	 protocol_request_clear(struct proto_request *);

/*
 * The answer to REQ from RES, as a new JSON object (the caller owns the
 * reference), or NULL when out of memory.  Every front answers with it.
 */
json_t	*protocol_answer_json(const struct request *req,
	    const struct result *res, const char *policy_version);

/*
 * Serialise the answer to REQ from RES as one line ending in "\n".  Returns
 * a malloc'd string and its length in *LEN, or NULL when out of memory.
 */
char	*protocol_answer(const struct request *req, const struct result *res,
	    const char *policy_version, size_t *len);

/* Serialise an error answer echoing ID (may be NULL).  As above. */
char	*protocol_error(json_t *id, const char *code, const char *message,
	    size_t *len);

/*
 * Serialise OBJ (an object; "id" is set first from ID) as one line.  Steals
 * the reference to OBJ.  As above.
 */
char	*protocol_object(json_t *id, json_t *obj, size_t *len);

const char *protocol_op_name(enum proto_op);

#endif
