/*
 * job: one piece of moderation work, the same for every front (the
 * protocol socket, HTTP, their stream ops): a pipeline run on a request,
 * or a stream call, on the job's own snapshot reference.  It runs on a
 * worker (job_submit) or on the event loop (job_run), and its front's DONE
 * runs on the event loop when it comes back from a worker.  A front embeds
 * struct job first in its own job and keeps its request there.
 */
#ifndef MODGATE_JOB_H
#define MODGATE_JOB_H

#include <stdatomic.h>

#include "verdict.h"
#include "worker.h"

struct audit;
struct snapshot;
struct stream_call;

struct job {
	struct worker_job	 wj;		/* first: the pool's handle */
	struct snapshot		*snap;		/* own reference */
	struct audit		*audit;		/* NULL: none */
	const struct request	*req;		/* the front's (pipeline runs) */
	struct stream_call	*sc;		/* a stream call, else NULL */
	struct result		 res;
	int			 rv;		/* pipeline_run's */
	atomic_int		 cancelled;	/* nobody waits: skip the work */
	char			 logid[64];	/* prefix of its log lines */
	void			(*done)(struct job *);	/* on the loop */
};

/*
 * Set J up to run on SNAP (a new reference) with AUDIT, DONE called back;
 * the result is empty.  J->req, J->sc and J->logid are the caller's to set.
 */
void	 job_init(struct job *j, struct snapshot *snap, struct audit *audit,
	    void (*done)(struct job *));

/*
 * Queue J on WP.  0, or -1 when the queue is full (the caller answers
 * overloaded and keeps J).  A stream call always runs; a pipeline run is
 * skipped when J was cancelled while it waited.
 */
int	 job_submit(struct job *j, struct worker_pool *wp);

/* Run J here, now (the event loop's inline runs). */
void	 job_run(struct job *j);

/* Nobody waits for J's answer any more: skip the work if not begun. */
void	 job_cancel(struct job *j);

/* Free what J holds (result, stream call, snapshot reference), not J. */
void	 job_clear(struct job *j);

#endif
