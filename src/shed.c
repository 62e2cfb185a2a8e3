/*
 * shed: accept(2) under descriptor exhaustion.  See include/shed.h.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "shed.h"

struct shed {
	char		*name;
	void		(*pause)(void *, int);
	void		*arg;
	char		*reply;
	size_t		 len;
	int		 reserve;	/* /dev/null, closed to accept one */
	struct event	*timer;		/* resume, then watch for the end */
	int		 paused;
	int		 burst;		/* logged its start, not its end */
	uint64_t	 last_us;	/* the last failed accept */
	unsigned long long burst_shed;	/* connections shed in it */
};

static int
reserve_open(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int
shed_exhausted(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM;
}

/* Resume the listener; end the burst once quiet and descriptors are back. */
static void
shed_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shed	*s = arg;
	struct timeval	 tv = { 0, SHED_PAUSE_MS * 1000 };
	int		 probe;

	if (s->paused) {
		s->paused = 0;
		s->pause(s->arg, 0);
	}
	if (s->reserve == -1)
		s->reserve = reserve_open();
	if (clock_mono_us() - s->last_us >= SHED_QUIET_MS * 1000 &&
	    s->reserve != -1 && (probe = dup(s->reserve)) != -1) {
		close(probe);
		log_info("%s: descriptors available again; %llu connection%s "
		    "shed", s->name, s->burst_shed,
		    s->burst_shed == 1 ? "" : "s");
		s->burst = 0;
		s->burst_shed = 0;
		return;
	}
	evtimer_add(s->timer, &tv);
}

struct shed *
shed_new(struct event_base *base, const char *name,
    void (*pause)(void *, int), void *arg, const char *reply, size_t len)
{
	struct shed	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("%s", name);
		return NULL;
	}
	s->reserve = -1;
	if ((s->name = strdup(name)) == NULL ||
	    (s->reply = malloc(len > 0 ? len : 1)) == NULL) {
		log_warn("%s", name);
		goto fail;
	}
	memcpy(s->reply, reply, len);
	s->len = len;
	s->pause = pause;
	s->arg = arg;
	if ((s->reserve = reserve_open()) == -1) {
		log_warn("%s: reserve descriptor: /dev/null", name);
		goto fail;
	}
	if ((s->timer = evtimer_new(base, shed_timer_cb, s)) == NULL) {
		log_warnx("%s: evtimer_new failed", name);
		goto fail;
	}
	return s;
fail:
	shed_free(s);
	return NULL;
}

/* Accept and close up to SHED_MAX waiting connections on the reserve. */
static void
shed_waiting(struct shed *s, int lfd)
{
	int	 fd, n;

	if (s->reserve == -1)
		return;
	close(s->reserve);
	for (n = 0; n < SHED_MAX; n++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;
		}
		(void)send(fd, s->reply, s->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		s->burst_shed++;
		metrics_refused("fd_limit");
	}
	/* Another thread may have taken the slot: then only the pause. */
	s->reserve = reserve_open();
}

int
shed_accept_error(struct shed *s, int lfd, int err)
{
	struct timeval	 tv = { 0, SHED_PAUSE_MS * 1000 };
	struct rlimit	 rl;

	if (!shed_exhausted(err))
		return 0;
	s->last_us = clock_mono_us();
	if (!s->burst) {
		s->burst = 1;
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			rl.rlim_cur = 0;
		log_warnx("%s: accept: %s (open file limit %llu); shedding new "
		    "connections with \"overloaded\" until descriptors are "
		    "free", s->name, strerror(err),
		    (unsigned long long)rl.rlim_cur);
	}
	shed_waiting(s, lfd);
	if (!s->paused) {
		s->paused = 1;
		s->pause(s->arg, 1);
	}
	if (!evtimer_pending(s->timer, NULL))
		evtimer_add(s->timer, &tv);
	return 1;
}

void
shed_free(struct shed *s)
{
	if (s == NULL)
		return;
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->reserve != -1)
		close(s->reserve);
	free(s->reply);
	free(s->name);
	free(s);
}
