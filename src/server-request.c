/*
 * server-request: one request line of a protocol connection: parsed, then
 * answered in place (an error, an op) or run as a job, on the loop
 * (inline) or on a worker, under its request_timeout.  When a connection
 * goes away with jobs in flight, the jobs are detached (job->pending =
 * NULL) and free themselves when they come back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "audit.h"
#include "clock.h"
#include "config.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "policy.h"
#include "protocol.h"
#include "server.h"
#include "server-internal.h"
#include "snapshot.h"
#include "stream.h"

#define INLINE_SLOW_US		5000		/* CPU time of an inline run that
						   sends its connection to the
						   workers */
#define INLINE_BUDGET_US	200		/* inline work per loop pass */

static void	job_detach(struct conn_job *);

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

void
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
void
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

void
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
void
conn_error(struct conn *c, json_t *id, const char *code, const char *msg)
{
	struct pending	*p;

	if ((p = pending_new(c, id)) == NULL) {
		log_warn("conn %llu", (unsigned long long)c->id);
		return;
	}
	pending_error(c->srv, p, code, msg);
}

static void
job_free(struct conn_job *job)
{
	job_clear(&job->j);
	protocol_request_clear(&job->pr);
	free(job);
}

/* Nobody waits for JOB's answer any more; it frees itself when it is done. */
static void
job_detach(struct conn_job *job)
{
	job->pending = NULL;
	job_cancel(&job->j);
}

/*
 * Give JOB's pending request its answer line and count it, on the event
 * loop thread.  The caller flushes the connection.
 */
static void
job_answer(struct conn_job *job)
{
	struct pending	*p = job->pending;
	struct server	*srv = job->srv;
	char		*line;
	size_t		 len = 0;

	if (job->j.sc != NULL) {
		const char	*code;
		char		 msg[256];
		json_t		*o;

		if ((o = stream_call_result(job->j.sc, &code, msg,
		    sizeof(msg))) == NULL)
			pending_error(srv, p, code, msg);
		else {
			line = protocol_object(p->id, o, &len);
			pending_answer(p, line, len);
		}
	} else if (job->j.rv == -1) {
		pending_error(srv, p, job->j.res.error_code != NULL ?
		    job->j.res.error_code : "internal", job->j.res.error_msg);
	} else {
		metrics_request(&job->j.res);
		line = protocol_answer(job->j.req, &job->j.res,
		    job->j.snap->version, &len);
		pending_answer(p, line, len);
	}
}

/* Back on the event loop thread. */
static void
job_done(struct job *j)
{
	struct conn_job	*job = (struct conn_job *)j;
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
	uint64_t			 now;

	if (c->slow || cfg->server.inline_max_bytes == 0 ||
	    req->len > (size_t)cfg->server.inline_max_bytes)
		return 0;
	if (srv->audit != NULL && srv->audit_sync)
		return 0;
	if (req->picked != NULL && pipeline_classifies(srv->snap, req->picked))
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
conn_run_inline(struct conn_job *job)
{
	struct server	*srv = job->srv;
	struct conn	*c = job->pending->conn;
	int		 ms = srv->snap->cfg->server.request_timeout;
	uint64_t	 cpu0, cpu;

	metrics_inline();
	cpu0 = clock_thread_cpu_us();
	job_run(&job->j);
	cpu = clock_thread_cpu_us() - cpu0;
	if (!c->slow && (job->j.res.stage[STAGE_RULES] == STAGE_FAILED ||
	    cpu >= INLINE_SLOW_US)) {
		c->slow = 1;
		log_debug("conn %llu: a request took %llu us of CPU on the "
		    "event loop%s; its next ones go to the workers",
		    (unsigned long long)c->id, (unsigned long long)cpu,
		    job->j.res.stage[STAGE_RULES] == STAGE_FAILED ?
		    " (rules stage failed)" : "");
	}
	if (ms > 0 && job->j.res.elapsed_us > (uint64_t)ms * 1000)
		pending_error(srv, job->pending, "timeout", "no verdict within "
		    "server.request_timeout");
	else
		job_answer(job);
	job_free(job);
}

void
conn_request(struct conn *c, const char *line, size_t len)
{
	struct server		*srv = c->srv;
	const struct server_conf *sv = &srv->snap->cfg->server;
	struct proto_error	 err;
	struct conn_job		*job;
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
		if ((job->j.sc = stream_call_new(srv->snap, &sa, &code, msg,
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
	/* Picked once, here: the inline test and the pipeline both use it. */
	if (job->j.sc == NULL)
		job->pr.req.picked = policy_select(srv->snap->cfg,
		    &job->pr.req);
	/* The request id, else connection and line: "[id] message". */
	if (json_is_string(job->pr.req.id))
		snprintf(job->j.logid, sizeof(job->j.logid), "%s",
		    json_string_value(job->pr.req.id));
	else if (json_is_integer(job->pr.req.id))
		snprintf(job->j.logid, sizeof(job->j.logid),
		    "%" JSON_INTEGER_FORMAT, json_integer_value(job->pr.req.id));
	else
		snprintf(job->j.logid, sizeof(job->j.logid), "conn%llu.%llu",
		    (unsigned long long)c->id, (unsigned long long)n);
	job_init(&job->j, srv->snap, srv->audit, job_done);
	job->j.req = &job->pr.req;
	job->srv = srv;
	job->pending = p;
	if (job->j.sc == NULL && request_inline(c, &job->pr.req)) {
		conn_run_inline(job);
		return;
	}
	/* A stream call is not cut short: its answer carries released text. */
	if (sv->request_timeout > 0 && job->j.sc == NULL) {
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
	if (job_submit(&job->j, srv->workers) == -1) {
		job_free(job);
		pending_error(srv, p, "overloaded", "too many requests "
		    "waiting (server.queue_max)");
		return;
	}
	p->job = job;
}
