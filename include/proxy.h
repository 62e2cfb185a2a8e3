/*
 * proxy: modgated in front of an OpenAI-compatible chat server (the
 * proxy section of modgated.conf).  The HTTP front hands it each
 * POST /v1/chat/completions; the request goes to the upstream through
 * libevent's HTTP client on the daemon's event loop (no thread of its
 * own), the assistant message of every choice goes through the pipeline
 * as a job.c job under the caller's policy, and the answer comes back
 * allowed as is, rewritten, or replaced by the policy's message with
 * finish_reason "content_filter"; id, model and usage stay the
 * upstream's.  With moderate_input the last user message is checked
 * first, and a block answers without calling the upstream.  Upstream
 * failures become errors (upstream_error, upstream_timeout).  Streaming
 * ("stream": true) is refused for now.
 */
#ifndef MODGATE_PROXY_H
#define MODGATE_PROXY_H

#include <event2/event.h>
#include <jansson.h>

#include "verdict.h"

struct proxy;
struct proxy_conf;
struct server;

/*
 * How one call ends: STATUS and ANSWER (stolen) when CODE is NULL, else
 * the error CODE and MSG (ANSWER NULL).  Runs on the event loop, once.
 */
typedef void	(*proxy_done_fn)(void *arg, int status, json_t *answer,
		    const char *code, const char *msg);

/* One POST /v1/chat/completions, as the front read it. */
struct proxy_call {
	struct server	*srv;		/* snapshot, workers, audit log */
	json_t		*body;		/* the request body (a reference taken) */
	json_t		*meta;		/* audit meta (a reference taken) */
	const char	*policy;	/* NULL: the peer's; lives in BODY */
	struct peer	 peer;
	proxy_done_fn	 done;
	void		*arg;
};

/*
 * The proxy of section PC: the upstream URL parsed and its address
 * resolved, the key file read.  NULL after logging.
 */
struct proxy	*proxy_new(const struct proxy_conf *pc);

/* Serve on BASE (before any proxy_chat). */
void		 proxy_start(struct proxy *, struct event_base *base);

/* Run the call PC; its done runs once, maybe before this returns. */
void		 proxy_chat(struct proxy *, const struct proxy_call *pc);

/* Free P (no call may be in flight).  NULL is a no-op. */
void		 proxy_free(struct proxy *p);

#endif
