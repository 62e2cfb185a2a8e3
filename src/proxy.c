/*
 * proxy: the chat completions proxy.  See include/proxy.h.
 *
 * One call: [the input job] → the upstream request → one job per choice
 * with text → the answer.  The upstream request is one evhttp connection
 * of its own ("Connection: close"), to the address resolved at start;
 * evhttp's callbacks only note what came back and wake the call's next
 * event, which frees the connection outside libevent's code and goes on.
 * Two timers bound the upstream: connect_timeout (checked by asking the
 * socket for its peer) and timeout (the whole answer); either frees the
 * connection, which drops the request without a callback.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <sodium.h>

#include "config.h"
#include "file.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "protocol.h"
#include "proxy.h"
#include "server.h"
#include "snapshot.h"
#include "worker.h"

#define PROXY_KEY_MAX		4096		/* bytes of the key file */
#define PROXY_ANSWER_MAX	(16 * 1024 * 1024) /* upstream body */
#define PROXY_MODEL_MAX		128		/* bytes of a model name kept */

struct proxy {
	struct event_base	*base;
	char			*host_header;	/* "HOST[:PORT]" as configured */
	char			 addr[NI_MAXHOST];	/* numeric */
	unsigned short		 port;
	char			*path;		/* ".../chat/completions" */
	char			*key;		/* NULL: none */
	int			 connect_ms, timeout_ms;
	int			 moderate_input;
	int			 max_concurrent;
	int			 active;	/* upstream requests */
};

enum pstate { PS_INPUT, PS_UPSTREAM, PS_OUTPUT };

struct pcall;

struct pjob {
	struct job		 j;		/* first: the job */
	struct pcall		*pc;
	struct request		 req;
	json_t			*meta;		/* own reference */
	json_t			*text;		/* own reference: req.text */
	json_t			*choice;	/* output: the choice object */
	json_t			*message;	/* its message (or the user's) */
};

struct pcall {
	struct proxy		*p;
	struct proxy_call	 call;		/* body and meta referenced */
	struct snapshot		*snap;
	enum pstate		 state;
	json_t			*fwd;		/* the body sent upstream */
	json_t			*answer;	/* the upstream's */
	char			 model[PROXY_MODEL_MAX];
	struct pjob		**jobs;
	size_t			 njobs, ndone;
	/* PS_UPSTREAM */
	struct evhttp_connection *evcon;
	struct event		*ev_next;	/* after evhttp's callback */
	struct event		*ev_connect, *ev_timeout;
	int			 counted;	/* in p->active */
	int			 overloaded;	/* a job could not be queued */
	int			 up_status;	/* 0: failed */
	int			 up_error;	/* EVREQ_HTTP_* of a failure, or -1 */
	struct evbuffer		*up_body;
};

static void	pcall_upstream(struct pcall *);
static void	pcall_fail(struct pcall *c, const char *code, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

/* Setup. */

/* Split URL into P's address, host header and path.  0, or -1 logged. */
static int
proxy_parse_url(struct proxy *p, const char *url)
{
	struct evhttp_uri	*u;
	struct addrinfo		 hints, *res = NULL;
	const char		*host, *path;
	char			 port[8];
	int			 e, n, rv = -1;

	if ((u = evhttp_uri_parse(url)) == NULL ||
	    evhttp_uri_get_scheme(u) == NULL ||
	    strcmp(evhttp_uri_get_scheme(u), "http") != 0 ||
	    (host = evhttp_uri_get_host(u)) == NULL || host[0] == '\0' ||
	    evhttp_uri_get_query(u) != NULL ||
	    evhttp_uri_get_userinfo(u) != NULL) {
		log_warnx("proxy.upstream \"%s\": expected "
		    "\"http://HOST[:PORT][/PATH]\" (https is not supported)",
		    url);
		goto done;
	}
	n = evhttp_uri_get_port(u);
	p->port = n > 0 ? (unsigned short)n : 80;
	snprintf(port, sizeof(port), "%u", (unsigned int)p->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_warnx("proxy.upstream %s: %s", host, gai_strerror(e));
		goto done;
	}
	if ((e = getnameinfo(res->ai_addr, res->ai_addrlen, p->addr,
	    sizeof(p->addr), NULL, 0, NI_NUMERICHOST)) != 0) {
		log_warnx("proxy.upstream %s: %s", host, gai_strerror(e));
		goto done;
	}
	path = evhttp_uri_get_path(u);
	if (path == NULL)
		path = "";
	n = (int)strlen(path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	if (asprintf(&p->path, "%.*s/chat/completions", n, path) == -1) {
		p->path = NULL;
		log_warn("proxy");
		goto done;
	}
	n = evhttp_uri_get_port(u);
	if (asprintf(&p->host_header, n <= 0 ? "%s%s" : strchr(host, ':') !=
	    NULL ? "[%s]:%s" : "%s:%s", host, n <= 0 ? "" : port) == -1) {
		p->host_header = NULL;
		log_warn("proxy");
		goto done;
	}
	rv = 0;
done:
	if (res != NULL)
		freeaddrinfo(res);
	if (u != NULL)
		evhttp_uri_free(u);
	return rv;
}

/* The first line of the key file, without blanks around it. */
static int
proxy_read_key(struct proxy *p, const char *path)
{
	char	 err[256], *buf, *s, *e;
	size_t	 len;

	if (file_read(path, PROXY_KEY_MAX, &buf, &len, err, sizeof(err)) ==
	    -1) {
		log_warnx("proxy.key_file %s: %s", path, err);
		return -1;
	}
	for (s = buf; *s == ' ' || *s == '\t'; s++)
		;
	e = s + strcspn(s, "\r\n");
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e == s) {
		log_warnx("proxy.key_file %s: no key on its first line", path);
		sodium_memzero(buf, len);
		free(buf);
		return -1;
	}
	p->key = strndup(s, (size_t)(e - s));
	sodium_memzero(buf, len);
	free(buf);
	if (p->key == NULL) {
		log_warn("proxy");
		return -1;
	}
	return 0;
}

struct proxy *
proxy_new(const struct proxy_conf *pc)
{
	struct proxy	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("proxy");
		return NULL;
	}
	p->connect_ms = pc->connect_timeout;
	p->timeout_ms = pc->timeout;
	p->moderate_input = pc->moderate_input;
	p->max_concurrent = pc->max_concurrent;
	if (proxy_parse_url(p, pc->upstream) == -1 ||
	    (pc->key_file[0] != '\0' && proxy_read_key(p, pc->key_file) ==
	    -1)) {
		proxy_free(p);
		return NULL;
	}
	return p;
}

void
proxy_start(struct proxy *p, struct event_base *base)
{
	p->base = base;
}

void
proxy_free(struct proxy *p)
{
	if (p == NULL)
		return;
	if (p->key != NULL)
		sodium_memzero(p->key, strlen(p->key));
	free(p->key);
	free(p->path);
	free(p->host_header);
	free(p);
}

/* Calls. */

static void
pjob_free(struct pjob *j)
{
	job_clear(&j->j);
	json_decref(j->meta);
	json_decref(j->text);
	free(j);
}

static void
pcall_jobs_free(struct pcall *c)
{
	size_t	 i;

	for (i = 0; i < c->njobs; i++)
		pjob_free(c->jobs[i]);
	free(c->jobs);
	c->jobs = NULL;
	c->njobs = c->ndone = 0;
}

static void
pcall_free(struct pcall *c)
{
	pcall_jobs_free(c);
	if (c->evcon != NULL)
		evhttp_connection_free(c->evcon);
	if (c->counted)
		c->p->active--;
	if (c->ev_next != NULL)
		event_free(c->ev_next);
	if (c->ev_connect != NULL)
		event_free(c->ev_connect);
	if (c->ev_timeout != NULL)
		event_free(c->ev_timeout);
	if (c->up_body != NULL)
		evbuffer_free(c->up_body);
	json_decref(c->fwd);
	json_decref(c->answer);
	json_decref(c->call.body);
	json_decref(c->call.meta);
	snapshot_unref(c->snap);
	free(c);
}

/* End C with ANSWER (stolen) and STATUS. */
static void
pcall_answer(struct pcall *c, int status, json_t *answer)
{
	if (answer == NULL) {
		pcall_fail(c, "internal", "out of memory");
		return;
	}
	c->call.done(c->call.arg, status, answer, NULL, NULL);
	pcall_free(c);
}

/* End C with the error CODE and a message. */
static void
pcall_fail(struct pcall *c, const char *code, const char *fmt, ...)
{
	char	 msg[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strncmp(code, "upstream_", 9) == 0)
		log_warnx("proxy: %s", msg);
	c->call.done(c->call.arg, 0, NULL, code, msg);
	pcall_free(c);
}

/*
 * The text of MESSAGE's "content" into *TEXT (a new reference): a string,
 * or the text parts of an array of parts joined by "\n"; NULL when there
 * is no text (no content, null, parts without text).  0, or -1 when the
 * content is something else or out of memory.
 */
static int
message_text(json_t *message, json_t **text)
{
	json_t	*content = json_object_get(message, "content"), *v, *t;
	char	*buf, *q;
	size_t	 i, len = 0, n = 0;

	*text = NULL;
	if (content == NULL || json_is_null(content))
		return 0;
	if (json_is_string(content)) {
		*text = json_incref(content);
		return 0;
	}
	if (!json_is_array(content))
		return -1;
	json_array_foreach(content, i, v) {
		t = json_object_get(v, "text");
		if (json_is_string(t)) {
			len += json_string_length(t) + (n > 0);
			n++;
		}
	}
	if (n == 0)
		return 0;
	if ((q = buf = malloc(len + 1)) == NULL)
		return -1;
	json_array_foreach(content, i, v) {
		t = json_object_get(v, "text");
		if (!json_is_string(t))
			continue;
		if (q != buf)
			*q++ = '\n';
		memcpy(q, json_string_value(t), json_string_length(t));
		q += json_string_length(t);
	}
	*text = json_stringn(buf, len);
	free(buf);
	return *text != NULL ? 0 : -1;
}

static void	pjob_done(struct job *);

/*
 * A job checking the text of MESSAGE (of CHOICE, NULL for the input) with
 * the meta's "proxy" entry saying which part it is, into *JP; NULL when
 * MESSAGE has no text.  0, or -1 when its content is not text (or holds
 * NUL, which the pipeline refuses) or out of memory.
 */
static int
pjob_new(struct pcall *c, json_t *message, json_t *choice, size_t index,
    struct pjob **jp)
{
	struct pjob	*j;
	json_t		*text, *part;

	*jp = NULL;
	if (message_text(message, &text) == -1)
		return -1;
	if (text == NULL)
		return 0;
	if (memchr(json_string_value(text), '\0', json_string_length(text)) !=
	    NULL || (j = calloc(1, sizeof(*j))) == NULL) {
		json_decref(text);
		return -1;
	}
	j->text = text;
	job_init(&j->j, c->snap, server_audit(c->call.srv), pjob_done);
	j->pc = c;
	j->choice = choice;
	j->message = message;
	part = json_pack("{s:s, s:s}", "part", choice != NULL ? "output" :
	    "input", "model", c->model);
	if (part != NULL && choice != NULL)
		json_object_set_new(part, "choice", json_integer(
		    (json_int_t)index));
	if (part == NULL || (j->meta = json_copy(c->call.meta)) == NULL) {
		json_decref(part);
		pjob_free(j);
		return -1;
	}
	if (json_object_set_new(j->meta, "proxy", part) == -1) {
		pjob_free(j);
		return -1;
	}
	j->j.req = &j->req;
	j->req.text = json_string_value(text);
	j->req.len = json_string_length(text);
	j->req.policy = c->call.policy;
	j->req.meta = j->meta;
	j->req.peer = c->call.peer;
	snprintf(j->j.logid, sizeof(j->j.logid), "proxy.%s.%zu",
	    choice != NULL ? "out" : "in", index);
	*jp = j;
	return 0;
}

/* Queue C's jobs; on failure end C, now or when those queued come back. */
static void
pcall_submit(struct pcall *c)
{
	struct worker_pool	*wp = server_workers(c->call.srv);
	size_t			 i, n;

	for (i = 0; i < c->njobs; i++)
		if (job_submit(&c->jobs[i]->j, wp) == -1)
			break;
	if (i == c->njobs)
		return;
	for (n = i; n < c->njobs; n++)
		pjob_free(c->jobs[n]);
	c->njobs = i;
	c->overloaded = 1;
	if (i == 0)
		pcall_fail(c, "overloaded", "too many requests waiting "
		    "(server.queue_max)");
}

/* A chat completion of one choice: the policy's MSG, content_filter. */
static json_t *
refusal(const struct pcall *c, const char *msg)
{
	unsigned char	 rnd[12];
	char		 id[9 + 2 * sizeof(rnd) + 1];

	randombytes_buf(rnd, sizeof(rnd));
	memcpy(id, "chatcmpl-", 9);
	sodium_bin2hex(id + 9, sizeof(id) - 9, rnd, sizeof(rnd));
	return json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:{s:s, s:s},"
	    " s:s, s:n}], s:{s:i, s:i, s:i}}", "id", id, "object",
	    "chat.completion", "created", (json_int_t)time(NULL), "model",
	    c->model, "choices", "index", 0, "message", "role", "assistant",
	    "content", msg, "finish_reason", "content_filter", "logprobs",
	    "usage", "prompt_tokens", 0, "completion_tokens", 0,
	    "total_tokens", 0);
}

/* The input job came back: block answers, else the upstream. */
static void
pcall_input_done(struct pcall *c)
{
	struct pjob	*j = c->jobs[0];
	json_t		*t;

	if (j->j.rv == -1) {
		pcall_fail(c, j->j.res.error_code != NULL ?
		    j->j.res.error_code : "internal", "%s",
		    j->j.res.error_msg);
		return;
	}
	metrics_request(&j->j.res);
	if (j->j.res.verdict == VERDICT_BLOCK) {
		pcall_answer(c, 200, refusal(c, j->j.res.message));
		return;
	}
	if (j->j.res.verdict == VERDICT_REWRITE) {
		t = json_stringn(j->j.res.text, j->j.res.text_len);
		if (t == NULL || json_object_set_new(j->message, "content",
		    t) == -1) {
			pcall_fail(c, "internal", "out of memory");
			return;
		}
	}
	pcall_jobs_free(c);
	pcall_upstream(c);
}

/* Every output job came back: the answer with their verdicts. */
static void
pcall_output_done(struct pcall *c)
{
	struct pjob	*j;
	json_t		*t;
	size_t		 i;
	int		 bad = 0;

	if (c->overloaded) {
		pcall_fail(c, "overloaded", "too many requests waiting "
		    "(server.queue_max)");
		return;
	}
	for (i = 0; i < c->njobs; i++) {
		j = c->jobs[i];
		if (j->j.rv == -1) {
			pcall_fail(c, j->j.res.error_code != NULL ?
			    j->j.res.error_code : "internal", "%s",
			    j->j.res.error_msg);
			return;
		}
	}
	for (i = 0; i < c->njobs; i++) {
		j = c->jobs[i];
		metrics_request(&j->j.res);
		switch (j->j.res.verdict) {
		case VERDICT_ALLOW:
			break;
		case VERDICT_REWRITE:
			t = json_stringn(j->j.res.text, j->j.res.text_len);
			bad |= t == NULL || json_object_set_new(j->message,
			    "content", t) == -1;
			break;
		case VERDICT_BLOCK:
			bad |= json_object_set_new(j->message, "content",
			    json_string(j->j.res.message)) == -1;
			bad |= json_object_set_new(j->choice, "finish_reason",
			    json_string("content_filter")) == -1;
			break;
		}
	}
	if (bad) {
		pcall_fail(c, "internal", "out of memory");
		return;
	}
	pcall_answer(c, 200, json_incref(c->answer));
}

/* Back on the event loop thread. */
static void
pjob_done(struct job *job)
{
	struct pjob	*j = (struct pjob *)job;
	struct pcall	*c = j->pc;

	if (++c->ndone < c->njobs)
		return;
	if (c->state == PS_INPUT)
		pcall_input_done(c);
	else
		pcall_output_done(c);
}

/* The upstream's answer, checked: one job per choice with text. */
static void
pcall_upstream_answer(struct pcall *c)
{
	struct proto_error	 err;
	json_t			*choices, *choice, *message, *v;
	const char		*p;
	size_t			 len = evbuffer_get_length(c->up_body), i;

	p = (const char *)evbuffer_pullup(c->up_body, -1);
	c->answer = p != NULL ? protocol_load(p, len, &err) : NULL;
	if (c->up_status >= 500) {
		pcall_fail(c, "upstream_error", "the upstream answered %d",
		    c->up_status);
		return;
	}
	if (c->up_status < 200 || c->up_status >= 300) {
		/* The upstream's own error (a bad model name...) as is. */
		if (c->answer != NULL && json_is_object(json_object_get(
		    c->answer, "error"))) {
			pcall_answer(c, c->up_status, json_incref(c->answer));
			return;
		}
		pcall_fail(c, "upstream_error", "the upstream answered %d "
		    "without an error object", c->up_status);
		return;
	}
	choices = json_object_get(c->answer, "choices");
	if (c->answer == NULL || !json_is_array(choices)) {
		pcall_fail(c, "upstream_error", "the upstream's answer is not "
		    "a chat completion (JSON object with \"choices\")");
		return;
	}
	if (json_is_string(v = json_object_get(c->answer, "model")))
		snprintf(c->model, sizeof(c->model), "%s",
		    json_string_value(v));
	c->state = PS_OUTPUT;
	if ((c->jobs = calloc(json_array_size(choices) + 1,
	    sizeof(*c->jobs))) == NULL) {
		pcall_fail(c, "internal", "out of memory");
		return;
	}
	json_array_foreach(choices, i, choice) {
		message = json_object_get(choice, "message");
		if (!json_is_object(choice) || !json_is_object(message)) {
			pcall_fail(c, "upstream_error", "the upstream's "
			    "choices[%zu] has no message object", i);
			return;
		}
		if (pjob_new(c, message, choice, i, &c->jobs[c->njobs]) ==
		    -1) {
			pcall_fail(c, "upstream_error", "the upstream's "
			    "choices[%zu].message.content is not text", i);
			return;
		}
		if (c->jobs[c->njobs] != NULL)
			c->njobs++;
	}
	if (c->njobs == 0) {		/* tool calls only: nothing to check */
		pcall_answer(c, 200, json_incref(c->answer));
		return;
	}
	pcall_submit(c);
}

/* After evhttp's callback, outside libevent's code. */
static void
pcall_next_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pcall	*c = arg;

	evhttp_connection_free(c->evcon);
	c->evcon = NULL;
	evtimer_del(c->ev_connect);
	evtimer_del(c->ev_timeout);
	c->p->active--;
	c->counted = 0;
	if (c->up_status == 0) {
		if (c->up_error == (int)EVREQ_HTTP_TIMEOUT)
			pcall_fail(c, "upstream_timeout", "no answer from the "
			    "upstream within proxy.timeout");
		else
			pcall_fail(c, "upstream_error", "the upstream %s:%u "
			    "refused the connection or closed it without an "
			    "answer", c->p->addr, (unsigned int)c->p->port);
		return;
	}
	pcall_upstream_answer(c);
}

static void
upstream_error_cb(enum evhttp_request_error error, void *arg)
{
	struct pcall	*c = arg;

	c->up_error = (int)error;
}

/* evhttp's: note what came back, go on in pcall_next_cb. */
static void
upstream_cb(struct evhttp_request *req, void *arg)
{
	struct pcall	*c = arg;

	if (req != NULL && evhttp_request_get_response_code(req) > 0) {
		c->up_status = evhttp_request_get_response_code(req);
		evbuffer_add_buffer(c->up_body,
		    evhttp_request_get_input_buffer(req));
	}
	event_active(c->ev_next, EV_TIMEOUT, 0);
}

static void
connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pcall		*c = arg;
	struct bufferevent	*bev;
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	int			 s = -1;

	if ((bev = evhttp_connection_get_bufferevent(c->evcon)) != NULL)
		s = bufferevent_getfd(bev);
	if (s != -1 && getpeername(s, (struct sockaddr *)&ss, &sl) == 0)
		return;				/* connected */
	pcall_fail(c, "upstream_timeout", "cannot connect to the upstream "
	    "%s:%u within proxy.connect_timeout", c->p->addr,
	    (unsigned int)c->p->port);
}

static void
total_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	pcall_fail(arg, "upstream_timeout", "no answer from the upstream "
	    "within proxy.timeout");
}

static struct timeval
ms_tv(int ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	return tv;
}

/* Send C's body to the upstream. */
static void
pcall_upstream(struct pcall *c)
{
	struct proxy		*p = c->p;
	struct evhttp_request	*req;
	struct evkeyvalq	*oh;
	struct timeval		 tv;
	char			*s, auth[PROXY_KEY_MAX + 16];

	if (p->active >= p->max_concurrent) {
		pcall_fail(c, "overloaded", "too many upstream requests in "
		    "flight (proxy.max_concurrent)");
		return;
	}
	c->state = PS_UPSTREAM;
	c->up_error = -1;
	if ((c->up_body = evbuffer_new()) == NULL ||
	    (c->ev_next = event_new(p->base, -1, 0, pcall_next_cb, c)) ==
	    NULL ||
	    (c->ev_connect = evtimer_new(p->base, connect_timeout_cb, c)) ==
	    NULL ||
	    (c->ev_timeout = evtimer_new(p->base, total_timeout_cb, c)) ==
	    NULL ||
	    (c->evcon = evhttp_connection_base_new(p->base, NULL, p->addr,
	    p->port)) == NULL) {
		pcall_fail(c, "internal", "out of memory");
		return;
	}
	p->active++;
	c->counted = 1;
	tv = ms_tv(p->timeout_ms);
	evhttp_connection_set_timeout_tv(c->evcon, &tv);
	evhttp_connection_set_retries(c->evcon, 0);
	evhttp_connection_set_max_body_size(c->evcon, PROXY_ANSWER_MAX);
	if ((req = evhttp_request_new(upstream_cb, c)) == NULL) {
		pcall_fail(c, "internal", "out of memory");
		return;
	}
	evhttp_request_set_error_cb(req, upstream_error_cb);
	oh = evhttp_request_get_output_headers(req);
	evhttp_add_header(oh, "Host", p->host_header);
	evhttp_add_header(oh, "Content-Type", "application/json");
	evhttp_add_header(oh, "Accept", "application/json");
	evhttp_add_header(oh, "Connection", "close");
	if (p->key != NULL) {
		snprintf(auth, sizeof(auth), "Bearer %s", p->key);
		evhttp_add_header(oh, "Authorization", auth);
		sodium_memzero(auth, sizeof(auth));
	}
	if ((s = json_dumps(c->fwd, JSON_COMPACT)) == NULL ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), s,
	    strlen(s)) == -1) {
		free(s);
		evhttp_request_free(req);
		pcall_fail(c, "internal", "out of memory");
		return;
	}
	free(s);
	if (evhttp_make_request(c->evcon, req, EVHTTP_REQ_POST, p->path) ==
	    -1) {
		/* evhttp freed REQ. */
		pcall_fail(c, "upstream_error", "cannot send to the upstream "
		    "%s:%u", p->addr, (unsigned int)p->port);
		return;
	}
	if (p->connect_ms < p->timeout_ms) {
		tv = ms_tv(p->connect_ms);
		evtimer_add(c->ev_connect, &tv);
	}
	tv = ms_tv(p->timeout_ms);
	evtimer_add(c->ev_timeout, &tv);
}

/* The last message of BODY's messages with role "user", or NULL. */
static json_t *
last_user(json_t *messages)
{
	json_t	*m;
	size_t	 i = json_array_size(messages);

	while (i-- > 0) {
		m = json_array_get(messages, i);
		if (json_is_object(m) && json_is_string(json_object_get(m,
		    "role")) && strcmp(json_string_value(json_object_get(m,
		    "role")), "user") == 0)
			return m;
	}
	return NULL;
}

void
proxy_chat(struct proxy *p, const struct proxy_call *pc)
{
	struct pcall	*c;
	json_t		*messages, *v, *user;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		pc->done(pc->arg, 0, NULL, "internal", "out of memory");
		return;
	}
	c->p = p;
	c->call = *pc;
	json_incref(c->call.body);
	json_incref(c->call.meta);
	c->snap = snapshot_ref(server_snapshot(pc->srv));
	v = json_object_get(pc->body, "model");
	if (v != NULL && !json_is_string(v)) {
		pcall_fail(c, "bad_request", "model must be a string");
		return;
	}
	snprintf(c->model, sizeof(c->model), "%s", v != NULL ?
	    json_string_value(v) : "");
	messages = json_object_get(pc->body, "messages");
	if (!json_is_array(messages) || json_array_size(messages) == 0) {
		pcall_fail(c, "bad_request", "messages must be a non-empty "
		    "array");
		return;
	}
	v = json_object_get(pc->body, "stream");
	if (v != NULL && !json_is_boolean(v)) {
		pcall_fail(c, "bad_request", "stream must be a boolean");
		return;
	}
	if (json_is_true(v)) {
		pcall_fail(c, "bad_request", "stream: streaming through the "
		    "proxy is not supported yet; send \"stream\": false");
		return;
	}
	/* "policy" and "meta" are modgate's: the upstream gets the rest. */
	if ((c->fwd = json_copy(pc->body)) == NULL) {
		pcall_fail(c, "internal", "out of memory");
		return;
	}
	json_object_del(c->fwd, "policy");
	json_object_del(c->fwd, "meta");
	if (!p->moderate_input || (user = last_user(messages)) == NULL) {
		pcall_upstream(c);
		return;
	}
	c->state = PS_INPUT;
	if ((c->jobs = calloc(1, sizeof(*c->jobs))) == NULL) {
		pcall_fail(c, "internal", "out of memory");
		return;
	}
	if (pjob_new(c, user, NULL, 0, &c->jobs[0]) == -1) {
		pcall_fail(c, "bad_request", "messages: the last user "
		    "message's content must be text without NUL");
		return;
	}
	if (c->jobs[0] == NULL) {	/* no text: nothing to check */
		pcall_upstream(c);
		return;
	}
	c->njobs = 1;
	pcall_submit(c);
}
