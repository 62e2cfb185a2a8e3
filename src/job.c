/*
 * job: moderation work shared by every front.  See include/job.h.
 */
#include <stddef.h>

#include "job.h"
#include "log.h"
#include "pipeline.h"
#include "snapshot.h"
#include "stream.h"

void
job_run(struct job *j)
{
	/* A stream call always runs: later calls of its stream build on it. */
	if (j->sc == NULL && atomic_load(&j->cancelled))
		return;
	log_set_request(j->logid);
	if (j->sc != NULL)
		stream_call_run(j->sc, j->audit);
	else
		j->rv = pipeline_run(j->snap, j->audit, j->req, &j->res);
	log_set_request(NULL);
}

/* On a worker thread. */
static void
job_worker_run(struct worker_job *wj)
{
	job_run((struct job *)wj);
}

/* Back on the event loop thread. */
static void
job_worker_done(struct worker_job *wj)
{
	struct job	*j = (struct job *)wj;

	j->done(j);
}

void
job_init(struct job *j, struct snapshot *snap, struct audit *audit,
    void (*done)(struct job *))
{
	j->wj.run = job_worker_run;
	j->wj.done = job_worker_done;
	j->snap = snapshot_ref(snap);
	j->audit = audit;
	j->done = done;
	j->rv = 0;
	atomic_init(&j->cancelled, 0);
	result_init(&j->res);
}

int
job_submit(struct job *j, struct worker_pool *wp)
{
	return worker_submit(wp, &j->wj);
}

void
job_cancel(struct job *j)
{
	atomic_store(&j->cancelled, 1);
}

void
job_clear(struct job *j)
{
	result_clear(&j->res);
	stream_call_free(j->sc);
	j->sc = NULL;
	snapshot_unref(j->snap);
	j->snap = NULL;
}
