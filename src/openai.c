/*
 * openai: the OpenAI moderation API's shapes.  See include/openai.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "openai.h"
#include "protocol.h"
#include "verdict.h"

static int
valid_text(json_t *v)
{
	return json_is_string(v) && memchr(json_string_value(v), '\0',
	    json_string_length(v)) == NULL;
}

/*
 * OpenAI categories from modgate's: each OpenAI category takes the score
 * of its modgate label (subcategories without a signal of their own take
 * their parent's; "…/threatening" is the lesser of the parent and
 * violence), and is flagged when that label is flagged or a rule of a
 * mapped category hit.  Categories modgate has no signal for score 0.
 */
static const struct openai_map {
	const char	*name;		/* OpenAI */
	const char	*label;		/* modgate label, NULL: none */
	const char	*also;		/* threatening: min with this label */
	const char	*rule1, *rule2;	/* rule categories that flag it */
} openai_map[] = {
	{ "hate",			"hate", NULL,		"slur", "hate" },
	{ "hate/threatening",		"hate", "violence",	NULL, NULL },
	{ "harassment",			"harassment", NULL,	"harassment", NULL },
	{ "harassment/threatening",	"harassment", "violence", NULL, NULL },
	{ "self-harm",			"self_harm", NULL,	"self_harm", NULL },
	{ "self-harm/intent",		"self_harm", NULL,	"self_harm", NULL },
	{ "self-harm/instructions",	"self_harm", NULL,	"self_harm", NULL },
	{ "sexual",			"sexual", NULL,		"sexual", NULL },
	{ "sexual/minors",		NULL, NULL,	"sexual_minors", NULL },
	{ "violence",			"violence", NULL,	"violence", NULL },
	{ "violence/graphic",		"violence", NULL,	NULL, NULL },
	{ "illicit",			NULL, NULL,		"illicit", NULL },
	{ "illicit/violent",		NULL, NULL,	"illicit_violent", NULL },
};

static double
label_score(const struct result *res, const char *label, int *flagged)
{
	size_t	 i;
	double	 s = 0;

	*flagged = 0;
	if (label == NULL)
		return 0;
	for (i = 0; i < res->n_scores; i++)
		if (res->labels[i] != NULL && strcmp(res->labels[i], label) == 0)
			s = res->scores[i];
	for (i = 0; i < res->n_flagged; i++)
		if (strcmp(res->flagged[i], label) == 0)
			*flagged = 1;
	return s;
}

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
	const struct openai_map	*m;
	json_t			*o, *cats, *scores, *types, *mine;
	double			 s, s2;
	int			 f, f2, any = 0, hit;
	size_t			 i;
	const char		*k;
	json_t			*v;

	o = json_object();
	cats = json_object();
	scores = json_object();
	types = json_object();
	if (o == NULL || cats == NULL || scores == NULL || types == NULL) {
		json_decref(o);
		json_decref(cats);
		json_decref(scores);
		json_decref(types);
		return NULL;
	}
	for (i = 0; i < sizeof(openai_map) / sizeof(openai_map[0]); i++) {
		m = &openai_map[i];
		s = label_score(res, m->label, &f);
		if (m->also != NULL) {
			s2 = label_score(res, m->also, &f2);
			s = s < s2 ? s : s2;
			f = f && f2;
		}
		hit = rule_hit(res, m->rule1) || rule_hit(res, m->rule2);
		if (hit) {
			f = 1;
			if (s < 1.0)
				s = 1.0;
		}
		any |= f;
		json_object_set_new(cats, m->name, json_boolean(f));
		json_object_set_new(scores, m->name, json_real(s));
		json_object_set_new(types, m->name, json_pack("[s]", "text"));
	}
	json_object_set_new(o, "flagged", json_boolean(any ||
	    res->verdict != VERDICT_ALLOW));
	json_object_set_new(o, "categories", cats);
	json_object_set_new(o, "category_scores", scores);
	json_object_set_new(o, "category_applied_input_types", types);
	/* modgate's own answer, as extra fields. */
	if ((mine = protocol_answer_json(req, res, policy_version)) != NULL) {
		json_object_foreach(mine, k, v)
			if (strcmp(k, "id") != 0 && strcmp(k, "flagged") != 0)
				json_object_set(o, k, v);
		if ((v = json_object_get(mine, "flagged")) != NULL)
			json_object_set(o, "modgate_flagged", v);
		json_decref(mine);
	}
	return o;
}

int
openai_inputs(json_t *input, json_t *a, size_t max, char *msg, size_t msgsz)
{
	json_t	*v, *t;
	size_t	 i;

	if (json_is_string(input)) {
		if (!valid_text(input))
			goto bad;
		if (json_array_append(a, input) == -1) {
			snprintf(msg, msgsz, "out of memory");
			return -1;
		}
		return 0;
	}
	if (!json_is_array(input) || json_array_size(input) == 0) {
		snprintf(msg, msgsz, "input must be a string or a non-empty "
		    "array of strings");
		return -1;
	}
	if (json_array_size(input) > max) {
		snprintf(msg, msgsz, "at most %zu inputs", max);
		return -1;
	}
	json_array_foreach(input, i, v) {
		if (json_is_object(v)) {
			t = json_object_get(v, "type");
			if (!json_is_string(t) ||
			    strcmp(json_string_value(t), "text") != 0) {
				snprintf(msg, msgsz, "input[%zu]: only parts "
				    "of type \"text\" are moderated", i);
				return -1;
			}
			v = json_object_get(v, "text");
		}
		if (!valid_text(v))
			goto bad;
		if (json_array_append(a, v) == -1) {
			snprintf(msg, msgsz, "out of memory");
			return -1;
		}
	}
	return 0;
bad:
	snprintf(msg, msgsz, "input must be a string or an array of strings "
	    "without NUL");
	return -1;
}
