/*
 * worker: the thread pool of the pipeline.  See include/worker.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "worker.h"

#define WORKER_MAX_THREADS	256

TAILQ_HEAD(job_queue, worker_job);

struct worker_pool {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	struct job_queue todo;		/* waiting for a thread */
	struct job_queue finished;	/* waiting for the event loop */
	int		 queued, running, queue_max, stopping;
	pthread_t	 threads[WORKER_MAX_THREADS];
	int		 nthreads;
	int		 notify[2];	/* workers write, the event loop reads */
	struct event	*ev;
};

static void *
worker_main(void *arg)
{
	struct worker_pool	*wp = arg;
	struct worker_job	*job;
	int			 wake;
	char			 c = 1;

	pthread_mutex_lock(&wp->lock);
	for (;;) {
		while (TAILQ_EMPTY(&wp->todo) && !wp->stopping)
			pthread_cond_wait(&wp->cond, &wp->lock);
		if ((job = TAILQ_FIRST(&wp->todo)) == NULL)
			break;		/* stopping, nothing left */
		TAILQ_REMOVE(&wp->todo, job, entry);
		wp->queued--;
		wp->running++;
		pthread_mutex_unlock(&wp->lock);

		job->run(job);

		pthread_mutex_lock(&wp->lock);
		wp->running--;
		wake = TAILQ_EMPTY(&wp->finished);
		TAILQ_INSERT_TAIL(&wp->finished, job, entry);
		if (wake) {
			while (write(wp->notify[1], &c, 1) == -1 &&
			    errno == EINTR)
				;
		}
	}
	pthread_mutex_unlock(&wp->lock);
	return NULL;
}

/* Run the done callbacks of every finished job. */
static void
worker_reap(struct worker_pool *wp)
{
	struct job_queue	 q;
	struct worker_job	*job;

	TAILQ_INIT(&q);
	pthread_mutex_lock(&wp->lock);
	TAILQ_CONCAT(&q, &wp->finished, entry);
	pthread_mutex_unlock(&wp->lock);
	while ((job = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, job, entry);
		job->done(job);
	}
}

static void
worker_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	char	 buf[64];

	/*
	 * Drain the pipe before reaping: a byte written after the reap
	 * starts stays for the next callback, so no job is left behind.
	 */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	worker_reap(arg);
}

struct worker_pool *
worker_pool_new(struct event_base *base, int nthreads, int queue_max)
{
	struct worker_pool	*wp;
	long			 ncpu;
	int			 i;

	if (nthreads <= 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = ncpu > 0 ? (int)ncpu : 1;
	}
	if (nthreads > WORKER_MAX_THREADS)
		nthreads = WORKER_MAX_THREADS;
	if ((wp = calloc(1, sizeof(*wp))) == NULL) {
		log_warn("worker pool");
		return NULL;
	}
	pthread_mutex_init(&wp->lock, NULL);
	pthread_cond_init(&wp->cond, NULL);
	TAILQ_INIT(&wp->todo);
	TAILQ_INIT(&wp->finished);
	wp->queue_max = queue_max;
	if (pipe2(wp->notify, O_NONBLOCK | O_CLOEXEC) == -1) {
		log_warn("worker pool: pipe");
		wp->notify[0] = wp->notify[1] = -1;
		goto fail;
	}
	wp->ev = event_new(base, wp->notify[0], EV_READ | EV_PERSIST,
	    worker_notify_cb, wp);
	if (wp->ev == NULL || event_add(wp->ev, NULL) == -1) {
		log_warnx("worker pool: cannot watch the notify pipe");
		goto fail;
	}
	for (i = 0; i < nthreads; i++) {
		if ((errno = pthread_create(&wp->threads[i], NULL, worker_main,
		    wp)) != 0) {
			log_warn("worker pool: pthread_create");
			goto fail;
		}
		wp->nthreads++;
	}
	return wp;
fail:
	worker_pool_free(wp);
	return NULL;
}

int
worker_submit(struct worker_pool *wp, struct worker_job *job)
{
	pthread_mutex_lock(&wp->lock);
	if (wp->stopping || wp->queued >= wp->queue_max) {
		pthread_mutex_unlock(&wp->lock);
		return -1;
	}
	TAILQ_INSERT_TAIL(&wp->todo, job, entry);
	wp->queued++;
	pthread_cond_signal(&wp->cond);
	pthread_mutex_unlock(&wp->lock);
	return 0;
}

int
worker_queued(const struct worker_pool *wp)
{
	int	 n;

	pthread_mutex_lock((pthread_mutex_t *)&wp->lock);
	n = wp->queued;
	pthread_mutex_unlock((pthread_mutex_t *)&wp->lock);
	return n;
}

int
worker_running(const struct worker_pool *wp)
{
	int	 n;

	pthread_mutex_lock((pthread_mutex_t *)&wp->lock);
	n = wp->running;
	pthread_mutex_unlock((pthread_mutex_t *)&wp->lock);
	return n;
}

int
worker_threads(const struct worker_pool *wp)
{
	return wp->nthreads;
}

void
worker_pool_free(struct worker_pool *wp)
{
	int	 i;

	if (wp == NULL)
		return;
	pthread_mutex_lock(&wp->lock);
	wp->stopping = 1;
	pthread_cond_broadcast(&wp->cond);
	pthread_mutex_unlock(&wp->lock);
	for (i = 0; i < wp->nthreads; i++)
		pthread_join(wp->threads[i], NULL);
	worker_reap(wp);
	if (wp->ev != NULL)
		event_free(wp->ev);
	if (wp->notify[0] != -1) {
		close(wp->notify[0]);
		close(wp->notify[1]);
	}
	pthread_cond_destroy(&wp->cond);
	pthread_mutex_destroy(&wp->lock);
	free(wp);
}
