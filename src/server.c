/*
 * server: connections, framing, ordering and signals of modgated.  See
 * include/server.h.
 *
 * Every connection keeps a queue of pending requests in arrival order.  A
 * request is answered in place (an error, an op) or becomes a job for the
 * worker pool; when a job comes back, or its request_timeout fires first,
 * its pending entry gets its answer line, and answers are flushed from the
 * head of the queue while the head is complete.  All of this state lives on
 * the event loop thread; a job only touches its own request and result.
 * When a connection goes away with jobs in flight, the jobs are detached
 * (job->pending = NULL) and free themselves when they come back.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
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

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "audit.h"
#include "clock.h"
#include "config.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "peer.h"
#include "policy.h"
#include "protocol.h"
#include "sdnotify.h"
#include "server.h"
#include "snapshot.h"
#include "stream.h"
#include "worker.h"

#define CONN_MAX_PENDING	256		/* pipelined requests per connection */
#define CONN_MAX_OUTPUT		(4 * 1024 * 1024) /* unread answer bytes */
#define DRAIN_GRACE_MS		2000		/* after request_timeout, at stop */
#define DRAIN_NO_TIMEOUT_MS	30000		/* at stop, request_timeout = 0 */
#define DRAIN_READ_MAX		(16 * 1024 * 1024) /* per connection, at stop */
#define INLINE_SLOW_US		5000		/* CPU time of an inline run that
						   sends its connection to the
						   workers */
#define INLINE_BUDGET_US	200		/* inline work per loop pass */
#define LOOP_WINDOW_US		1000		/* the loop's busy share, over */
#define LOOP_BUSY_ON		95		/* % of it: saturated, */
#define LOOP_BUSY_OFF		85		/* % of it: not any more */
#define FLUSH_IOV		64		/* answers per direct write */

TAILQ_HEAD(conn_list, conn);
TAILQ_HEAD(pending_list, pending);

struct server {
	char			*config_file;
	char			*socket_override;
	char			*socket_path;	/* the one we bound */
	struct snapshot		*snap;		/* current */
	struct audit		*audit;
	void			(*reopen_fn)(void *);
	void			*reopen_arg;
	int			 listen_fd;
	int			 inherited;	/* listen_fd from systemd */
	struct event_base	*base;
	struct event		*ev_listen, *ev_hup, *ev_term, *ev_int, *ev_usr1;
	struct event		*ev_deadline;
	struct event		*ev_reload;	/* SIGHUPs in a burst: one reload */
	/*
	 * Reloads run on their own thread so that loading rules and model
	 * never stalls the loop; one at a time, a request during one makes
	 * one more.  Op reload requests wait for the load that starts after
	 * them (reload_next, then reload_now).
	 */
	pthread_t		 reload_thread;
	int			 reloading;
	int			 reload_again;
	struct snapshot		*reload_result;	/* written by the thread */
	int			 reload_pipe[2];
	struct event		*ev_reload_done;
	struct pending_list	 reload_now, reload_next;
	struct worker_pool	*workers;
	struct conn_list	 conns;
	int			 nconns;
	int			 draining;
	int			 audit_sync;	/* audit.fsync always at start */
	uint64_t		 pass_start;	/* first inline run of this loop
						   pass (us), 0: none yet */
	uint64_t		 pass_first;	/* first read callback, 0: none */
	uint64_t		 win_start;	/* window of the loop's busy share */
	uint64_t		 win_busy;	/* us out of the wait for events */
	int			 saturated;	/* the loop thread is the limit */
	uint64_t		 next_conn_id;
	time_t			 started;
	struct {
		const struct front_ops	*ops;
		void			*arg;
	}			 fronts[SERVER_MAX_FRONTS];
	int			 nfronts;
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	struct server		*srv;
	struct bufferevent	*bev;
	struct peer		 peer;
	uint64_t		 id;
	struct pending_list	 pending;
	int			 npending;
	int			 discarding;	/* dropping the rest of a long line */
	int			 eof;		/* no more requests: close when done */
	int			 paused;	/* reading stopped for back-pressure */
	int			 slow;		/* an inline run was slow: workers */
};

struct job;

struct pending {
	TAILQ_ENTRY(pending)	 entry;
	struct conn		*conn;
	struct job		*job;		/* in flight, else NULL */
	json_t			*id;		/* copy of the request id */
	char			*answer;	/* complete line, else NULL */
	size_t			 len;
	struct event		*timer;		/* request_timeout */
	struct pending_list	*wait_list;	/* op reload: waiting for it */
	TAILQ_ENTRY(pending)	 wait_entry;
};

struct job {
	struct worker_job	 wj;		/* first: the pool's handle */
	struct pending		*pending;	/* NULL once nobody waits */
	struct server		*srv;
	struct snapshot		*snap;
	struct audit		*audit;
	struct proto_request	 pr;
	struct result		 res;
	int			 rv;
	atomic_int		 cancelled;	/* nobody waits: skip the work */
	struct stream_call	*sc;		/* stream ops, else NULL */
	char			 logid[64];	/* prefix of its log lines */
};

static void	conn_read(struct conn *);
static void	conn_run_inline(struct job *);
static void	job_detach(struct job *);
static int	conn_flush(struct conn *);
static void	conn_free(struct conn *);

/* 1 when a front other than the socket has requests left. */
static int
fronts_busy(const struct server *srv)
{
	int	 i;

	for (i = 0; i < srv->nfronts; i++)
		if (srv->fronts[i].ops->busy(srv->fronts[i].arg))
			return 1;
	return 0;
}

/* Stats: the counts are metrics.c's. */

static json_t *
stats_json(struct server *srv)
{
	struct metrics_totals	 t;
	struct audit_stats	 as;
	json_t			*o;

	metrics_totals(&t);
	o = json_pack("{s:s, s:I, s:s, s:I, s:i, s:I, s:I, s:I, s:I,"
	    " s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:I,"
	    " s:i, s:i, s:i, s:I, s:I, s:{s:I, s:I, s:I, s:I}}",
	    "op", "stats",
	    "uptime_s", (json_int_t)(time(NULL) - srv->started),
	    "policy_version", srv->snap->version,
	    "generation", (json_int_t)srv->snap->generation,
	    "connections", srv->nconns,
	    "connections_total", (json_int_t)t.connections_total,
	    "connections_refused", (json_int_t)t.connections_refused,
	    "requests", (json_int_t)t.requests,
	    "inline", (json_int_t)t.inline_runs,
	    "verdicts",
	    "allow", (json_int_t)t.verdicts[VERDICT_ALLOW],
	    "rewrite", (json_int_t)t.verdicts[VERDICT_REWRITE],
	    "block", (json_int_t)t.verdicts[VERDICT_BLOCK],
	    "errors",
	    "bad_request", (json_int_t)t.errors_bad_request,
	    "too_large", (json_int_t)t.errors_too_large,
	    "unknown_policy", (json_int_t)t.errors_unknown_policy,
	    "overloaded", (json_int_t)t.errors_overloaded,
	    "timeout", (json_int_t)t.errors_timeout,
	    "internal", (json_int_t)t.errors_internal,
	    "degraded", (json_int_t)t.degraded,
	    "workers", worker_threads(srv->workers),
	    "queued", worker_queued(srv->workers),
	    "running", worker_running(srv->workers),
	    "reloads", (json_int_t)t.reloads,
	    "reload_failures", (json_int_t)t.reload_failures,
	    "latency_us",
	    "p50", (json_int_t)t.latency_us[0],
	    "p90", (json_int_t)t.latency_us[1],
	    "p99", (json_int_t)t.latency_us[2],
	    "p999", (json_int_t)t.latency_us[3]);
	if (o != NULL && srv->audit != NULL) {
		audit_stats(srv->audit, &as);
		json_object_set_new(o, "audit", json_pack("{s:I, s:I, s:I, s:I,"
		    " s:b}", "seq", (json_int_t)as.seq,
		    "written", (json_int_t)as.written,
		    "failures", (json_int_t)as.failures,
		    "lost", (json_int_t)as.lost, "failing", as.failing));
	}
	/* A reload runs off the loop: say so, tests and operators wait on it. */
	if (o != NULL)
		json_object_set_new(o, "reloading",
		    json_boolean(srv->reloading || srv->reload_again));
	return o;
}

/* Reload. */

static void	reload_answer(struct server *, int);
static void	server_signals(int);

/* On the reload thread: load the new snapshot, then wake the loop. */
static void *
reload_main(void *arg)
{
	struct server	*srv = arg;
	char		 c = 1;

	srv->reload_result = snapshot_load(srv->config_file,
	    srv->socket_override);
	while (write(srv->reload_pipe[1], &c, 1) == -1 && errno == EINTR)
		;
	return NULL;
}

/*
 * Swap in SNAP (NULL: the load failed, the old snapshot serves on) and
 * answer the op reload requests that waited for this load.
 */
static void
server_reload_finish(struct server *srv, struct snapshot *snap)
{
	struct snapshot	*old = srv->snap;

	if (snap == NULL) {
		metrics_reload(0);
		log_warnx("reload failed; still serving %s", old->version);
		sdnotify_ready("reload failed; serving the previous snapshot");
		reload_answer(srv, 0);
		return;
	}
	if (!srv->inherited &&
	    strcmp(snap->cfg->server.socket, srv->socket_path) != 0)
		log_warnx("server.socket changed to %s: takes effect at the "
		    "next restart", snap->cfg->server.socket);
	if (old->cfg->http.enabled != snap->cfg->http.enabled ||
	    strcmp(old->cfg->http.listen, snap->cfg->http.listen) != 0 ||
	    strcmp(old->cfg->http.tokens_file, snap->cfg->http.tokens_file) !=
	    0 || old->cfg->http.max_body_bytes !=
	    snap->cfg->http.max_body_bytes ||
	    old->cfg->http.timeout != snap->cfg->http.timeout)
		log_warnx("the http section changed: takes effect at the next "
		    "restart");
	srv->snap = snap;
	snapshot_unref(old);		/* in-flight jobs hold their own */
	metrics_reload(1);
	log_info("serving %s (generation %lu)", snap->version,
	    snap->generation);
	sdnotify_status("serving %s (generation %lu)", snap->version,
	    snap->generation);
	sdnotify_ready(NULL);
	reload_answer(srv, 1);
}

/* Start loading a new snapshot, or ask for one more after the running one. */
static void
server_reload(struct server *srv)
{
	struct pending	*p;

	if (srv->reloading) {
		srv->reload_again = 1;
		return;
	}
	TAILQ_CONCAT(&srv->reload_now, &srv->reload_next, wait_entry);
	TAILQ_FOREACH(p, &srv->reload_now, wait_entry)
		p->wait_list = &srv->reload_now;
	log_info("reloading %s", srv->config_file);
	sdnotify_reloading();
	srv->reload_result = NULL;
	if ((errno = pthread_create(&srv->reload_thread, NULL, reload_main,
	    srv)) != 0) {
		log_warn("reload: pthread_create");
		server_reload_finish(srv, NULL);
		return;
	}
	srv->reloading = 1;
}

static void
server_reload_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	struct snapshot	*snap;
	char		 buf[16];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (!srv->reloading)
		return;
	pthread_join(srv->reload_thread, NULL);
	srv->reloading = 0;
	snap = srv->reload_result;
	srv->reload_result = NULL;
	server_reload_finish(srv, snap);
	if (srv->reload_again || !TAILQ_EMPTY(&srv->reload_next)) {
		srv->reload_again = 0;
		server_reload(srv);
	}
}

/* Pending requests. */

static struct pending *
pending_new(struct conn *c, json_t *id)
{
	struct pending	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->conn = c;
	p->id = id != NULL ? json_deep_copy(id) : NULL;
	TAILQ_INSERT_TAIL(&c->pending, p, entry);
	c->npending++;
	return p;
}

static void
pending_free(struct conn *c, struct pending *p)
{
	TAILQ_REMOVE(&c->pending, p, entry);
	c->npending--;
	if (p->wait_list != NULL)
		TAILQ_REMOVE(p->wait_list, p, wait_entry);
	if (p->job != NULL)
		job_detach(p->job);		/* it frees itself */
	if (p->timer != NULL)
		event_free(p->timer);
	json_decref(p->id);
	free(p->answer);
	free(p);
}

/* Complete P with ANSWER (malloc'd line, or NULL: out of memory). */
static void
pending_answer(struct pending *p, char *answer, size_t len)
{
	static const char	 oom[] = "{\"id\":null,\"error\":{\"code\":"
	    "\"internal\",\"message\":\"out of memory\"}}\n";

	if (answer == NULL) {
		log_warnx("cannot build an answer: out of memory");
		answer = strdup(oom);
		len = answer != NULL ? sizeof(oom) - 1 : 0;
	}
	free(p->answer);
	p->answer = answer;
	p->len = len;
	if (p->timer != NULL) {
		event_free(p->timer);
		p->timer = NULL;
	}
	if (p->job != NULL) {
		job_detach(p->job);
		p->job = NULL;
	}
}

static void
pending_error(struct server *srv, struct pending *p, const char *code,
    const char *msg)
{
	size_t	 len = 0;
	char	*line;

	metrics_error(code);
	line = protocol_error(p->id, code, msg, &len);
	pending_answer(p, line, len);
}

/* An error answer queued in order on C, for a request that never parsed. */
static void
conn_error(struct conn *c, json_t *id, const char *code, const char *msg)
{
	struct pending	*p;

	if ((p = pending_new(c, id)) == NULL) {
		log_warn("conn %llu", (unsigned long long)c->id);
		return;
	}
	pending_error(c->srv, p, code, msg);
}

/* Jobs. */

static void
job_free(struct job *job)
{
	result_clear(&job->res);
	protocol_request_clear(&job->pr);
	stream_call_free(job->sc);
	snapshot_unref(job->snap);
	free(job);
}

/* Nobody waits for JOB's answer any more; it frees itself when it is done. */
static void
job_detach(struct job *job)
{
	job->pending = NULL;
	atomic_store(&job->cancelled, 1);
}

/* On a worker thread. */
static void
job_run(struct worker_job *wj)
{
	struct job	*job = (struct job *)wj;

	/* A stream call always runs: later calls of its stream build on it. */
	if (job->sc != NULL) {
		log_set_request(job->logid);
		stream_call_run(job->sc, job->audit);
		log_set_request(NULL);
		return;
	}
	/* Timed out or the client left while the job waited: no verdict is
	 * wanted, so none is computed or audited. */
	if (atomic_load(&job->cancelled))
		return;
	log_set_request(job->logid);
	job->rv = pipeline_run(job->snap, job->audit, &job->pr.req, &job->res);
	log_set_request(NULL);
}

/*
 * Give JOB's pending request its answer line and count it, on the event
 * loop thread.  The caller flushes the connection.
 */
static void
job_answer(struct job *job)
{
	struct pending	*p = job->pending;
	struct server	*srv = job->srv;
	char		*line;
	size_t		 len = 0;

	if (job->sc != NULL) {
		const char	*code;
		char		 msg[256];
		json_t		*o;

		if ((o = stream_call_result(job->sc, &code, msg,
		    sizeof(msg))) == NULL)
			pending_error(srv, p, code, msg);
		else {
			line = protocol_object(p->id, o, &len);
			pending_answer(p, line, len);
		}
	} else if (job->rv == -1) {
		pending_error(srv, p, job->res.error_code != NULL ?
		    job->res.error_code : "internal", job->res.error_msg);
	} else {
		metrics_request(&job->res);
		line = protocol_answer(&job->pr.req, &job->res,
		    job->snap->version, &len);
		pending_answer(p, line, len);
	}
}

/* Back on the event loop thread. */
static void
job_done(struct worker_job *wj)
{
	struct job	*job = (struct job *)wj;
	struct conn	*c;

	if (job->pending == NULL) {	/* timed out, or the client left */
		job_free(job);
		return;
	}
	c = job->pending->conn;
	job_answer(job);		/* detaches the job from its pending */
	job_free(job);
	conn_flush(c);
}

static void
request_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending	*p = arg;
	struct conn	*c = p->conn;

	pending_error(c->srv, p, "timeout", "no verdict within "
	    "server.request_timeout");
	conn_flush(c);
}

/* Ops. */

char *
server_metrics(struct server *srv, size_t *len)
{
	struct metrics_gauges	 g;
	struct audit_stats	 as;

	memset(&g, 0, sizeof(g));
	g.queue_depth = worker_queued(srv->workers);
	g.queue_max = srv->snap->cfg->server.queue_max;
	g.connections = srv->nconns;
	g.workers = worker_threads(srv->workers);
	g.generation = srv->snap->generation;
	g.policy_version = srv->snap->version;
	g.audit_failures = -1;
	if (srv->audit != NULL) {
		audit_stats(srv->audit, &as);
		g.audit_failures = (long long)as.failures;
	}
	return metrics_render(&g, len);
}

/* {"op": "metrics", "metrics": "<Prometheus text>"}, or NULL. */
static json_t *
metrics_json(struct server *srv)
{
	json_t			*o;
	char			*text;
	size_t			 len;

	if ((text = server_metrics(srv, &len)) == NULL)
		return NULL;
	o = json_pack("{s:s, s:s%}", "op", "metrics", "metrics", text, len);
	free(text);
	return o;
}

static int
peer_is_admin(const struct server *srv, const struct peer *peer)
{
	const struct server_conf	*sv = &srv->snap->cfg->server;
	size_t				 i;

	if (peer->uid == 0 || peer->uid == geteuid())
		return 1;
	for (i = 0; i < sv->n_admin_uids; i++)
		if (sv->admin_uids[i] == peer->uid)
			return 1;
	return 0;
}

static void
conn_op(struct conn *c, struct pending *p, enum proto_op op)
{
	struct server	*srv = c->srv;
	json_t		*o = NULL;
	char		*line;
	size_t		 len = 0;

	switch (op) {
	case OP_PING:
		o = json_pack("{s:s, s:b}", "op", "ping", "ok", 1);
		break;
	case OP_VERSION:
		o = json_pack("{s:s, s:s, s:i, s:s, s:I}", "op", "version",
		    "version", MODGATE_VERSION, "protocol", PROTOCOL_VERSION,
		    "policy_version", srv->snap->version, "generation",
		    (json_int_t)srv->snap->generation);
		break;
	case OP_STATS:
		o = stats_json(srv);
		break;
	case OP_RELOAD:
		if (!peer_is_admin(srv, &c->peer)) {
			pending_error(srv, p, "bad_request", "op reload needs "
			    "an admin uid (server.admin_uids)");
			return;
		}
		/* Answered when the load that starts after it is done. */
		p->wait_list = &srv->reload_next;
		TAILQ_INSERT_TAIL(&srv->reload_next, p, wait_entry);
		server_reload(srv);
		return;
	case OP_METRICS:
		o = metrics_json(srv);
		break;
	case OP_CHECK:
	case OP_STREAM_OPEN:		/* jobs, see conn_request */
	case OP_STREAM_APPEND:
	case OP_STREAM_CLOSE:
		break;
	}
	line = protocol_object(p->id, o, &len);
	pending_answer(p, line, len);
}

/* Answer the op reload requests that waited for the load just finished. */
static void
reload_answer(struct server *srv, int ok)
{
	struct pending	*p;
	struct conn	*c;
	char		*line;
	size_t		 len = 0;

	while ((p = TAILQ_FIRST(&srv->reload_now)) != NULL) {
		TAILQ_REMOVE(&srv->reload_now, p, wait_entry);
		p->wait_list = NULL;
		c = p->conn;
		if (ok) {
			line = protocol_object(p->id, json_pack("{s:s, s:b, s:s,"
			    " s:I}", "op", "reload", "ok", 1, "policy_version",
			    srv->snap->version, "generation",
			    (json_int_t)srv->snap->generation), &len);
			pending_answer(p, line, len);
		} else
			pending_error(srv, p, "internal", "reload failed (see "
			    "the daemon's log); the previous configuration "
			    "keeps serving");
		conn_flush(c);		/* may free C and its other pendings */
	}
}

/* Requests. */

/*
 * The loop's busy share: the part of the last LOOP_WINDOW_US or more it
 * spent out of its wait for events, running or waiting for a CPU (on a
 * busy machine the loop falls behind without being on a CPU).  Called with
 * the time NOW after a pass, and before a request while saturated.
 */
static void
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

/*
 * 1 when REQ runs on the event loop thread rather than on a worker: a
 * check of at most server.inline_max_bytes whose policy runs no classifier,
 * under an audit log that does not fsync every record.  Its cost is then
 * the rules stage: Hyperscan's linear scan and PCRE2 confirmations bounded
 * by the match and depth limits.  Handing such a request to a worker and
 * back costs more CPU than running it (two thread wake-ups), and the extra
 * runnable threads make the latency tail on a machine with few cores.
 *
 * Limits keep the loop responsive and use the workers when it is behind.
 * Inline runs take at most INLINE_BUDGET_US of one pass of the loop (see
 * server_run): the rest of a longer pass goes to the workers, which then
 * run beside the loop.  When the loop spent LOOP_BUSY_ON % of the last
 * LOOP_WINDOW_US out of its wait for events, it is the limit: every request
 * goes to the workers until that share falls under LOOP_BUSY_OFF %.  A
 * connection whose request drove a rule to its PCRE2 limits here, or took
 * INLINE_SLOW_US of CPU time, sends the rest of its requests to the
 * workers, so that it cannot hold up the others.
 */
static int
request_inline(const struct conn *c, const struct request *req)
{
	struct server			*srv = c->srv;
	const struct config		*cfg = srv->snap->cfg;
	const struct policy_conf	*pol;
	uint64_t			 now;

	if (c->slow || cfg->server.inline_max_bytes == 0 ||
	    req->len > (size_t)cfg->server.inline_max_bytes)
		return 0;
	if (srv->audit != NULL && srv->audit_sync)
		return 0;
	if ((pol = policy_select(cfg, req)) != NULL &&
	    pipeline_classifies(srv->snap, pol))
		return 0;		/* (no policy: unknown_policy at once) */
	now = clock_mono_us();
	if (srv->saturated) {
		server_loop_share(srv, now);	/* after a wait, not any more */
		if (srv->saturated)
			return 0;	/* the workers add their threads */
	}
	if (srv->pass_start == 0)
		srv->pass_start = now;
	else if (now - srv->pass_start >= INLINE_BUDGET_US)
		return 0;
	return 1;
}

/*
 * Run JOB's pipeline here and give its pending request the answer; the
 * caller of conn_read flushes the connection.  Like a job that finishes
 * after its request_timeout, a run that took longer is answered timeout
 * (its audit record stands).
 */
static void
conn_run_inline(struct job *job)
{
	struct server	*srv = job->srv;
	struct conn	*c = job->pending->conn;
	int		 ms = srv->snap->cfg->server.request_timeout;
	uint64_t	 cpu0, cpu;

	metrics_inline();
	cpu0 = clock_thread_cpu_us();
	log_set_request(job->logid);
	job->rv = pipeline_run(job->snap, job->audit, &job->pr.req, &job->res);
	log_set_request(NULL);
	cpu = clock_thread_cpu_us() - cpu0;
	if (!c->slow && (job->res.stage[STAGE_RULES] == STAGE_FAILED ||
	    cpu >= INLINE_SLOW_US)) {
		c->slow = 1;
		log_debug("conn %llu: a request took %llu us of CPU on the "
		    "event loop%s; its next ones go to the workers",
		    (unsigned long long)c->id, (unsigned long long)cpu,
		    job->res.stage[STAGE_RULES] == STAGE_FAILED ?
		    " (rules stage failed)" : "");
	}
	if (ms > 0 && job->res.elapsed_us > (uint64_t)ms * 1000)
		pending_error(srv, job->pending, "timeout", "no verdict within "
		    "server.request_timeout");
	else
		job_answer(job);
	job_free(job);
}

static void
conn_request(struct conn *c, const char *line, size_t len)
{
	struct server		*srv = c->srv;
	const struct server_conf *sv = &srv->snap->cfg->server;
	struct proto_error	 err;
	struct job		*job;
	struct pending		*p;
	struct timeval		 tv;
	uint64_t		 n;

	n = metrics_received();
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		conn_error(c, NULL, "internal", "out of memory");
		return;
	}
	if (protocol_parse(line, len, &job->pr, &err) == -1) {
		conn_error(c, err.id, err.code, err.message);
		json_decref(err.id);
		free(job);
		return;
	}
	if ((p = pending_new(c, job->pr.req.id)) == NULL) {
		protocol_request_clear(&job->pr);
		free(job);
		conn_error(c, NULL, "internal", "out of memory");
		return;
	}
	if (job->pr.op == OP_STREAM_OPEN || job->pr.op == OP_STREAM_APPEND ||
	    job->pr.op == OP_STREAM_CLOSE) {
		struct stream_args	 sa;
		const char		*code;
		char			 msg[256];

		memset(&sa, 0, sizeof(sa));
		sa.op = job->pr.op == OP_STREAM_OPEN ? STREAM_OPEN :
		    job->pr.op == OP_STREAM_APPEND ? STREAM_APPEND :
		    STREAM_CLOSE;
		sa.stream = job->pr.stream;
		sa.text = job->pr.req.text;
		sa.len = job->pr.req.len;
		sa.policy = job->pr.req.policy;
		sa.meta = job->pr.req.meta;
		sa.id = job->pr.req.id;
		sa.peer = c->peer;
		sa.owner = c->id;
		if ((job->sc = stream_call_new(srv->snap, &sa, &code, msg,
		    sizeof(msg))) == NULL) {
			pending_error(srv, p, code, msg);
			protocol_request_clear(&job->pr);
			free(job);
			return;
		}
	} else if (job->pr.op != OP_CHECK) {
		conn_op(c, p, job->pr.op);
		protocol_request_clear(&job->pr);
		free(job);
		return;
	}
	job->pr.req.peer = c->peer;
	/* The request id, else connection and line: "[id] message". */
	if (json_is_string(job->pr.req.id))
		snprintf(job->logid, sizeof(job->logid), "%s",
		    json_string_value(job->pr.req.id));
	else if (json_is_integer(job->pr.req.id))
		snprintf(job->logid, sizeof(job->logid), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(job->pr.req.id));
	else
		snprintf(job->logid, sizeof(job->logid), "conn%llu.%llu",
		    (unsigned long long)c->id,
		    (unsigned long long)n);
	job->wj.run = job_run;
	job->wj.done = job_done;
	job->srv = srv;
	job->snap = snapshot_ref(srv->snap);
	job->audit = srv->audit;
	job->pending = p;
	result_init(&job->res);
	if (job->sc == NULL && request_inline(c, &job->pr.req)) {
		conn_run_inline(job);
		return;
	}
	/* A stream call is not cut short: its answer carries released text. */
	if (sv->request_timeout > 0 && job->sc == NULL) {
		p->timer = evtimer_new(srv->base, request_timeout_cb, p);
		tv.tv_sec = sv->request_timeout / 1000;
		tv.tv_usec = (sv->request_timeout % 1000) * 1000;
		if (p->timer == NULL || evtimer_add(p->timer, &tv) == -1) {
			job_free(job);
			pending_error(srv, p, "internal", "cannot arm the "
			    "timer");
			return;
		}
	}
	if (worker_submit(srv->workers, &job->wj) == -1) {
		job_free(job);
		pending_error(srv, p, "overloaded", "too many requests "
		    "waiting (server.queue_max)");
		return;
	}
	p->job = job;
}

/* Connections. */

static void
conn_pause(struct conn *c, int pause)
{
	if (pause && !c->paused) {
		bufferevent_disable(c->bev, EV_READ);
		c->paused = 1;
	} else if (!pause && c->paused) {
		c->paused = 0;
		if (!c->eof && !c->srv->draining)
			bufferevent_enable(c->bev, EV_READ);
	}
}

static int
conn_congested(struct conn *c)
{
	return c->npending >= CONN_MAX_PENDING ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) >=
	    CONN_MAX_OUTPUT;
}

/* Close C when it has nothing more to say.  1 when C was freed. */
static int
conn_maybe_close(struct conn *c)
{
	if (c->eof && c->npending == 0 &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_free(c);
		return 1;
	}
	return 0;
}

/*
 * Move the complete answers at the head of C's queue out.  With NOW, when
 * nothing waits in C's output buffer, they are written to the socket at
 * once: answers run inline after a read then leave without one more loop
 * pass for writability (and its two epoll_ctl calls).  Otherwise, and for
 * what the socket does not take, they go to the buffer, in order, for the
 * bufferevent to write once per pass (answers of workers come one by one).
 */
static void
conn_write_answers(struct conn *c, int now)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	struct iovec	 iov[FLUSH_IOV];
	struct pending	*p;
	size_t		 sent = 0, skip;
	ssize_t		 n;
	int		 k = 0;

	if (now && evbuffer_get_length(out) == 0) {
		TAILQ_FOREACH(p, &c->pending, entry) {
			if (p->answer == NULL || k == FLUSH_IOV)
				break;
			iov[k].iov_base = p->answer;
			iov[k++].iov_len = p->len;
		}
		if (k > 0) {
			while ((n = writev(bufferevent_getfd(c->bev), iov,
			    k)) == -1 && errno == EINTR)
				;
			if (n > 0)	/* errors: the bufferevent sees them */
				sent = (size_t)n;
		}
	}
	while ((p = TAILQ_FIRST(&c->pending)) != NULL && p->answer != NULL) {
		skip = sent < p->len ? sent : p->len;
		sent -= skip;
		if (skip < p->len && evbuffer_add(out, p->answer + skip,
		    p->len - skip) == -1)
			log_warnx("conn %llu: answer lost: out of memory",
			    (unsigned long long)c->id);
		pending_free(c, p);
	}
}

/*
 * Write the complete answers at the head of C's queue (NOW: see
 * conn_write_answers), then read on if the queue has room.  1 when C was
 * freed.
 */
static int
conn_flush_now(struct conn *c, int now)
{
	for (;;) {
		conn_write_answers(c, now);
		if (!c->paused || conn_congested(c))
			break;
		conn_pause(c, 0);
		conn_read(c);		/* lines that waited in the buffer */
		/* Requests run inline are answered already: write them. */
	}
	return conn_maybe_close(c);
}

static int
conn_flush(struct conn *c)
{
	return conn_flush_now(c, 0);
}

/*
 * Frame and handle the complete lines in C's input, bounded by
 * server.max_request_bytes.  An over-long line is answered too_large and
 * the rest of it discarded up to its newline.
 */
static void
conn_read(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr pos;
	size_t		 max, avail, len, eol, used;
	char		*line;

	while (!conn_congested(c)) {
		max = (size_t)c->srv->snap->cfg->server.max_request_bytes;
		avail = evbuffer_get_length(in);
		if (avail == 0)
			break;
		pos = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_LF);
		if (c->discarding) {
			if (pos.pos == -1) {
				evbuffer_drain(in, avail);
				break;
			}
			evbuffer_drain(in, (size_t)pos.pos + eol);
			c->discarding = 0;
			continue;
		}
		if (pos.pos == -1) {
			if (avail > max + 1) {	/* room for a "\r" */
				conn_error(c, NULL, "too_large", "request "
				    "line longer than server.max_request_bytes");
				c->discarding = 1;
				evbuffer_drain(in, avail);
				continue;
			}
			if (!c->eof || c->srv->draining)
				break;
			/* The last line of the stream lacks its newline. */
			len = avail;
			eol = 0;
		} else {
			len = (size_t)pos.pos;
		}
		if (len > max + 1) {
			conn_error(c, NULL, "too_large", "request line longer "
			    "than server.max_request_bytes");
			evbuffer_drain(in, len + eol);
			continue;
		}
		line = (char *)evbuffer_pullup(in, (ssize_t)len);
		if (line == NULL && len > 0) {
			conn_error(c, NULL, "internal", "out of memory");
			evbuffer_drain(in, len + eol);
			continue;
		}
		/* A "\r" before the newline does not count. */
		if (len == max + 1 && line[max] != '\r') {
			conn_error(c, NULL, "too_large", "request line longer "
			    "than server.max_request_bytes");
			evbuffer_drain(in, len + eol);
			continue;
		}
		used = len + eol;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len > 0)
			conn_request(c, line, len);
		evbuffer_drain(in, used);
	}
	if (conn_congested(c))
		conn_pause(c, 1);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->srv->pass_first == 0)
		c->srv->pass_first = clock_mono_us();
	conn_read(c);
	conn_flush_now(c, 1);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	/* The output drained: read on, or close a finished connection. */
	conn_flush(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if (what & BEV_EVENT_EOF) {
		/* Half close: answer what was sent, then close. */
		c->eof = 1;
		conn_read(c);
		conn_flush(c);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    c->npending > 0) {
		bufferevent_enable(bev, EV_READ);	/* waiting, not idle */
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		log_debug("conn %llu: %s timeout", (unsigned long long)c->id,
		    (what & BEV_EVENT_READING) ? "idle" : "write");
	else if (what & BEV_EVENT_ERROR)
		log_debug("conn %llu: %s", (unsigned long long)c->id,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	conn_free(c);
}

static void
conn_free(struct conn *c)
{
	struct server	*srv = c->srv;
	struct pending	*p;

	while ((p = TAILQ_FIRST(&c->pending)) != NULL)
		pending_free(c, p);
	stream_drop_owner(c->id);
	bufferevent_free(c->bev);
	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->nconns--;
	log_debug("conn %llu: closed", (unsigned long long)c->id);
	free(c);
	if (srv->draining && srv->nconns == 0 && !fronts_busy(srv))
		event_base_loopexit(srv->base, NULL);
}

/* Tell a refused client why, without waiting for it, and close. */
static void
refuse(int fd, const char *code, const char *msg)
{
	char	*line;
	size_t	 len = 0;

	if ((line = protocol_error(NULL, code, msg, &len)) != NULL) {
		(void)send(fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		free(line);
	}
	close(fd);
}

static void
server_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct server			*srv = arg;
	const struct server_conf	*sv = &srv->snap->cfg->server;
	struct ucred			 cred;
	socklen_t			 clen = sizeof(cred);
	struct conn			*c, *o;
	struct timeval			 idle;
	int				 fd, peruid;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
		    &clen) == -1) {
			log_warn("SO_PEERCRED");
			close(fd);
			continue;
		}
		if (!peer_allowed(sv, &(struct peer){ cred.pid, cred.uid,
		    cred.gid }, fd)) {
			log_warnx("refused pid %d uid %u gid %u: not in "
			    "allowed_uids or allowed_gids", (int)cred.pid,
			    (unsigned int)cred.uid, (unsigned int)cred.gid);
			metrics_refused("not_allowed");
			refuse(fd, "bad_request", "peer not allowed");
			continue;
		}
		peruid = 0;
		TAILQ_FOREACH(o, &srv->conns, entry)
			if (o->peer.uid == cred.uid)
				peruid++;
		if (srv->nconns >= sv->max_connections ||
		    (sv->max_connections_per_uid > 0 &&
		    peruid >= sv->max_connections_per_uid)) {
			log_warnx("refused pid %d uid %u: %s", (int)cred.pid,
			    (unsigned int)cred.uid,
			    srv->nconns >= sv->max_connections ?
			    "max_connections" : "max_connections_per_uid");
			metrics_refused(srv->nconns >= sv->max_connections ?
			    "max_connections" : "max_connections_per_uid");
			refuse(fd, "overloaded", "too many connections");
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			log_warn("accept");
			close(fd);
			continue;
		}
		c->srv = srv;
		c->id = ++srv->next_conn_id;
		c->peer.pid = cred.pid;
		c->peer.uid = cred.uid;
		c->peer.gid = cred.gid;
		TAILQ_INIT(&c->pending);
		c->bev = bufferevent_socket_new(srv->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			log_warnx("accept: bufferevent_socket_new failed");
			close(fd);
			free(c);
			continue;
		}
		bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb,
		    conn_event_cb, c);
		idle.tv_sec = sv->idle_timeout;
		idle.tv_usec = 0;
		if (sv->idle_timeout > 0)
			bufferevent_set_timeouts(c->bev, &idle, &idle);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		TAILQ_INSERT_TAIL(&srv->conns, c, entry);
		srv->nconns++;
		metrics_connection();
		log_debug("conn %llu: pid %d uid %u gid %u",
		    (unsigned long long)c->id, (int)cred.pid,
		    (unsigned int)cred.uid, (unsigned int)cred.gid);
	}
}

/* Signals. */

static void
server_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	log_warnx("stop: %d connection%s still open after the grace "
	    "period; closing", srv->nconns, srv->nconns == 1 ? "" : "s");
	event_base_loopexit(srv->base, NULL);
}

/*
 * Move what the client has already sent, still in the socket buffer, into
 * C's input, up to DRAIN_READ_MAX bytes: at a stop, every request sent
 * before it gets its answer.
 */
static void
conn_slurp(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	evutil_socket_t	 fd = bufferevent_getfd(c->bev);
	size_t		 got = 0;
	int		 n;

	while (got < DRAIN_READ_MAX && (n = evbuffer_read(in, fd, 65536)) > 0)
		got += (size_t)n;
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
	if (srv->nconns == 0 && !fronts_busy(srv))
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

/* Setup. */

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
