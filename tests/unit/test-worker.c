/*
 * test-worker: the thread pool hands every job back to the event loop,
 * a slow job does not hold up the others, and queue_max is enforced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "worker.h"

struct tjob {
	struct worker_job	 wj;
	int			 sleep_ms;
	int			 ran;		/* set by the worker */
	int			 order;		/* done order, on the loop */
};

static struct event_base	*base;
static int			 ndone, want;

static void
tjob_run(struct worker_job *wj)
{
	struct tjob	*j = (struct tjob *)wj;

	if (j->sleep_ms > 0)
		usleep((useconds_t)j->sleep_ms * 1000);
	j->ran = 1;
}

static void
tjob_done(struct worker_job *wj)
{
	struct tjob	*j = (struct tjob *)wj;

	j->order = ++ndone;
	if (ndone == want)
		event_base_loopbreak(base);
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	fail_msg("jobs did not come back in time");
}

static void
run_loop(void)
{
	struct timeval	 tv = { 10, 0 };
	struct event	*t = evtimer_new(base, timeout_cb, NULL);

	evtimer_add(t, &tv);
	event_base_dispatch(base);
	event_free(t);
}

static void
test_all_come_back(void **state)
{
	struct worker_pool	*wp;
	struct tjob		 jobs[200];
	int			 i;

	base = event_base_new();
	wp = worker_pool_new(base, 4, 1000);
	assert_non_null(wp);
	assert_int_equal(worker_threads(wp), 4);
	memset(jobs, 0, sizeof(jobs));
	ndone = 0;
	want = 200;
	for (i = 0; i < 200; i++) {
		jobs[i].wj.run = tjob_run;
		jobs[i].wj.done = tjob_done;
		assert_int_equal(worker_submit(wp, &jobs[i].wj), 0);
	}
	run_loop();
	for (i = 0; i < 200; i++) {
		assert_true(jobs[i].ran);
		assert_true(jobs[i].order > 0);
	}
	assert_int_equal(worker_queued(wp), 0);
	worker_pool_free(wp);
	event_base_free(base);
}

static void
test_slow_job(void **state)
{
	struct worker_pool	*wp;
	struct tjob		 slow, fast[10];
	int			 i;

	base = event_base_new();
	wp = worker_pool_new(base, 2, 100);
	assert_non_null(wp);
	memset(&slow, 0, sizeof(slow));
	memset(fast, 0, sizeof(fast));
	ndone = 0;
	want = 11;
	slow.sleep_ms = 500;
	slow.wj.run = tjob_run;
	slow.wj.done = tjob_done;
	assert_int_equal(worker_submit(wp, &slow.wj), 0);
	for (i = 0; i < 10; i++) {
		fast[i].wj.run = tjob_run;
		fast[i].wj.done = tjob_done;
		assert_int_equal(worker_submit(wp, &fast[i].wj), 0);
	}
	run_loop();
	/* The slow job comes back last; the others did not wait for it. */
	assert_int_equal(slow.order, 11);
	worker_pool_free(wp);
	event_base_free(base);
}

static void
test_queue_max(void **state)
{
	struct worker_pool	*wp;
	struct tjob		 jobs[5];
	int			 i, refused = 0;

	base = event_base_new();
	wp = worker_pool_new(base, 1, 2);
	assert_non_null(wp);
	memset(jobs, 0, sizeof(jobs));
	for (i = 0; i < 5; i++) {
		jobs[i].sleep_ms = 200;
		jobs[i].wj.run = tjob_run;
		jobs[i].wj.done = tjob_done;
	}
	ndone = 0;
	assert_int_equal(worker_submit(wp, &jobs[0].wj), 0);
	usleep(50000);		/* the thread took job 0 */
	assert_int_equal(worker_submit(wp, &jobs[1].wj), 0);
	assert_int_equal(worker_submit(wp, &jobs[2].wj), 0);
	for (i = 3; i < 5; i++)
		if (worker_submit(wp, &jobs[i].wj) == -1)
			refused++;
	assert_int_equal(refused, 2);
	assert_int_equal(worker_queued(wp), 2);
	/* Freeing the pool runs every queued job and its done callback. */
	want = -1;
	worker_pool_free(wp);
	assert_int_equal(ndone, 3);
	assert_true(jobs[2].ran);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_come_back),
		cmocka_unit_test(test_slow_job),
		cmocka_unit_test(test_queue_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
