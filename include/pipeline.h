/*
 * pipeline: the fixed sequence of stages a request goes through,
 *
 *	admit -> rules -> classifier -> policy -> audit
 *
 * run by a worker thread on one immutable snapshot (config, rules, model).
 * The server and `modgate scan` both call pipeline_run; neither knows what
 * a stage does inside.
 */
#ifndef MODGATE_PIPELINE_H
#define MODGATE_PIPELINE_H

#include "config.h"
#include "verdict.h"

struct snapshot;
struct audit;

/*
 * Run every stage for REQ on SNAP and fill RES (zeroed by the caller with
 * result_init).  AUDIT may be NULL (modgate scan).  Returns 0 when RES holds
 * a verdict, -1 when it holds an error (error_code, error_msg), e.g. an
 * unknown policy or an audit failure with on_failure = refuse.
 */
int	 pipeline_run(const struct snapshot *snap, struct audit *audit,
	    const struct request *req, struct result *res);

/*
 * 1 when a request under policy POL goes through SNAP's model: the policy
 * and the configuration enable the classifier stage and SNAP holds a model.
 */
int	 pipeline_classifies(const struct snapshot *snap,
	    const struct policy_conf *pol);

#endif
