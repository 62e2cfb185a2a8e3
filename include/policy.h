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
 * The effect rule hit M has on the answer under P: ACTION_BLOCK or
 * ACTION_REWRITE, or ACTION_FLAG when it changes nothing (a flag, a
 * monitor-mode rule, a monitor policy).
 */
enum rule_action policy_hit_effect(const struct policy_conf *p,
		    const struct match *m);

/* The text that replaces the span of rewrite hit M under P (not owned). */
const char	*policy_replacement(const struct policy_conf *p,
		    const struct match *m);

/* 1 when one of the N SCORES of LABELS reaches its block threshold in P. */
int		 policy_scores_block(const struct policy_conf *p,
		    const char *const *labels, const float *scores, size_t n);

/* 1 when a failed stage blocks the answer under P (on_error block). */
int		 policy_error_blocks(const struct policy_conf *p);

/*
 * The policy of the rules alone (modgate scan -R): enforce-mode hits
 * decide with their own actions and templates, no thresholds, no
 * overrides, a failed stage allows.
 */
const struct policy_conf *policy_rules_only(void);

/*
 * 1 when a rule hit of RES already blocks under P whatever the scores: an
 * enforce-mode hit whose own action is block (before P's category
 * overrides), P not in monitor mode.
 */
int		 policy_rules_block(const struct policy_conf *p,
		    const struct result *res);

/* Make RES a block answer under P: its message, no rewritten text. */
void		 policy_block(const struct policy_conf *p, struct result *res);

/*
 * Fill RES->verdict, text, message and flagged from RES->matches and scores
 * under P.  0, or -1 on allocation failure.
 */
int		 policy_apply(const struct policy_conf *p, const struct request *req,
		    struct result *res);

#endif
