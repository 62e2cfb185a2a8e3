/*
 * openai: the OpenAI moderation API's shapes.  See include/openai.h.
 *
 * Categories: every key of the API's current moderation models is in
 * every result.  A key is scored by the model label of the same name
 * spelt as a modgate category ('-' and '/' written '_': "self-harm/intent"
 * is self_harm_intent), and flagged when that category is flagged under
 * the caller's policy or a rule of that category hits ("slur" counts for
 * "hate").  A key the model has no label for scores 0 and is false unless
 * such a rule hit; its category_applied_input_types is empty unless the
 * model scored it or a rule of it hit, so that no check is claimed that
 * did not happen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "config.h"
#include "model.h"
#include "openai.h"
#include "protocol.h"
#include "snapshot.h"
#include "verdict.h"

#define OPENAI_CATEGORY_MAX	32	/* bytes of a key as a category */

static const struct openai_key {
	const char	*name;		/* the API's key */
	const char	*rule_alias;	/* another rule category that flags it */
} openai_keys[] = {
	{ "harassment", NULL },
	{ "harassment/threatening", NULL },
	{ "hate", "slur" },
	{ "hate/threatening", NULL },
	{ "illicit", NULL },
	{ "illicit/violent", NULL },
	{ "self-harm", NULL },
	{ "self-harm/instructions", NULL },
	{ "self-harm/intent", NULL },
	{ "sexual", NULL },
	{ "sexual/minors", NULL },
	{ "violence", NULL },
	{ "violence/graphic", NULL },
};

/* Request fields an error message may name first (its "param"). */
static const char *const openai_params[] = { "input", "model", "id",
    "policy", "meta", "messages", "stream" };

static int
valid_text(json_t *v)
{
	return json_is_string(v) && memchr(json_string_value(v), '\0',
	    json_string_length(v)) == NULL;
}

/* KEY spelt as a modgate category into BUF[OPENAI_CATEGORY_MAX]. */
static void
category_of(const char *key, char *buf)
{
	size_t	 i;

	for (i = 0; key[i] != '\0' && i < OPENAI_CATEGORY_MAX - 1; i++)
		buf[i] = key[i] == '-' || key[i] == '/' ? '_' : key[i];
	buf[i] = '\0';
}

/* 1 and *SCORE when the model scored label CAT for RES, else 0. */
static int
label_score(const struct result *res, const char *cat, double *score)
{
	size_t	 i;

	for (i = 0; i < res->n_scores; i++)
		if (res->labels[i] != NULL && strcmp(res->labels[i], cat) == 0) {
			*score = res->scores[i];
			return 1;
		}
	return 0;
}

/* 1 when the policy listed CAT in RES's "flagged". */
static int
policy_flagged(const struct result *res, const char *cat)
{
	size_t	 i;

	for (i = 0; i < res->n_flagged; i++)
		if (strcmp(res->flagged[i], cat) == 0)
			return 1;
	return 0;
}

/* 1 when an enforced rule of category CAT hit. */
static int
rule_hit(const struct result *res, const char *cat)
{
	size_t	 i;

	if (cat == NULL)
		return 0;
	for (i = 0; i < res->matches.n; i++)
		if (!res->matches.v[i].monitor &&
		    res->matches.v[i].category != NULL &&
		    strcmp(res->matches.v[i].category, cat) == 0)
			return 1;
	return 0;
}

json_t *
openai_result(const struct request *req, const struct result *res,
    const char *policy_version)
{
	const struct openai_key	*k;
	json_t			*o, *cats, *scores, *types, *mine;
	char			 cat[OPENAI_CATEGORY_MAX];
	double			 s;
	int			 scored, hit, f, any = 0, bad = 0;
	size_t			 i;

	o = json_object();
	cats = json_object();
	scores = json_object();
	types = json_object();
	mine = protocol_answer_json(req, res, policy_version);
	if (o == NULL || cats == NULL || scores == NULL || types == NULL ||
	    mine == NULL)
		goto fail;
	for (i = 0; i < sizeof(openai_keys) / sizeof(openai_keys[0]); i++) {
		k = &openai_keys[i];
		category_of(k->name, cat);
		s = 0;
		scored = label_score(res, cat, &s);
		hit = rule_hit(res, cat) || rule_hit(res, k->rule_alias);
		f = hit || (scored && policy_flagged(res, cat));
		if (hit && s < 1.0)
			s = 1.0;
		any |= f;
		bad |= json_object_set_new(cats, k->name, json_boolean(f));
		bad |= json_object_set_new(scores, k->name, json_real(s));
		bad |= json_object_set_new(types, k->name, scored || hit ?
		    json_pack("[s]", "text") : json_array());
	}
	bad |= json_object_set_new(o, "flagged", json_boolean(any));
	bad |= json_object_set_new(o, "categories", cats);
	bad |= json_object_set_new(o, "category_scores", scores);
	bad |= json_object_set_new(o, "category_applied_input_types", types);
	bad |= json_object_set_new(o, "modgate", mine);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
fail:
	json_decref(o);
	json_decref(cats);
	json_decref(scores);
	json_decref(types);
	json_decref(mine);
	return NULL;
}

static int
oom(char *msg, size_t msgsz)
{
	snprintf(msg, msgsz, "out of memory");
	return -1;
}

/*
 * The text parts of the multimodal INPUT (an array of parts) of ROOT as
 * one text appended to A; see openai_inputs.
 */
static int
input_parts(json_t *root, json_t *input, json_t *a, char *msg,
    size_t msgsz)
{
	json_t	*v, *t, *one = NULL, *joined;
	char	*buf, *p;
	size_t	 i, n = 0, len = 0;

	json_array_foreach(input, i, v) {
		t = json_object_get(v, "type");
		if (!json_is_object(v) || !json_is_string(t)) {
			snprintf(msg, msgsz, "input[%zu] must be a part "
			    "{\"type\": \"text\" or \"image_url\", ...}, like "
			    "input[0]", i);
			return -1;
		}
		if (strcmp(json_string_value(t), "image_url") == 0) {
			t = json_object_get(v, "image_url");
			if (!json_is_object(t) ||
			    !json_is_string(json_object_get(t, "url"))) {
				snprintf(msg, msgsz, "input[%zu].image_url "
				    "must be an object with a string \"url\"",
				    i);
				return -1;
			}
			continue;
		}
		if (strcmp(json_string_value(t), "text") != 0) {
			snprintf(msg, msgsz, "input[%zu]: unknown part type "
			    "\"%.32s\" (text, image_url)", i,
			    json_string_value(t));
			return -1;
		}
		one = json_object_get(v, "text");
		if (!valid_text(one)) {
			snprintf(msg, msgsz, "input[%zu].text must be a string "
			    "without NUL", i);
			return -1;
		}
		len += json_string_length(one) + (n > 0);
		n++;
	}
	if (n == 0) {
		snprintf(msg, msgsz, "input has no text part: modgate checks "
		    "text, not images");
		return -1;
	}
	if (n == 1)
		return json_array_append(a, one) == 0 ? 0 : oom(msg, msgsz);
	/* Several text parts are one text, as the API moderates them. */
	if ((p = buf = malloc(len)) == NULL)
		return oom(msg, msgsz);
	json_array_foreach(input, i, v) {
		t = json_object_get(v, "type");
		if (strcmp(json_string_value(t), "text") != 0)
			continue;
		t = json_object_get(v, "text");
		if (p != buf)
			*p++ = '\n';
		memcpy(p, json_string_value(t), json_string_length(t));
		p += json_string_length(t);
	}
	joined = json_stringn(buf, len);
	free(buf);
	if (joined == NULL)
		return oom(msg, msgsz);
	if (json_array_append(a, joined) == -1) {
		json_decref(joined);
		return oom(msg, msgsz);
	}
	/* ROOT keeps it alive (and drops the parts, checked already). */
	if (json_object_set_new(root, "input", joined) == -1)
		return oom(msg, msgsz);
	return 0;
}

int
openai_inputs(json_t *root, json_t *a, size_t max, char *msg, size_t msgsz)
{
	json_t	*model, *input, *v;
	size_t	 i;

	model = json_object_get(root, "model");
	if (model != NULL && !json_is_string(model)) {
		snprintf(msg, msgsz, "model must be a string");
		return -1;
	}
	if ((input = json_object_get(root, "input")) == NULL) {
		snprintf(msg, msgsz, "input is required");
		return -1;
	}
	if (json_is_string(input)) {
		if (!valid_text(input)) {
			snprintf(msg, msgsz, "input must be a string without "
			    "NUL");
			return -1;
		}
		return json_array_append(a, input) == 0 ? 0 : oom(msg, msgsz);
	}
	if (!json_is_array(input) || json_array_size(input) == 0) {
		snprintf(msg, msgsz, "input must be a string, or a non-empty "
		    "array of strings or of text and image_url parts");
		return -1;
	}
	if (json_array_size(input) > max) {
		snprintf(msg, msgsz, "input: at most %zu items", max);
		return -1;
	}
	if (!json_is_string(json_array_get(input, 0)))
		return input_parts(root, input, a, msg, msgsz);
	json_array_foreach(input, i, v)
		if (!valid_text(v)) {
			snprintf(msg, msgsz, "input[%zu] must be a string "
			    "without NUL, like input[0]", i);
			return -1;
		}
	json_array_foreach(input, i, v)
		if (json_array_append(a, v) == -1)
			return oom(msg, msgsz);
	return 0;
}

/*
 * The name of the model that decided into BUF: "modgate-DIR-HASH" (DIR
 * the model directory's name, HASH the first 12 hex digits of SHA-256
 * over the model's digest), or "modgate-rules" when no model scored.
 */
static void
model_name(const struct snapshot *snap, int scored, char *buf, size_t sz)
{
	crypto_hash_sha256_state st;
	unsigned char		 h[crypto_hash_sha256_BYTES];
	char			 hex[13];
	const char		*dir, *base;
	size_t			 n;

	if (!scored || snap->model == NULL) {
		snprintf(buf, sz, "modgate-rules");
		return;
	}
	crypto_hash_sha256_init(&st);
	model_digest(snap->model, &st);
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(hex, sizeof(hex), h, (sizeof(hex) - 1) / 2);
	dir = snap->cfg->classifier.model;
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	for (base = dir + n; base > dir && base[-1] != '/'; base--)
		;
	n = (size_t)(dir + n - base);
	snprintf(buf, sz, "modgate-%.*s-%s", (int)(n > 64 ? 64 : n), base,
	    hex);
}

json_t *
openai_response(const struct snapshot *snap, int scored, json_t *results)
{
	unsigned char	 rnd[12];
	char		 rid[5 + 2 * sizeof(rnd) + 1], model[96];

	randombytes_buf(rnd, sizeof(rnd));
	memcpy(rid, "modr-", 5);
	sodium_bin2hex(rid + 5, sizeof(rid) - 5, rnd, sizeof(rnd));
	model_name(snap, scored, model, sizeof(model));
	return json_pack("{s:s, s:s, s:o}", "id", rid, "model", model,
	    "results", results);
}

int
openai_path(const char *uri)
{
	size_t	 n = strcspn(uri, "?#");

	return (n == strlen("/v1/moderations") &&
	    strncmp(uri, "/v1/moderations", n) == 0) ||
	    (n == strlen("/v1/chat/completions") &&
	    strncmp(uri, "/v1/chat/completions", n) == 0);
}

/* The request field MSG names first, or NULL. */
static const char *
param_of(const char *code, const char *msg)
{
	size_t	 i, n = strspn(msg, "abcdefghijklmnopqrstuvwxyz_");

	if (strcmp(code, "unknown_policy") == 0)
		return "policy";
	if (msg[n] == '\0' || strchr(" [.:", msg[n]) == NULL)
		return NULL;
	for (i = 0; i < sizeof(openai_params) / sizeof(openai_params[0]); i++)
		if (strlen(openai_params[i]) == n &&
		    strncmp(msg, openai_params[i], n) == 0)
			return openai_params[i];
	return NULL;
}

json_t *
openai_error(int status, const char *code, const char *msg)
{
	const char	*type = status >= 500 ? "server_error" :
			    "invalid_request_error";

	return json_pack("{s:{s:s, s:s, s:s?, s:s}}", "error", "message", msg,
	    "type", type, "param", param_of(code, msg), "code",
	    strcmp(code, "unauthorized") == 0 ? "invalid_api_key" : code);
}
