/*
 * openai: the shapes of the OpenAI moderation API (POST /v1/moderations)
 * for the HTTP front: the texts of a request's "input", and one entry of
 * "results" from a modgate answer, with modgate's categories mapped to
 * OpenAI's (the table is in openai.c and modgated(8)).
 */
#ifndef MODGATE_OPENAI_H
#define MODGATE_OPENAI_H

#include <stddef.h>

#include <jansson.h>

#include "verdict.h"

/*
 * Append the texts of INPUT (a string, an array of strings, or an array of
 * {"type": "text", "text": "…"} parts; at most MAX) to the array A, as new
 * references.  0, or -1 with MSG set (nothing to keep in A then).
 */
int	 openai_inputs(json_t *input, json_t *a, size_t max, char *msg,
	    size_t msgsz);

/*
 * One result: "flagged", "categories", "category_scores",
 * "category_applied_input_types", and modgate's answer to REQ (RES under
 * POLICY_VERSION) as extra fields ("verdict", "text", "matches", "scores",
 * "modgate_flagged", ...).  A new object, or NULL when out of memory.
 */
json_t	*openai_result(const struct request *req, const struct result *res,
	    const char *policy_version);

#endif
