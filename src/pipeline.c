/*
 * pipeline: the fixed sequence of stages of one request.  See
 * include/pipeline.h.
 *
 * Each stage is a function of the run state; it records its state in
 * res->stage[] and the pipeline records its time in res->stage_us[].  A stage
 * returns 0 to go on, or -1 when the answer becomes an error
 * (res->error_code, res->error_msg).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "classifier.h"
#include "clock.h"
#include "rules.h"
#include "config.h"
#include "log.h"
#include "model.h"
#include "normalize.h"
#include "pipeline.h"
#include "policy.h"
#include "snapshot.h"

struct run {
	const struct snapshot	*snap;
	struct audit		*audit;
	const struct request	*req;
	struct result		*res;
	const struct policy_conf *policy;
	uint64_t		 t0;
};

static int
fail(struct result *res, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct result *res, const char *code, const char *fmt, ...)
{
	va_list	 ap;

	res->error_code = code;
	va_start(ap, fmt);
	vsnprintf(res->error_msg, sizeof(res->error_msg), fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Admit the request: check the text and pick the policy it runs under
 * ("normalize" in answers, see include/verdict.h).
 */
static int
stage_admit(struct run *r)
{
	struct result	*res = r->res;

	if (!utf8_valid(r->req->text, r->req->len)) {
		res->stage[STAGE_ADMIT] = STAGE_FAILED;
		return fail(res, "bad_request", "%s",
		    "text is not valid UTF-8 or contains NUL");
	}
	r->policy = r->req->picked != NULL ? r->req->picked :
	    policy_select(r->snap->cfg, r->req);
	if (r->policy == NULL) {
		res->stage[STAGE_ADMIT] = STAGE_FAILED;
		return fail(res, "unknown_policy", "no policy named \"%s\"",
		    r->req->policy != NULL ? r->req->policy :
		    r->snap->cfg->server.default_policy);
	}
	res->policy = r->policy;
	res->stage[STAGE_ADMIT] = STAGE_OK;
	return 0;
}

static int
stage_rules(struct run *r)
{
	struct result	*res = r->res;

	if (!r->policy->stage_rules) {
		res->stage[STAGE_RULES] = STAGE_NOT_RUN;
		return 0;
	}
	if (r->snap->rules == NULL) {
		/* No rule files configured: the text passes, visibly. */
		res->stage[STAGE_RULES] = STAGE_PASSTHROUGH;
		return 0;
	}
	if (rules_match(r->snap->rules, r->req->text, r->req->len,
	    &res->matches) == -1) {
		/* A limit hit or no memory: hits so far are kept. */
		res->stage[STAGE_RULES] = STAGE_FAILED;
		res->degraded = 1;
		return 0;
	}
	res->stage[STAGE_RULES] = STAGE_OK;
	return 0;
}

static int
stage_classifier(struct run *r)
{
	struct result		*res = r->res;
	struct classifier_out	 out;
	const char *const	*labels;
	size_t			 i, n;

	if (!r->policy->stage_classifier || !r->snap->cfg->classifier.enabled) {
		res->stage[STAGE_CLASSIFIER] = STAGE_NOT_RUN;
		return 0;
	}
	if (policy_rules_block(r->policy, res)) {
		res->stage[STAGE_CLASSIFIER] = STAGE_SKIPPED;
		return 0;
	}
	if (r->snap->model == NULL) {
		/* No model in the snapshot: no scores, visibly. */
		res->stage[STAGE_CLASSIFIER] = STAGE_PASSTHROUGH;
		return 0;
	}
	if (classifier_score(r->snap->model, &r->snap->cfg->classifier,
	    r->req->text, r->req->len, &out) == -1) {
		res->stage[STAGE_CLASSIFIER] = STAGE_FAILED;
		res->degraded = 1;	/* on_error decides */
		return 0;
	}
	n = model_labels(r->snap->model, &labels);
	if (n > MAX_LABELS)
		n = MAX_LABELS;
	for (i = 0; i < n; i++) {
		res->labels[i] = labels[i];
		res->scores[i] = out.scores[i];
	}
	res->n_scores = n;
	res->span_start = out.span_start;
	res->span_end = out.span_end;
	res->stage[STAGE_CLASSIFIER] = STAGE_OK;
	return 0;
}

static int
stage_policy(struct run *r)
{
	struct result	*res = r->res;

	if (policy_apply(r->policy, r->req, res) == -1) {
		res->stage[STAGE_POLICY] = STAGE_FAILED;
		return fail(res, "internal", "%s", "policy stage failed");
	}
	res->stage[STAGE_POLICY] = STAGE_OK;
	return 0;
}

/*
 * Write the record before the answer goes out.  When it cannot be written,
 * audit.on_failure decides: block (answer block, degraded), refuse (error
 * "internal"), allow (the answer stands, degraded; audit.c counts and logs
 * the loss and notes it in the log once it can write again).
 */
static int
stage_audit(struct run *r)
{
	struct result	*res = r->res;

	if (r->audit == NULL) {
		res->stage[STAGE_AUDIT] = STAGE_NOT_RUN;
		return 0;
	}
	res->elapsed_us = clock_mono_us() - r->t0;
	if (audit_append(r->audit, r->req, res, r->snap->version) == 0) {
		res->stage[STAGE_AUDIT] = STAGE_OK;
		return 0;
	}
	res->stage[STAGE_AUDIT] = STAGE_FAILED;
	switch (audit_on_failure(r->audit)) {
	case AUDIT_FAIL_REFUSE:
		return fail(res, "internal", "%s", "the audit log cannot be "
		    "written; request refused (audit.on_failure refuse)");
	case AUDIT_FAIL_BLOCK:
		policy_block(r->policy, res);
		break;
	case AUDIT_FAIL_ALLOW:
		break;
	}
	return 0;
}

static const struct {
	enum stage_id	  id;
	int		(*run)(struct run *);
} stages[] = {
	{ STAGE_ADMIT,	stage_admit },
	{ STAGE_RULES,		stage_rules },
	{ STAGE_CLASSIFIER,	stage_classifier },
	{ STAGE_POLICY,		stage_policy },
	{ STAGE_AUDIT,		stage_audit },
};

int
pipeline_classifies(const struct snapshot *snap, const struct policy_conf *pol)
{
	return pol->stage_classifier && snap->cfg->classifier.enabled &&
	    snap->model != NULL;
}

int
pipeline_run(const struct snapshot *snap, struct audit *audit,
    const struct request *req, struct result *res)
{
	struct run	 r;
	uint64_t	 t0, t;
	size_t		 i;
	int		 rv = 0;

	memset(&r, 0, sizeof(r));
	r.snap = snap;
	r.audit = audit;
	r.req = req;
	r.res = res;
	t0 = t = clock_mono_us();
	r.t0 = t0;
	for (i = 0; i < sizeof(stages) / sizeof(stages[0]); i++) {
		rv = stages[i].run(&r);
		res->stage_us[stages[i].id] = clock_mono_us() - t;
		t += res->stage_us[stages[i].id];
		if (rv == -1)
			break;
		if (res->stage[stages[i].id] == STAGE_FAILED)
			res->degraded = 1;
	}
	/* An error answer is recorded too, unless the log itself failed. */
	if (rv == -1 && audit != NULL && i < sizeof(stages) / sizeof(stages[0])
	    && stages[i].id != STAGE_AUDIT) {
		res->elapsed_us = clock_mono_us() - t0;
		res->stage[STAGE_AUDIT] = audit_append(audit, req, res,
		    snap->version) == 0 ? STAGE_OK : STAGE_FAILED;
	}
	res->elapsed_us = clock_mono_us() - t0;
	return rv;
}
