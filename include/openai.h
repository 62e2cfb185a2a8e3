/*
 * openai: the shapes of the OpenAI moderation API (POST /v1/moderations)
 * for the HTTP front: the texts of a request, one entry of "results" per
 * text with modgate's categories mapped to the API's keys (the rule is in
 * openai.c and modgated(8)), the whole answer, and errors.
 */
#ifndef MODGATE_OPENAI_H
#define MODGATE_OPENAI_H

#include <stddef.h>

#include <jansson.h>

#include "verdict.h"

struct snapshot;

/*
 * Append the texts of the request body ROOT to the array A, as references
 * that stay valid while ROOT lives.  "input" is a string (one text), an
 * array of strings (one text each), or an array of parts ({"type": "text",
 * "text": "…"} and {"type": "image_url", "image_url": {"url": "…"}}):
 * one text, the text parts joined by "\n" (ROOT's "input" is replaced by
 * that string); image parts are not checked, and parts without text are
 * refused.  At most MAX strings or parts; "model", when present, must be
 * a string.  0, or -1 with MSG set, naming the field at fault first
 * (nothing to keep in A then).
 */
int	 openai_inputs(json_t *root, json_t *a, size_t max, char *msg,
	    size_t msgsz);

/*
 * One result: "flagged", "categories", "category_scores",
 * "category_applied_input_types", and "modgate": modgate's protocol v1
 * answer to REQ (RES under POLICY_VERSION).  A new object, or NULL when
 * out of memory.
 */
json_t	*openai_result(const struct request *req, const struct result *res,
	    const char *policy_version);

/*
 * The answer of a call on SNAP: {"id": "modr-…", "model": …, "results":
 * RESULTS}, RESULTS stolen.  "model" names SNAP's model when SCORED (it
 * scored a text of the call), else the rules.  NULL when out of memory.
 */
json_t	*openai_response(const struct snapshot *snap, int scored,
	    json_t *results);

/*
 * 1 when the request URI names a path of the OpenAI API modgated serves
 * (/v1/moderations, /v1/chat/completions), with any query.
 */
int	 openai_path(const char *uri);

/*
 * The API's error body {"error": {"message", "type", "param", "code"}}
 * for an answer of HTTP STATUS with modgate's error CODE and MSG.  A new
 * object, or NULL when out of memory.
 */
json_t	*openai_error(int status, const char *code, const char *msg);

#endif
