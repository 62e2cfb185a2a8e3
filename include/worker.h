/*
 * worker: a pool of threads running jobs off the event loop.  A finished
 * job goes back to the event loop through a notify pipe (memcached style),
 * where its done callback runs; a slow job never holds up the others.
 */
#ifndef MODGATE_WORKER_H
#define MODGATE_WORKER_H

#include <sys/queue.h>

#include <event2/event.h>

struct worker_pool;

/* Embed in the caller's job struct. */
struct worker_job {
	void	(*run)(struct worker_job *);	/* on a worker thread */
	void	(*done)(struct worker_job *);	/* on the event loop thread */
	TAILQ_ENTRY(worker_job) entry;
};

/*
 * Start NTHREADS threads (0: one per online CPU) taking at most QUEUE_MAX
 * waiting jobs, handing finished jobs back on BASE.  NULL after logging.
 */
struct worker_pool *worker_pool_new(struct event_base *base, int nthreads,
		    int queue_max);

/*
 * Queue JOB.  0, or -1 when QUEUE_MAX jobs already wait (the caller answers
 * overloaded); the caller keeps JOB then.  JOB belongs to the pool until its
 * done callback runs.
 */
int		 worker_submit(struct worker_pool *, struct worker_job *job);

/* Jobs waiting for a thread, and jobs running. */
int		 worker_queued(const struct worker_pool *);
int		 worker_running(const struct worker_pool *);
int		 worker_threads(const struct worker_pool *);

/*
 * Run every queued job to its end, join the threads, run the done callbacks
 * still pending, and free the pool.  NULL is a no-op.
 */
void		 worker_pool_free(struct worker_pool *);

#endif
