/*
 * http: the HTTP/1.1 front of modgated.  See include/http.h.
 *
 * Each connection's bytes go through a frame (http-frame.c) before evhttp
 * parses them: a body over the limit or bad framing arrives marked, and is
 * answered here in the endpoint's error shape.  A request is checked
 * (path, method, token, content type, body) on the event loop; its
 * moderation work becomes one worker job per text (an OpenAI request may
 * carry several), and the reply is sent when the last job comes back or
 * request_timeout fires first.  A job whose reply went
 * out already is detached (job->call = NULL) and frees itself.  evhttp
 * keeps a request whose client left until we reply, so a late reply is
 * harmless.
 *
 * Streams: /v1/stream runs open, every chunk and close as a chain of jobs,
 * one at a time, sending an SSE event as each comes back; its stream dies
 * with the request.  /v1/streams is one stream op per request, on a stream
 * owned by the token (or the uid) that an idle timer closes.
 *
 * Peers: on a Unix socket the peer is SO_PEERCRED of the connection (and
 * server.allowed_uids/gids apply); on TCP there is no such thing, so the
 * peer is pid 0, uid and gid -1, and the name of the bearer token (and
 * the client address) go into the audit record's meta as "http_peer".
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sodium.h>

#include "config.h"
#include "http.h"
#include "http-frame.h"
#include "http-internal.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "openai.h"
#include "peer.h"
#include "protocol.h"
#include "proxy.h"
#include "server.h"
#include "snapshot.h"
#include "stream.h"
#include "worker.h"

#define HTTP_MAX_HEADERS	(16 * 1024)
#define HTTP_MAX_INPUTS		256	/* texts in one /v1/moderations call */
#define HTTP_MAX_CHUNKS		65536	/* chunks in one /v1/stream call */
#define HTTP_OWNER_BASE		(UINT64_C(1) << 62) /* /v1/stream owners */
#define HTTP_SESSION_BIT	(UINT64_C(1) << 63) /* /v1/streams owners */
#define HTTP_EXPIRE_SECONDS	10	/* how often idle sessions are looked for */

enum endpoint { EP_MODERATE, EP_MODERATIONS, EP_STREAM, EP_SESSION,
    EP_CHAT };

struct call;

struct hjob {
	struct job		 j;		/* first: the job */
	struct call		*call;		/* NULL once nobody waits */
	struct request		 req;		/* points into root and meta */
	json_t			*root, *meta;	/* its own references */
	size_t			 index;		/* input number */
};

struct call {
	struct http		*h;
	struct evhttp_request	*req;
	enum endpoint		 ep;
	json_t			*root;		/* parsed body; owns texts */
	json_t			*id;		/* protocol v1 id */
	json_t			*meta;		/* with http_peer */
	const char		*policy;
	struct peer		 peer;
	struct snapshot		*snap;
	struct hjob		**jobs;
	size_t			 njobs, ndone;
	struct event		*timer;
	int			 replied;
	/* EP_STREAM */
	json_t			*chunks;
	size_t			 next_chunk;	/* next op: 0 open, 1.. append */
	char			 stream_id[64];
	uint64_t		 owner;		/* EP_STREAM: dropped with C */
	/* EP_SESSION: one stream op on a stream that outlives requests */
	enum stream_op		 sop;
	uint64_t		 session;	/* owner: the token or the uid */
};

static void	call_next_stream(struct call *);
static void	call_session_reply(struct call *);

/* Replies. */

static const char *
status_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	}
	return "Error";
}

static int
code_status(const char *code)
{
	if (strcmp(code, "bad_request") == 0 ||
	    strcmp(code, "unknown_policy") == 0)
		return 400;
	if (strcmp(code, "too_large") == 0)
		return 413;
	if (strcmp(code, "overloaded") == 0 || strcmp(code, "timeout") == 0)
		return 503;
	if (strcmp(code, "unauthorized") == 0)
		return 401;
	if (strcmp(code, "not_found") == 0)
		return 404;
	if (strcmp(code, "forbidden") == 0)
		return 403;
	if (strcmp(code, "method_not_allowed") == 0)
		return 405;
	if (strcmp(code, "unsupported_media_type") == 0)
		return 415;
	if (strcmp(code, "upstream_error") == 0)
		return 502;
	if (strcmp(code, "upstream_timeout") == 0)
		return 504;
	return 500;
}

static void
reply_body(struct evhttp_request *req, int status, const char *ctype,
    const char *body, size_t len)
{
	struct evbuffer		*b;
	struct evkeyvalq	*oh = evhttp_request_get_output_headers(req);

	evhttp_add_header(oh, "Content-Type", ctype);
	evhttp_add_header(oh, "Cache-Control", "no-store");
	if ((b = evbuffer_new()) == NULL ||
	    evbuffer_add(b, body, len) == -1) {
		if (b != NULL)
			evbuffer_free(b);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_send_reply(req, status, status_reason(status), b);
	evbuffer_free(b);
}

/* Send the JSON object O (stolen) with STATUS. */
static void
reply_json(struct evhttp_request *req, int status, json_t *o)
{
	char	*s;

	if (o == NULL ||
	    (s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6))) ==
	    NULL) {
		json_decref(o);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	json_decref(o);
	reply_body(req, status, "application/json", s, strlen(s));
	free(s);
}

/*
 * An error in the protocol's shape, {"id": ID, "error": {"code",
 * "message"}}; on the OpenAI API's paths in the API's.
 */
static void
reply_error(struct evhttp_request *req, json_t *id, const char *code,
    const char *msg)
{
	struct evkeyvalq	*oh = evhttp_request_get_output_headers(req);
	int			 status = code_status(code);

	metrics_error(code);
	if (status == 503)
		evhttp_add_header(oh, "Retry-After", "1");
	if (status == 401)
		evhttp_add_header(oh, "WWW-Authenticate",
		    "Bearer realm=\"modgate\"");
	if (openai_path(evhttp_request_get_uri(req)))
		reply_json(req, status, openai_error(status, code, msg));
	else
		reply_json(req, status, json_pack("{s:O?, s:{s:s, s:s, s:s}}",
		    "id", id, "error", "code", code, "message", msg, "type",
		    code));
}

/*
 * The listener of CFG, checked but not bound: tokens read, the address
 * valid, a TCP address only with tokens.  NULL after logging.
 */
static struct http *
http_prepare(struct server *srv, const struct config *cfg)
{
	const struct http_conf	*hc = &cfg->http;
	struct sockaddr_un	 sun;
	struct addrinfo		*res;
	struct http		*h;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		log_warn("http");
		return NULL;
	}
	h->fd = -1;
	if ((h->tokens = calloc(HTTP_MAX_TOKENS, sizeof(*h->tokens))) ==
	    NULL || (h->address = strdup(hc->listen)) == NULL) {
		log_warn("http");
		goto fail;
	}
	h->srv = srv;
	h->timeout = hc->timeout;
	h->max_body = hc->max_body_bytes;
	h->next_owner = HTTP_OWNER_BASE;
	if (hc->tokens_file != NULL && hc->tokens_file[0] != '\0' &&
	    http_tokens_load(h, hc->tokens_file) == -1)
		goto fail;
	if (cfg->proxy.enabled && (h->proxy = proxy_new(&cfg->proxy)) == NULL)
		goto fail;
	if (strncmp(hc->listen, "unix:", 5) == 0) {
		if (hc->listen[5] != '/' ||
		    strlen(hc->listen + 5) >= sizeof(sun.sun_path)) {
			log_warnx("http.listen %s: an absolute path of at most "
			    "%zu bytes is needed", hc->listen,
			    sizeof(sun.sun_path) - 1);
			goto fail;
		}
	} else {
		if (http_tcp_resolve(hc->listen, &res) == -1)
			goto fail;
		freeaddrinfo(res);
		/* No SO_PEERCRED on TCP: a token is the only identity. */
		if (h->ntokens == 0) {
			log_warnx("http.listen %s is a TCP address: it needs "
			    "bearer tokens in http.tokens_file (or listen on "
			    "\"unix:/path\")", hc->listen);
			goto fail;
		}
	}
	return h;
fail:
	http_free(h);
	return NULL;
}

int
http_check(const struct config *cfg)
{
	struct http	*h;

	if (!cfg->http.enabled)
		return 0;
	if ((h = http_prepare(NULL, cfg)) == NULL)
		return -1;
	http_free(h);
	return 0;
}

struct http *
http_listen(struct server *srv, const struct config *cfg)
{
	const struct http_conf	*hc = &cfg->http;
	struct http		*h;

	if ((h = http_prepare(srv, cfg)) == NULL)
		return NULL;
	if (strncmp(hc->listen, "unix:", 5) == 0) {
		if (http_listen_unix(h, hc->listen + 5, &cfg->server) == -1)
			goto fail;
	} else if (http_listen_tcp(h, hc->listen) == -1)
		goto fail;
	return h;
fail:
	http_free(h);
	return NULL;
}

/* Calls. */

static void
hjob_free(struct hjob *j)
{
	job_clear(&j->j);
	json_decref(j->root);
	json_decref(j->meta);
	free(j);
}

static void
call_free(struct call *c)
{
	size_t	 i;

	for (i = 0; i < c->njobs; i++) {
		if (c->jobs[i] == NULL)
			continue;
		if (c->jobs[i]->j.wj.run != NULL) {
			c->jobs[i]->call = NULL;	/* frees itself */
			job_cancel(&c->jobs[i]->j);
		} else
			hjob_free(c->jobs[i]);
	}
	if (c->owner != 0)
		stream_drop_owner(c->owner);
	free(c->jobs);
	if (c->timer != NULL)
		event_free(c->timer);
	json_decref(c->root);
	json_decref(c->meta);
	snapshot_unref(c->snap);
	if (--c->h->busy == 0 && c->h->stopped)
		server_front_idle(c->h->srv);
	free(c);
}

static void
call_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct call	*c = arg;

	if (!c->replied) {
		c->replied = 1;
		if (c->ep == EP_STREAM && c->next_chunk > 0) {
			/* The event stream has begun: end it with an error. */
			evhttp_send_reply_end(c->req);
		} else
			reply_error(c->req, c->id, "timeout", "no verdict "
			    "within server.request_timeout");
	}
	call_free(c);
}


static void
call_reply(struct call *c)
{
	struct hjob	*j;
	json_t		*a;
	size_t		 i;
	int		 scored = 0;

	c->replied = 1;
	/* The first error answers for the whole call. */
	for (i = 0; i < c->njobs; i++) {
		j = c->jobs[i];
		if (j->j.rv == -1) {
			reply_error(c->req, c->id, j->j.res.error_code != NULL ?
			    j->j.res.error_code : "internal", j->j.res.error_msg);
			return;
		}
	}
	for (i = 0; i < c->njobs; i++)
		metrics_request(&c->jobs[i]->j.res);
	if (c->ep == EP_MODERATE) {
		reply_json(c->req, 200, protocol_answer_json(&c->jobs[0]->req,
		    &c->jobs[0]->j.res, c->jobs[0]->j.snap->version));
		return;
	}
	if ((a = json_array()) == NULL) {
		reply_error(c->req, NULL, "internal", "out of memory");
		return;
	}
	for (i = 0; i < c->njobs; i++) {
		j = c->jobs[i];
		scored |= j->j.res.n_scores > 0;
		if (json_array_append_new(a, openai_result(&j->req, &j->j.res,
		    j->j.snap->version)) == -1) {
			json_decref(a);
			reply_error(c->req, NULL, "internal", "out of memory");
			return;
		}
	}
	reply_json(c->req, 200, openai_response(c->snap, scored, a));
}

/* Back on the event loop thread. */
static void
hjob_done(struct job *job)
{
	struct hjob	*j = (struct hjob *)job;
	struct call	*c = j->call;

	j->j.wj.run = NULL;
	if (c == NULL) {		/* timed out or stopped */
		hjob_free(j);
		return;
	}
	if (c->ep == EP_STREAM) {
		call_next_stream(c);
		return;
	}
	if (c->ep == EP_SESSION) {
		call_session_reply(c);
		return;
	}
	if (++c->ndone < c->njobs)
		return;
	if (!c->replied)
		call_reply(c);
	call_free(c);
}

static struct hjob *
hjob_new(struct call *c, size_t index)
{
	struct hjob	*j;
	const char	*rid = json_is_string(c->id) ?
			    json_string_value(c->id) : NULL;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	job_init(&j->j, c->snap, server_audit(c->h->srv), hjob_done);
	j->j.req = &j->req;
	j->call = c;
	j->index = index;
	/* The job may outlive C (a timeout): it keeps what it points into. */
	j->root = json_incref(c->root);
	j->meta = json_incref(c->meta);
	j->req.id = c->id;
	j->req.policy = c->policy;
	j->req.meta = c->meta;
	j->req.peer = c->peer;
	if (rid != NULL)
		snprintf(j->j.logid, sizeof(j->j.logid), "%.32s", rid);
	else
		snprintf(j->j.logid, sizeof(j->j.logid), "http.%zu", index);
	return j;
}

/* Queue every job of C; on failure answer and free C. */
static void
call_submit(struct call *c)
{
	struct worker_pool	*wp = server_workers(c->h->srv);
	size_t			 i;

	for (i = 0; i < c->njobs; i++) {
		if (job_submit(&c->jobs[i]->j, wp) == -1) {
			/* Jobs queued already detach in call_free. */
			for (; i < c->njobs; i++)
				c->jobs[i]->j.wj.run = NULL;
			c->replied = 1;
			reply_error(c->req, c->id, "overloaded", "too many "
			    "requests waiting (server.queue_max)");
			call_free(c);
			return;
		}
	}
}

/* Streams over HTTP: open, every chunk, close, one job at a time. */

static void
sse_event(struct call *c, const char *event, json_t *o)
{
	struct evbuffer	*b;
	char		*s;

	if (o == NULL)
		return;
	json_object_set(o, "id", c->id != NULL ? c->id : json_null());
	s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (s == NULL || (b = evbuffer_new()) == NULL) {
		free(s);
		return;
	}
	evbuffer_add_printf(b, "event: %s\ndata: %s\n\n", event, s);
	free(s);
	evhttp_send_reply_chunk(c->req, b);
	evbuffer_free(b);
}

static void
call_next_stream(struct call *c)
{
	struct stream_args	 a;
	struct hjob		*j = c->njobs > 0 ? c->jobs[0] : NULL;
	const char		*code = NULL;
	char			 msg[256];
	json_t			*o, *v;
	size_t			 nchunks = json_array_size(c->chunks);

	/* The answer of the job just done. */
	if (j != NULL) {
		o = stream_call_result(j->j.sc, &code, msg, sizeof(msg));
		hjob_free(j);
		c->jobs[0] = NULL;
		c->njobs = 0;
		if (o == NULL) {
			if (c->next_chunk == 1) {	/* the open failed */
				c->replied = 1;
				reply_error(c->req, c->id, code, msg);
				call_free(c);
				return;
			}
			sse_event(c, "error", json_pack("{s:s, s:s}", "code",
			    code, "message", msg));
			evhttp_send_reply_end(c->req);
			c->replied = 1;
			call_free(c);
			return;
		}
		if (c->next_chunk == 1) {
			snprintf(c->stream_id, sizeof(c->stream_id), "%s",
			    json_string_value(json_object_get(o, "stream")));
			evhttp_add_header(evhttp_request_get_output_headers(
			    c->req), "Content-Type", "text/event-stream");
			evhttp_add_header(evhttp_request_get_output_headers(
			    c->req), "Cache-Control", "no-store");
			evhttp_send_reply_start(c->req, 200, "OK");
			sse_event(c, "open", o);
		} else if (c->next_chunk > nchunks + 1) {
			sse_event(c, "final", o);
			evhttp_send_reply_end(c->req);
			c->replied = 1;
			call_free(c);
			return;
		} else
			sse_event(c, "verdict", o);
	}

	memset(&a, 0, sizeof(a));
	a.peer = c->peer;
	a.owner = c->owner;
	if (c->next_chunk == 0) {
		a.op = STREAM_OPEN;
		a.policy = c->policy;
		a.meta = c->meta;
	} else {
		a.stream = c->stream_id;
		if (c->next_chunk <= nchunks) {
			a.op = STREAM_APPEND;
			v = json_array_get(c->chunks, c->next_chunk - 1);
			a.text = json_string_value(v);
			a.len = json_string_length(v);
		} else {
			a.op = STREAM_CLOSE;
			a.id = c->id;
		}
	}
	c->next_chunk++;
	if ((j = hjob_new(c, c->next_chunk)) == NULL ||
	    (j->j.sc = stream_call_new(c->snap, &a, &code, msg,
	    sizeof(msg))) == NULL) {
		if (j == NULL) {
			code = "internal";
			snprintf(msg, sizeof(msg), "out of memory");
		} else
			hjob_free(j);
		if (c->next_chunk == 1) {
			c->replied = 1;
			reply_error(c->req, c->id, code, msg);
		} else {
			sse_event(c, "error", json_pack("{s:s, s:s}", "code",
			    code, "message", msg));
			evhttp_send_reply_end(c->req);
			c->replied = 1;
		}
		call_free(c);
		return;
	}
	c->jobs[0] = j;
	c->njobs = 1;
	if (job_submit(&j->j, server_workers(c->h->srv)) == -1) {
		j->j.wj.run = NULL;
		if (c->next_chunk == 1) {
			c->replied = 1;
			reply_error(c->req, c->id, "overloaded", "too many "
			    "requests waiting (server.queue_max)");
		} else {
			sse_event(c, "error", json_pack("{s:s, s:s}", "code",
			    "overloaded", "message", "too many requests "
			    "waiting (server.queue_max)"));
			evhttp_send_reply_end(c->req);
			c->replied = 1;
		}
		call_free(c);
	}
}

/*
 * Sessions (/v1/streams): one stream op per request, on a stream owned by
 * the bearer token (TCP) or the uid (Unix socket), closed without a
 * verdict after server.idle_timeout seconds without a call.
 */
static uint64_t
session_owner(const struct call *c, const char *token)
{
	uint64_t	 x = UINT64_C(14695981039346656037);	/* FNV-1a */
	const char	*p;

	if (token != NULL && token[0] != '\0') {
		for (p = token; *p != '\0'; p++)
			x = (x ^ (unsigned char)*p) * UINT64_C(1099511628211);
		x |= UINT64_C(1) << 32;		/* never a bare uid */
	} else
		x = (uint64_t)c->peer.uid;
	return HTTP_SESSION_BIT | (x & (HTTP_OWNER_BASE - 1));
}

static void
call_session_submit(struct call *c, json_t *text)
{
	struct stream_args	 a;
	struct hjob		*j;
	const char		*code = "internal";
	char			 msg[256];

	memset(&a, 0, sizeof(a));
	a.op = c->sop;
	a.stream = c->sop == STREAM_OPEN ? NULL : c->stream_id;
	a.text = text != NULL ? json_string_value(text) : NULL;
	a.len = text != NULL ? json_string_length(text) : 0;
	a.policy = c->policy;
	a.meta = c->meta;
	a.id = c->id;
	a.peer = c->peer;
	a.owner = c->session;
	snprintf(msg, sizeof(msg), "out of memory");
	if ((j = hjob_new(c, 0)) == NULL ||
	    (j->j.sc = stream_call_new(c->snap, &a, &code, msg,
	    sizeof(msg))) == NULL) {
		if (j != NULL)
			hjob_free(j);
		c->replied = 1;
		reply_error(c->req, c->id, code, msg);
		call_free(c);
		return;
	}
	c->jobs[0] = j;
	c->njobs = 1;
	if (job_submit(&j->j, server_workers(c->h->srv)) == -1) {
		j->j.wj.run = NULL;
		c->replied = 1;
		reply_error(c->req, c->id, "overloaded", "too many requests "
		    "waiting (server.queue_max)");
		call_free(c);
	}
}

static void
call_session_reply(struct call *c)
{
	const char	*code = "internal";
	char		 msg[256];
	json_t		*o;

	c->replied = 1;
	if ((o = stream_call_result(c->jobs[0]->j.sc, &code, msg,
	    sizeof(msg))) == NULL)
		reply_error(c->req, c->id, code, msg);
	else {
		json_object_set(o, "id", c->id != NULL ? c->id : json_null());
		reply_json(c->req, 200, o);
	}
	call_free(c);
}

static void
expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http	*h = arg;
	int		 idle;

	idle = server_snapshot(h->srv)->cfg->server.idle_timeout;
	if (idle > 0)
		stream_expire(HTTP_SESSION_BIT, idle);
}

/* Requests. */

static int
content_is_json(struct evhttp_request *req)
{
	const char	*t;
	size_t		 n;

	t = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	if (t == NULL)
		return 0;
	n = strcspn(t, "; \t");
	return n == 16 && strncasecmp(t, "application/json", 16) == 0;
}

/* The body of REQ as a JSON object, or NULL after replying. */
static json_t *
body_json(struct http *h, struct evhttp_request *req)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	size_t		 len = evbuffer_get_length(in);
	struct proto_error err;
	const char	*p;
	json_t		*root;

	if (!content_is_json(req)) {
		reply_error(req, NULL, "unsupported_media_type",
		    "the body must be application/json");
		return NULL;
	}
	if (len > (size_t)h->max_body) {
		reply_error(req, NULL, "too_large", "body larger than "
		    "http.max_body_bytes");
		return NULL;
	}
	p = (const char *)evbuffer_pullup(in, -1);
	if (p == NULL && len > 0) {
		reply_error(req, NULL, "internal", "out of memory");
		return NULL;
	}
	/* The socket protocol's reading (UTF-8, nesting, JSON object). */
	if ((root = protocol_load(p != NULL ? p : "", len, &err)) == NULL) {
		reply_error(req, NULL, err.code, err.message);
		return NULL;
	}
	return root;
}

/* A proxied chat completion ends (proxy.h). */
static void
chat_done(void *arg, int status, json_t *answer, const char *code,
    const char *msg)
{
	struct call	*c = arg;

	c->replied = 1;
	if (code != NULL)
		reply_error(c->req, NULL, code, msg);
	else
		reply_json(c->req, status, answer);
	call_free(c);
}

/* Fill C's peer and meta: SO_PEERCRED on Unix, the token name on TCP. */
static int
call_peer(struct call *c, const char *token, json_t *meta, int *fdp)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(
	    c->req);
	struct bufferevent	*bev;
	struct ucred		 cred;
	socklen_t		 clen = sizeof(cred);
	json_t			*hp;
	char			*addr = NULL;
	ev_uint16_t		 port = 0;
	int			 fd = -1;

	c->meta = meta != NULL ? json_deep_copy(meta) : json_object();
	if (c->meta == NULL || (hp = json_object()) == NULL)
		return -1;
	c->peer.pid = 0;
	c->peer.uid = (uid_t)-1;
	c->peer.gid = (gid_t)-1;
	if (evcon != NULL &&
	    (bev = evhttp_connection_get_bufferevent(evcon)) != NULL)
		fd = bufferevent_getfd(bev);
	*fdp = fd;
	if (c->h->unix_path != NULL) {
		if (fd == -1 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
		    &clen) == -1) {
			json_decref(hp);
			return -1;
		}
		c->peer.pid = cred.pid;
		c->peer.uid = cred.uid;
		c->peer.gid = cred.gid;
		json_object_set_new(hp, "transport", json_string("unix"));
	} else {
		json_object_set_new(hp, "transport", json_string("tcp"));
		if (evcon != NULL) {
			evhttp_connection_get_peer(evcon, &addr, &port);
			if (addr != NULL)
				json_object_set_new(hp, "addr",
				    json_sprintf("%s:%u", addr,
				    (unsigned int)port));
		}
	}
	if (token != NULL && token[0] != '\0')
		json_object_set_new(hp, "token", json_string(token));
	json_object_set_new(c->meta, "http_peer", hp);
	return 0;
}

/* A string field KEY of O, or NULL; 0 when absent or a string. */
static int
opt_string(json_t *o, const char *key, const char **out, size_t max)
{
	json_t	*v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > max)
		return -1;
	*out = json_string_value(v);
	return 0;
}

static int
valid_text(json_t *v)
{
	return json_is_string(v) && memchr(json_string_value(v), '\0',
	    json_string_length(v)) == NULL;
}

static void
handle_moderate(struct http *h, struct evhttp_request *req, enum endpoint ep,
    const char *token, enum stream_op sop, const char *sid)
{
	struct call	*c = NULL;
	json_t		*root, *texts = NULL, *v, *meta;
	const char	*key;
	char		 msg[256];
	size_t		 i, n;
	struct timeval	 tv;
	struct snapshot	*snap = server_snapshot(h->srv);
	int		 ms = snap->cfg->server.request_timeout;
	int		 fd = -1;	/* the client's socket, for its groups */

	metrics_received();
	if ((root = body_json(h, req)) == NULL)
		return;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		json_decref(root);
		reply_error(req, NULL, "internal", "out of memory");
		return;
	}
	h->busy++;
	c->h = h;
	c->req = req;
	c->ep = ep;
	c->root = root;
	c->snap = snapshot_ref(snap);
	if ((v = json_object_get(root, "id")) != NULL) {
		if (json_is_object(v) || json_is_array(v)) {
			snprintf(msg, sizeof(msg), "id must be a string, "
			    "number, boolean or null");
			goto bad;
		}
		c->id = v;
	}
	if (opt_string(root, "policy", &c->policy, PROTOCOL_MAX_POLICY) ==
	    -1) {
		snprintf(msg, sizeof(msg), "policy must be a non-empty string "
		    "of at most %d bytes", PROTOCOL_MAX_POLICY);
		goto bad;
	}
	meta = json_object_get(root, "meta");
	if (meta != NULL && !json_is_object(meta)) {
		snprintf(msg, sizeof(msg), "meta must be an object");
		goto bad;
	}
	if ((texts = json_array()) == NULL)
		goto oom;
	switch (ep) {
	case EP_MODERATE:
		json_object_foreach(root, key, v)
			if (strcmp(key, "id") != 0 && strcmp(key, "text") !=
			    0 && strcmp(key, "policy") != 0 &&
			    strcmp(key, "meta") != 0) {
				snprintf(msg, sizeof(msg), "unknown field "
				    "\"%.64s\"", key);
				goto bad;
			}
		v = json_object_get(root, "text");
		if (v == NULL || !valid_text(v)) {
			snprintf(msg, sizeof(msg), "text must be a string "
			    "without NUL");
			goto bad;
		}
		json_array_append(texts, v);
		break;
	case EP_MODERATIONS:
		/* Other OpenAI fields are ignored. */
		if (openai_inputs(root, texts, HTTP_MAX_INPUTS, msg,
		    sizeof(msg)) == -1)
			goto bad;
		break;
	case EP_SESSION:
		c->sop = sop;
		snprintf(c->stream_id, sizeof(c->stream_id), "%s", sid);
		json_object_foreach(root, key, v)
			if (strcmp(key, "id") != 0 && (sop != STREAM_OPEN ||
			    (strcmp(key, "policy") != 0 &&
			    strcmp(key, "meta") != 0)) && (sop == STREAM_OPEN ||
			    strcmp(key, "text") != 0)) {
				snprintf(msg, sizeof(msg), "unknown field "
				    "\"%.64s\"", key);
				goto bad;
			}
		v = json_object_get(root, "text");
		if ((v != NULL || sop == STREAM_APPEND) && !valid_text(v)) {
			snprintf(msg, sizeof(msg), "text must be a string "
			    "without NUL");
			goto bad;
		}
		if (v != NULL)
			json_array_append(texts, v);
		break;
	case EP_CHAT:
		/* The proxy reads the rest of the body. */
		break;
	case EP_STREAM:
		json_object_foreach(root, key, v)
			if (strcmp(key, "id") != 0 && strcmp(key, "chunks") !=
			    0 && strcmp(key, "policy") != 0 &&
			    strcmp(key, "meta") != 0) {
				snprintf(msg, sizeof(msg), "unknown field "
				    "\"%.64s\"", key);
				goto bad;
			}
		v = json_object_get(root, "chunks");
		if (!json_is_array(v) || json_array_size(v) >
		    HTTP_MAX_CHUNKS) {
			snprintf(msg, sizeof(msg), "chunks must be an array "
			    "of at most %d strings", HTTP_MAX_CHUNKS);
			goto bad;
		}
		for (i = 0; i < json_array_size(v); i++)
			if (!valid_text(json_array_get(v, i))) {
				snprintf(msg, sizeof(msg), "chunks[%zu] must "
				    "be a string without NUL", i);
				goto bad;
			}
		c->chunks = v;
		break;
	}
	if (call_peer(c, token, meta, &fd) == -1) {
		c->replied = 1;
		reply_error(req, c->id, "internal", "cannot read the peer");
		call_free(c);
		return;
	}
	if (h->unix_path != NULL && !peer_allowed(&snap->cfg->server,
	    &c->peer, fd)) {
		c->replied = 1;
		reply_error(req, c->id, "forbidden", "peer not in "
		    "server.allowed_uids or allowed_gids");
		call_free(c);
		return;
	}
	if (ep == EP_CHAT) {
		json_decref(texts);
		proxy_chat(h->proxy, &(struct proxy_call){ .srv = h->srv,
		    .body = c->root, .meta = c->meta, .policy = c->policy,
		    .peer = c->peer, .done = chat_done, .arg = c });
		return;
	}
	n = ep == EP_STREAM || ep == EP_SESSION ? 1 : json_array_size(texts);
	if ((c->jobs = calloc(n, sizeof(*c->jobs))) == NULL)
		goto oom;
	if (ms > 0) {
		if ((c->timer = evtimer_new(h->base, call_timeout_cb, c)) ==
		    NULL)
			goto oom;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		/* A stream may take longer; a stream op is never cut. */
		if (ep != EP_STREAM && ep != EP_SESSION)
			evtimer_add(c->timer, &tv);
	}
	if (ep == EP_STREAM) {
		c->owner = ++h->next_owner;
		json_decref(texts);
		call_next_stream(c);
		return;
	}
	if (ep == EP_SESSION) {
		c->session = session_owner(c, token);
		/* TEXTS holds a reference into ROOT, which C keeps. */
		v = json_array_get(texts, 0);
		json_decref(texts);
		call_session_submit(c, v);
		return;
	}
	for (i = 0; i < n; i++) {
		if ((c->jobs[i] = hjob_new(c, i)) == NULL)
			goto oom;
		c->njobs++;
		v = json_array_get(texts, i);
		/* TEXTS holds references into ROOT: valid while C lives. */
		c->jobs[i]->req.text = json_string_value(v);
		c->jobs[i]->req.len = json_string_length(v);
	}
	json_decref(texts);
	call_submit(c);
	return;
oom:
	snprintf(msg, sizeof(msg), "out of memory");
	c->replied = 1;
	reply_error(req, c->id, "internal", msg);
	for (i = 0; i < c->njobs; i++)
		c->jobs[i]->j.wj.run = NULL;
	json_decref(texts);
	call_free(c);
	return;
bad:
	c->replied = 1;
	reply_error(req, c->id, "bad_request", msg);
	json_decref(texts);
	call_free(c);
}

static void
handle_metrics(struct http *h, struct evhttp_request *req)
{
	char	*text;
	size_t	 len;

	if ((text = server_metrics(h->srv, &len)) == NULL) {
		reply_error(req, NULL, "internal", "out of memory");
		return;
	}
	reply_body(req, 200, "text/plain; version=0.0.4; charset=utf-8", text,
	    len);
	free(text);
}

static void
handle_ready(struct http *h, struct evhttp_request *req)
{
	struct snapshot		*snap = server_snapshot(h->srv);
	struct worker_pool	*wp = server_workers(h->srv);
	int			 ready;

	ready = snap != NULL && wp != NULL && worker_threads(wp) > 0 &&
	    !h->stopped;
	reply_json(req, ready ? 200 : 503, json_pack("{s:b, s:s?, s:I,"
	    " s:i}", "ready", ready, "policy_version", snap != NULL ?
	    snap->version : NULL, "generation", snap != NULL ?
	    (json_int_t)snap->generation : 0, "workers", wp != NULL ?
	    worker_threads(wp) : 0));
}

/*
 * The frame's mark on REQ (http-frame.h), or NULL.  A connection the
 * frame drops, or whose client may still send the body it waited 100
 * Continue for, is closed after the answer.
 */
static const char *
frame_mark(struct evhttp_request *req)
{
	struct evkeyvalq	*ih = evhttp_request_get_input_headers(req);
	const char		*mark = evhttp_find_header(ih, FRAME_HEADER);

	if (mark != NULL && (strcmp(mark, "too_large") != 0 ||
	    evhttp_find_header(ih, "Expect") != NULL))
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
	return mark;
}

static void
http_request_cb(struct evhttp_request *req, void *arg)
{
	struct http		*h = arg;
	const char		*uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	const char		*token, *allow = "POST";
	char			 path[96], sid[40];
	size_t			 n;
	int			 post = 0, get = 0, k;
	enum stream_op		 sop = STREAM_OPEN;
	const char		*mark = frame_mark(req);

	n = strcspn(uri, "?#");
	if (n >= sizeof(path)) {
		reply_error(req, NULL, "not_found", "no such endpoint");
		return;
	}
	memcpy(path, uri, n);
	path[n] = '\0';
	sid[0] = '\0';
	if (strcmp(path, "/v1/moderate") == 0 ||
	    strcmp(path, "/v1/moderations") == 0 ||
	    (h->proxy != NULL && strcmp(path, "/v1/chat/completions") == 0) ||
	    strcmp(path, "/v1/stream") == 0 ||
	    strcmp(path, "/v1/streams") == 0)
		post = 1;
	else if (sscanf(path, "/v1/streams/%32[a-z0-9]%n", sid, &k) == 1 &&
	    (path[k] == '\0' || strcmp(path + k, "/close") == 0)) {
		post = 1;
		sop = path[k] == '\0' ? STREAM_APPEND : STREAM_CLOSE;
	}
	else if (strcmp(path, "/metrics") == 0 ||
	    strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0)
		get = 1;
	else {
		reply_error(req, NULL, "not_found", "no such endpoint (POST "
		    "/v1/moderate, /v1/moderations, /v1/stream, /v1/streams, "
		    "/v1/streams/ID, /v1/streams/ID/close; GET /metrics, "
		    "/healthz, /readyz)");
		return;
	}
	if ((post && cmd != EVHTTP_REQ_POST) ||
	    (get && cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)) {
		if (get)
			allow = "GET, HEAD";
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", allow);
		reply_error(req, NULL, "method_not_allowed", get ?
		    "use GET" : "use POST");
		return;
	}
	/* A request the frame refused: a body over the limit, bad framing. */
	if (mark != NULL) {
		if (strcmp(mark, "too_large") == 0)
			reply_error(req, NULL, "too_large", "body larger than "
			    "http.max_body_bytes");
		else
			reply_error(req, NULL, "bad_request", "malformed "
			    "request headers or chunked body");
		return;
	}
	/* Probes answer without a token; everything else needs one. */
	if (strcmp(path, "/healthz") == 0) {
		reply_json(req, 200, json_pack("{s:b}", "ok", 1));
		return;
	}
	if (strcmp(path, "/readyz") == 0) {
		handle_ready(h, req);
		return;
	}
	if ((token = http_token_check(h, req)) == NULL) {
		reply_error(req, NULL, "unauthorized", "a valid bearer token "
		    "is required (Authorization: Bearer TOKEN)");
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		handle_metrics(h, req);
		return;
	}
	if (h->stopped) {
		reply_error(req, NULL, "overloaded", "the daemon is stopping");
		return;
	}
	/* Idle connections end after http.timeout; busy ones are capped. */
	if (h->busy >= server_snapshot(h->srv)->cfg->server.max_connections) {
		reply_error(req, NULL, "overloaded", "too many requests in "
		    "progress (server.max_connections)");
		return;
	}
	if (strcmp(path, "/v1/moderate") == 0)
		handle_moderate(h, req, EP_MODERATE, token, sop, sid);
	else if (strcmp(path, "/v1/moderations") == 0)
		handle_moderate(h, req, EP_MODERATIONS, token, sop, sid);
	else if (strcmp(path, "/v1/stream") == 0)
		handle_moderate(h, req, EP_STREAM, token, sop, sid);
	else if (strcmp(path, "/v1/chat/completions") == 0)
		handle_moderate(h, req, EP_CHAT, token, sop, sid);
	else
		handle_moderate(h, req, EP_SESSION, token, sop, sid);
}

int
http_start(struct http *h, struct event_base *base)
{
	int	 idle;

	h->base = base;
	if ((h->evh = evhttp_new(base)) == NULL) {
		log_warnx("evhttp_new failed");
		return -1;
	}
	if ((h->frames = frames_new(h->max_body, HTTP_MAX_HEADERS)) == NULL) {
		log_warnx("http: out of memory");
		return -1;
	}
	evhttp_set_bevcb(h->evh, frames_bev, h->frames);
	evhttp_set_gencb(h->evh, http_request_cb, h);
	if (h->proxy != NULL)
		proxy_start(h->proxy, base);
	evhttp_set_timeout(h->evh, h->timeout);
	evhttp_set_max_body_size(h->evh, h->max_body);
	evhttp_set_max_headers_size(h->evh, HTTP_MAX_HEADERS);
	evhttp_set_allowed_methods(h->evh, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	if ((h->bound = evhttp_accept_socket_with_handle(h->evh, h->fd)) ==
	    NULL) {
		log_warnx("http: cannot accept on %s", h->address);
		return -1;
	}
	h->fd = -1;		/* evhttp owns it now */
	if (http_accept_start(h) == -1)
		return -1;
	idle = server_snapshot(h->srv)->cfg->server.idle_timeout;
	if (idle <= 0 || idle > HTTP_EXPIRE_SECONDS)
		idle = HTTP_EXPIRE_SECONDS;
	if ((h->ev_expire = event_new(base, -1, EV_PERSIST, expire_cb, h)) ==
	    NULL || event_add(h->ev_expire, &(struct timeval){ idle, 0 }) ==
	    -1) {
		log_warnx("http: cannot arm the session timer");
		return -1;
	}
	log_info("http: listening on %s%s", h->address, h->ntokens > 0 ?
	    " (bearer tokens required)" : "");
	return 0;
}

void
http_stop(struct http *h)
{
	if (h == NULL || h->stopped)
		return;
	h->stopped = 1;
	http_accept_stop(h);
	if (h->bound != NULL) {
		evhttp_del_accept_socket(h->evh, h->bound);
		h->bound = NULL;
	}
	if (h->unix_path != NULL)
		unlink(h->unix_path);
}

int
http_busy(const struct http *h)
{
	return h != NULL ? h->busy : 0;
}

static int
front_start(void *arg, struct event_base *base)
{
	return http_start(arg, base);
}

static void
front_stop(void *arg)
{
	http_stop(arg);
}

static int
front_busy(const void *arg)
{
	return http_busy(arg);
}

static void
front_free(void *arg)
{
	http_free(arg);
}

const struct front_ops http_front = {
	.start = front_start,
	.stop = front_stop,
	.busy = front_busy,
	.free = front_free,
};

const char *
http_address(const struct http *h)
{
	return h->address;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	http_stop(h);
	if (h->ev_expire != NULL)
		event_free(h->ev_expire);
	if (h->evh != NULL)
		evhttp_free(h->evh);
	frames_free(h->frames);
	proxy_free(h->proxy);
	if (h->fd != -1)
		close(h->fd);
	if (h->tokens != NULL)
		sodium_memzero(h->tokens, HTTP_MAX_TOKENS * sizeof(*h->tokens));
	free(h->tokens);
	free(h->unix_path);
	free(h->address);
	free(h);
}
