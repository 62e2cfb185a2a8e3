/*
 * verdict: the vocabulary every stage and front shares: a request, the rule
 * matches and the result of checking it (verdict, scores, stage states),
 * the label set's bound and the names of verdicts and stage states.  At the
 * bottom of the include graph: it includes no header of the project, so
 * that a stage never includes the pipeline that runs it.
 */
#ifndef MODGATE_VERDICT_H
#define MODGATE_VERDICT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define MAX_LABELS	16	/* classifier outputs */

struct policy_conf;

enum verdict { VERDICT_ALLOW, VERDICT_REWRITE, VERDICT_BLOCK };
enum rule_action { ACTION_BLOCK, ACTION_REWRITE, ACTION_FLAG };

/* Who sent a request, from SO_PEERCRED (never from the payload). */
struct peer {
	pid_t	 pid;
	uid_t	 uid;
	gid_t	 gid;
};

struct request {
	json_t		*id;		/* echoed as is; NULL when absent */
	const char	*text;		/* valid UTF-8, not NUL-terminated */
	size_t		 len;
	const char	*policy;	/* NULL: the peer's default policy */
	json_t		*meta;		/* copied to the audit record; may be NULL */
	struct peer	 peer;
	/* The policy a front picked already (policy_select, on the snapshot
	 * the request runs on); NULL: the pipeline picks it. */
	const struct policy_conf *picked;
};

/* One rule hit, at byte offsets of the original request text. */
struct match {
	const char	*rule;		/* rule id, owned by the rule set */
	const char	*category;	/* owned by the rule set */
	enum rule_action action;	/* after the policy's overrides */
	int		 monitor;	/* recorded, never changes the verdict */
	double		 score;
	size_t		 start, end;	/* [start, end) in the original text */
	char		*replacement;	/* expanded template (rewrite), else NULL */
};

struct match_list {
	struct match	*v;
	size_t		 n, cap;
};

/* What a stage did, for the answer and the audit record. */
enum stage_state {
	STAGE_NOT_RUN,		/* disabled by the policy or config */
	STAGE_SKIPPED,		/* not needed (e.g. a rule already blocked) */
	STAGE_PASSTHROUGH,	/* no implementation loaded: text passed as is */
	STAGE_OK,
	STAGE_FAILED		/* error or limit hit: on_error decides */
};

/*
 * The stages (pipeline.c).  STAGE_ADMIT checks the text (valid UTF-8, no
 * NUL) and picks the policy it runs under; answers, audit records and
 * metrics call it "normalize" (protocol v1).  The normalised forms of the
 * text are the rules stage's (rules.c, normalize.c).
 */
enum stage_id { STAGE_ADMIT, STAGE_RULES, STAGE_CLASSIFIER, STAGE_POLICY,
    STAGE_AUDIT, STAGE_COUNT };

struct result {
	enum verdict	 verdict;
	const struct policy_conf *policy;
	char		*text;		/* rewritten text (rewrite only), malloc'd */
	size_t		 text_len;
	const char	*message;	/* block message, owned by the policy */
	struct match_list matches;
	size_t		 n_scores;	/* 0 when the classifier did not run */
	const char	*labels[MAX_LABELS];	/* owned by the model */
	float		 scores[MAX_LABELS];
	size_t		 span_start, span_end;	/* window that scored highest */
	const char	*flagged[MAX_LABELS];	/* categories over a threshold */
	size_t		 n_flagged;
	int		 degraded;	/* a stage failed; on_error decided */
	int		 would_verdict;	/* monitor policies: the real verdict */
	enum stage_state stage[STAGE_COUNT];
	uint64_t	 stage_us[STAGE_COUNT];
	uint64_t	 audit_seq;
	uint64_t	 elapsed_us;
	const char	*error_code;	/* set when the answer is an error */
	char		 error_msg[256];
};

void	 result_init(struct result *);
/* Free what RES owns; RES may be reused after result_init. */
void	 result_clear(struct result *);

/* Append M to L, taking ownership of M->replacement.  0 or -1 (ENOMEM). */
int	 match_list_push(struct match_list *l, const struct match *m);
void	 match_list_clear(struct match_list *l);

const char *verdict_name(enum verdict);
/* "block", "rewrite" or "flag": a rule action as the protocol, the audit
   log and the metrics name it. */
const char *rule_action_name(enum rule_action);
const char *stage_state_name(enum stage_state);
/* The name of stage S in answers, audit records and metrics. */
const char *stage_name(enum stage_id s);

#endif
