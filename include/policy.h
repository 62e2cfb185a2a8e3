/*
 * policy: turn stage results into a verdict.  Precedence: block over
 * rewrite over allow; monitor-mode rules and monitor policies record what
 * would have happened without changing the answer.
 */
#ifndef MODGATE_POLICY_H
#define MODGATE_POLICY_H

#include "config.h"
#include "verdict.h"

/* The policy a request runs under (its own, else the peer's default). */
const struct policy_conf *policy_select(const struct config *,
		    const struct request *);

/* The action of rule hit M under P: its own, or P's category override. */
enum rule_action policy_rule_action(const struct policy_conf *p,
		    const struct match *m);

/*
 * Fill RES->verdict, text, message and flagged from RES->matches and scores
 * under P.  0, or -1 on allocation failure.
 */
int		 policy_apply(const struct policy_conf *p, const struct request *req,
		    struct result *res);

#endif
