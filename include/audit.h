/*
 * audit: the hash-chained JSON Lines audit log (man 5 modgate.audit).
 * One record per answered request, written before the answer is sent.
 */
#ifndef MODGATE_AUDIT_H
#define MODGATE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "verdict.h"

struct audit;

/*
 * Open the log of CONF, resuming the chain of an existing file (a torn last
 * line is sealed), and write a "start" record.  Starts no thread, so it
 * may run before daemon(3).  NULL after logging why.
 */
struct audit	*audit_open(const struct audit_conf *conf);
/*
 * Start the background thread (interval fsync, checkpoints every
 * audit.checkpoint_seconds); call after daemon(3).  NULL: no-op.
 */
void		 audit_start(struct audit *);
/* Write a "stop" record and a final checkpoint, fsync, free.  NULL: no-op. */
void		 audit_close(struct audit *);

/*
 * Append the record of REQ/RES under POLICY_VERSION and set RES->audit_seq.
 * Thread-safe.  Returns 0, or -1 when the record could not be written
 * (the caller applies on_failure).
 */
int		 audit_append(struct audit *, const struct request *req,
		    struct result *res, const char *policy_version);

/*
 * Record a reload, accepted (OK) or refused, asked by the N peers of UIDS
 * (op reload) or by a signal (N = 0), from OLD_VERSION to NEW_VERSION (NULL
 * when refused), followed by a checkpoint.  NULL: no-op.  0 or -1 (logged).
 */
int		 audit_reload(struct audit *, int ok, const unsigned int *uids,
		    size_t n, const char *old_version, const char *new_version);

/* Whether the key file PATH (static or forward-secure) loads.  0 or -1. */
int		 audit_check_key(const char *path);

/* Reopen the file (SIGUSR1, logrotate).  0 or -1. */
int		 audit_reopen(struct audit *);

struct audit_stats {
	uint64_t	 seq;		/* last record in the chain */
	uint64_t	 written;	/* request records written since open */
	uint64_t	 failures;	/* appends that could not be written */
	uint64_t	 lost;		/* of those, answered anyway (allow) */
	int		 failing;	/* the last append failed */
};

/*
 * The on_failure the log was opened with (fixed until restart, like the
 * rest of its settings, so that the counters match what was answered).
 */
enum audit_on_failure audit_on_failure(const struct audit *);

/* Counters for the stats operation.  Thread-safe. */
void		 audit_stats(struct audit *, struct audit_stats *);

#endif
