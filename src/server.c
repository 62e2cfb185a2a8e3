/*
 * server: the daemon's state and its event loop: the snapshot serving, the
 * worker pool, the fronts (the protocol socket, those added with
 * server_add_front), signals and the graceful stop.  See include/server.h;
 * what its files share is in include/server-internal.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "audit.h"
#include "clock.h"
#include "config.h"
#include "listen.h"
#include "log.h"
#include "protocol.h"
#include "sdnotify.h"
#include "server.h"
#include "server-internal.h"
#include "shed.h"
#include "snapshot.h"
#include "worker.h"

#define DRAIN_GRACE_MS		2000		/* after request_timeout, at stop */
#define DRAIN_NO_TIMEOUT_MS	30000		/* at stop, request_timeout = 0 */
#define LOOP_WINDOW_US		1000		/* the loop's busy share, over */
#define LOOP_BUSY_ON		95		/* % of it: saturated, */
#define LOOP_BUSY_OFF		85		/* % of it: not any more */

/* 1 when a front other than the socket has requests left. */
int
server_fronts_busy(const struct server *srv)
{
	int	 i;

	for (i = 0; i < srv->nfronts; i++)
		if (srv->fronts[i].ops->busy(srv->fronts[i].arg))
			return 1;
	return 0;
}

/*
 * The loop's busy share: the part of the last LOOP_WINDOW_US or more it
 * spent out of its wait for events, running or waiting for a CPU (on a
 * busy machine the loop falls behind without being on a CPU).  Called with
 * the time NOW after a pass, and before a request while saturated.
 */
void
server_loop_share(struct server *srv, uint64_t now)
{
	uint64_t	 pct;

	if (now - srv->win_start < LOOP_WINDOW_US)
		return;
	pct = srv->win_busy * 100 / (now - srv->win_start);
	if (!srv->saturated && pct >= LOOP_BUSY_ON)
		srv->saturated = 1;
	else if (srv->saturated && pct < LOOP_BUSY_OFF)
		srv->saturated = 0;
	srv->win_start = now;
	srv->win_busy = 0;
}

static void
server_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	log_warnx("stop: %d connection%s still open after the grace "
	    "period; closing", srv->nconns, srv->nconns == 1 ? "" : "s");
	event_base_loopexit(srv->base, NULL);
}

/* Stop accepting, answer what was sent, then leave the loop. */
static void
server_stop(struct server *srv)
{
	struct conn	*c, *next;
	struct timeval	 tv;
	int		 ms, i;

	if (srv->draining) {
		log_warnx("second stop signal: exiting now");
		event_base_loopexit(srv->base, NULL);
		return;
	}
	srv->draining = 1;
	sdnotify_stopping();
	log_info("stopping: %d connection%s to finish", srv->nconns,
	    srv->nconns == 1 ? "" : "s");
	if (srv->ev_listen != NULL)
		event_del(srv->ev_listen);
	for (i = 0; i < srv->nfronts; i++)
		srv->fronts[i].ops->stop(srv->fronts[i].arg);
	if (srv->listen_fd != -1) {
		close(srv->listen_fd);
		srv->listen_fd = -1;
		if (!srv->inherited)
			unlink(srv->socket_path);
	}
	ms = srv->snap->cfg->server.request_timeout;
	if (ms == 0)
		ms = DRAIN_NO_TIMEOUT_MS;
	ms += DRAIN_GRACE_MS;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	srv->ev_deadline = evtimer_new(srv->base, server_deadline_cb, srv);
	if (srv->ev_deadline != NULL)
		evtimer_add(srv->ev_deadline, &tv);
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_slurp(c);		/* what the client already sent */
		conn_read(c);
		bufferevent_disable(c->bev, EV_READ);
		c->eof = 1;
		conn_flush(c);
	}
	if (srv->nconns == 0 && !server_fronts_busy(srv))
		event_base_loopexit(srv->base, NULL);
}

void
server_front_idle(struct server *srv)
{
	struct timeval	 tv = { 0, 100000 };	/* for the replies to go out */

	if (srv->draining && srv->nconns == 0)
		event_base_loopexit(srv->base, &tv);
}

struct snapshot *
server_snapshot(struct server *srv)
{
	return srv->snap;
}

struct worker_pool *
server_workers(struct server *srv)
{
	return srv->workers;
}

struct audit *
server_audit(struct server *srv)
{
	return srv->audit;
}

static void
server_reload_cb(evutil_socket_t fd, short what, void *arg)
{
	server_reload(arg);
}

static void
server_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;

	switch (sig) {
	case SIGHUP:
		/*
		 * libevent runs this once per signal caught: a burst of N
		 * SIGHUPs would be N reloads back to back.  Activating one
		 * event merges them into a single reload.
		 */
		event_active(srv->ev_reload, 0, 0);
		break;
	case SIGUSR1:
		if (srv->reopen_fn != NULL)
			srv->reopen_fn(srv->reopen_arg);
		else
			log_info("SIGUSR1: no audit log to reopen");
		break;
	case SIGTERM:
	case SIGINT:
		server_stop(srv);
		break;
	}
}

struct server *
server_new(const char *config_file, const char *socket, struct snapshot *snap)
{
	struct server	*srv;

	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		log_warn("server");
		return NULL;
	}
	srv->listen_fd = -1;
	srv->reload_pipe[0] = srv->reload_pipe[1] = -1;
	TAILQ_INIT(&srv->conns);
	TAILQ_INIT(&srv->reload_now);
	TAILQ_INIT(&srv->reload_next);
	srv->snap = snap;
	if ((srv->config_file = strdup(config_file)) == NULL ||
	    (socket != NULL &&
	    (srv->socket_override = strdup(socket)) == NULL)) {
		log_warn("server");
		server_free(srv);
		return NULL;
	}
	return srv;
}

int
server_add_front(struct server *srv, const struct front_ops *ops, void *arg)
{
	if (srv->nfronts == SERVER_MAX_FRONTS) {
		log_warnx("server: too many fronts");
		return -1;
	}
	srv->fronts[srv->nfronts].ops = ops;
	srv->fronts[srv->nfronts++].arg = arg;
	return 0;
}

void
server_set_audit(struct server *srv, struct audit *audit)
{
	srv->audit = audit;
	/* The log was opened with the configuration of this snapshot. */
	srv->audit_sync = srv->snap->cfg->audit.fsync == AUDIT_FSYNC_ALWAYS;
}

void
server_set_reopen_hook(struct server *srv, void (*fn)(void *), void *arg)
{
	srv->reopen_fn = fn;
	srv->reopen_arg = arg;
}

static const int		 loop_signals[] = { SIGHUP, SIGTERM, SIGINT,
			    SIGUSR1 };
/* Atomic: the handler may run on any thread (a worker's, a library's). */
static atomic_int		 early_signals[4];

static void
early_handler(int sig)
{
	size_t	 i;

	for (i = 0; i < 4; i++)
		if (loop_signals[i] == sig)
			atomic_store(&early_signals[i], 1);
}

/*
 * SIG_BLOCK: from here until the loop runs, the signals it handles are
 * only recorded (threads of libraries such as OpenBLAS exist already, so
 * blocking them in one thread would not do).  SIG_UNBLOCK: once libevent
 * has its handlers, raise the recorded ones again for the loop.
 */
static void
server_signals(int how)
{
	struct sigaction	 sa;
	size_t			 i;

	if (how == SIG_UNBLOCK) {
		for (i = 0; i < 4; i++)
			if (atomic_exchange(&early_signals[i], 0))
				raise(loop_signals[i]);
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = early_handler;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 4; i++)
		sigaction(loop_signals[i], &sa, NULL);
}

int
server_listen(struct server *srv)
{
	const struct server_conf	*sv = &srv->snap->cfg->server;
	struct sockaddr_un		 sun;
	int				 fd;

	/*
	 * Clients may connect as soon as we listen, and may signal us: keep
	 * the signals the loop handles until server_run has set it up.
	 */
	server_signals(SIG_BLOCK);

	/* Socket activation: systemd's socket replaces server.socket. */
	if ((fd = sdnotify_listen_fd()) == -2)
		return -1;
	if (fd >= 0) {
		socklen_t	 sl = sizeof(sun);

		memset(&sun, 0, sizeof(sun));
		if (getsockname(fd, (struct sockaddr *)&sun, &sl) == -1 ||
		    sun.sun_path[0] == '\0')
			snprintf(sun.sun_path, sizeof(sun.sun_path),
			    "(inherited fd %d)", fd);
		if ((srv->socket_path = strdup(sun.sun_path)) == NULL) {
			log_warn("server");
			close(fd);
			return -1;
		}
		srv->listen_fd = fd;
		srv->inherited = 1;
		log_info("using the socket passed by systemd: %s",
		    srv->socket_path);
		return 0;
	}

	if ((srv->socket_path = strdup(sv->socket)) == NULL) {
		log_warn("server");
		return -1;
	}
	if ((srv->listen_fd = listen_unix(sv->socket, sv->socket_mode,
	    sv->socket_group)) == -1)
		return -1;
	return 0;
}

/* The shed's pause: stop or resume accepting (never again at a stop). */
static void
server_listen_pause(void *arg, int on)
{
	struct server	*srv = arg;

	if (on)
		event_del(srv->ev_listen);
	else if (!srv->draining)
		event_add(srv->ev_listen, NULL);
}

/* The accept guard of the protocol socket; -1 after logging. */
static int
server_shed_new(struct server *srv)
{
	char	*line;
	size_t	 len = 0;

	if ((line = protocol_error(NULL, "overloaded",
	    "out of file descriptors", &len)) == NULL) {
		log_warnx("server: out of memory");
		return -1;
	}
	srv->shed = shed_new(srv->base, srv->socket_path, server_listen_pause,
	    srv, line, len);
	free(line);
	return srv->shed != NULL ? 0 : -1;
}

int
server_run(struct server *srv)
{
	const struct server_conf	*sv = &srv->snap->cfg->server;
	uint64_t			 now;
	int				 rv, i;

	signal(SIGPIPE, SIG_IGN);
	srv->started = time(NULL);
	if ((srv->base = event_base_new()) == NULL) {
		log_warnx("event_base_new failed");
		return -1;
	}
	srv->workers = worker_pool_new(srv->base, sv->workers, sv->queue_max);
	if (srv->workers == NULL)
		return -1;
	for (i = 0; i < srv->nfronts; i++)
		if (srv->fronts[i].ops->start(srv->fronts[i].arg,
		    srv->base) == -1)
			return -1;
	srv->ev_listen = event_new(srv->base, srv->listen_fd,
	    EV_READ | EV_PERSIST, server_accept_cb, srv);
	if (srv->ev_listen == NULL || server_shed_new(srv) == -1)
		return -1;
	srv->ev_hup = evsignal_new(srv->base, SIGHUP, server_signal_cb, srv);
	srv->ev_reload = event_new(srv->base, -1, 0, server_reload_cb, srv);
	if (pipe2(srv->reload_pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		log_warn("pipe");
		return -1;
	}
	srv->ev_reload_done = event_new(srv->base, srv->reload_pipe[0],
	    EV_READ | EV_PERSIST, server_reload_done_cb, srv);
	if (srv->ev_reload_done == NULL ||
	    event_add(srv->ev_reload_done, NULL) == -1) {
		log_warnx("cannot watch the reload pipe");
		return -1;
	}
	srv->ev_term = evsignal_new(srv->base, SIGTERM, server_signal_cb, srv);
	srv->ev_int = evsignal_new(srv->base, SIGINT, server_signal_cb, srv);
	srv->ev_usr1 = evsignal_new(srv->base, SIGUSR1, server_signal_cb, srv);
	if (srv->ev_listen == NULL || srv->ev_hup == NULL ||
	    srv->ev_reload == NULL || srv->ev_term == NULL ||
	    srv->ev_int == NULL || srv->ev_usr1 == NULL || event_add(srv->ev_listen, NULL) == -1 ||
	    evsignal_add(srv->ev_hup, NULL) == -1 ||
	    evsignal_add(srv->ev_term, NULL) == -1 ||
	    evsignal_add(srv->ev_int, NULL) == -1 ||
	    evsignal_add(srv->ev_usr1, NULL) == -1) {
		log_warnx("cannot set up the event loop");
		return -1;
	}
	server_signals(SIG_UNBLOCK);	/* kept ones are delivered now */
	log_info("listening on %s, %d workers, %s", srv->socket_path,
	    worker_threads(srv->workers), srv->snap->version);
	if (sdnotify_watchdog_start(srv->base) == -1)
		log_warnx("no watchdog pings: systemd may restart us");
	sdnotify_status("serving %s (generation %lu)", srv->snap->version,
	    srv->snap->generation);
	sdnotify_ready(NULL);
	/*
	 * One pass at a time (the callbacks of the events that are ready),
	 * so that the inline budget of a pass starts afresh.
	 */
	srv->win_start = clock_mono_us();
	for (;;) {
		srv->pass_start = srv->pass_first = 0;
		if ((rv = event_base_loop(srv->base, EVLOOP_ONCE)) == -1) {
			log_warnx("event loop failed");
			return -1;
		}
		if (rv == 1 || event_base_got_exit(srv->base) ||
		    event_base_got_break(srv->base))
			break;
		/* Busy from the first read (the wait ended) to the end. */
		now = clock_mono_us();
		if (srv->pass_first != 0)
			srv->win_busy += now - srv->pass_first;
		server_loop_share(srv, now);
	}
	log_info("stopped");
	return 0;
}

void
server_free(struct server *srv)
{
	struct conn	*c;
	int		 i;

	if (srv == NULL)
		return;
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL) {
		srv->draining = 0;	/* no loopexit from conn_free */
		conn_free(c);
	}
	/* Finish the jobs in flight; their done callbacks free them. */
	worker_pool_free(srv->workers);
	for (i = 0; i < srv->nfronts; i++)
		srv->fronts[i].ops->free(srv->fronts[i].arg);
	if (srv->ev_listen != NULL)
		event_free(srv->ev_listen);
	shed_free(srv->shed);
	if (srv->ev_hup != NULL)
		event_free(srv->ev_hup);
	if (srv->ev_reload != NULL)
		event_free(srv->ev_reload);
	if (srv->reloading) {
		pthread_join(srv->reload_thread, NULL);
		snapshot_unref(srv->reload_result);
	}
	if (srv->ev_reload_done != NULL)
		event_free(srv->ev_reload_done);
	if (srv->reload_pipe[0] != -1) {
		close(srv->reload_pipe[0]);
		close(srv->reload_pipe[1]);
	}
	if (srv->ev_term != NULL)
		event_free(srv->ev_term);
	if (srv->ev_int != NULL)
		event_free(srv->ev_int);
	if (srv->ev_usr1 != NULL)
		event_free(srv->ev_usr1);
	if (srv->ev_deadline != NULL)
		event_free(srv->ev_deadline);
	if (srv->listen_fd != -1) {
		close(srv->listen_fd);
		if (!srv->inherited)
			unlink(srv->socket_path);
	}
	sdnotify_watchdog_stop();
	if (srv->base != NULL)
		event_base_free(srv->base);
	snapshot_unref(srv->snap);
	free(srv->socket_path);
	free(srv->socket_override);
	free(srv->config_file);
	free(srv);
}
