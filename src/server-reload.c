/*
 * server-reload: a new snapshot loaded on a thread of its own, so that
 * loading rules and model never stalls the loop, then swapped in on the
 * loop; the op reload requests that waited for it get their answers.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "log.h"
#include "metrics.h"
#include "protocol.h"
#include "sdnotify.h"
#include "server.h"
#include "server-internal.h"
#include "snapshot.h"

static void	reload_answer(struct server *, int);

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

/* The audit record of a reload: asked by the op reload peers, or a signal. */
static void
reload_audit(struct server *srv, const struct snapshot *snap)
{
	unsigned int	 uids[16];
	size_t		 n = 0;
	struct pending	*p;

	TAILQ_FOREACH(p, &srv->reload_now, wait_entry)
		if (n < sizeof(uids) / sizeof(uids[0]))
			uids[n++] = (unsigned int)p->conn->peer.uid;
	audit_reload(srv->audit, snap != NULL, uids, n, srv->snap->version,
	    snap != NULL ? snap->version : NULL);
}

/* 1 when the proxy sections A and B differ (read at start only). */
static int
proxy_changed(const struct proxy_conf *a, const struct proxy_conf *b)
{
	if (a->enabled != b->enabled)
		return 1;
	if (!a->enabled)
		return 0;
	return strcmp(a->upstream, b->upstream) != 0 ||
	    strcmp(a->key_file, b->key_file) != 0 ||
	    a->connect_timeout != b->connect_timeout ||
	    a->timeout != b->timeout ||
	    a->moderate_input != b->moderate_input ||
	    a->max_concurrent != b->max_concurrent;
}

/*
 * Swap in SNAP (NULL: the load failed, the old snapshot serves on) and
 * answer the op reload requests that waited for this load.
 */
static void
server_reload_finish(struct server *srv, struct snapshot *snap)
{
	struct snapshot	*old = srv->snap;

	reload_audit(srv, snap);
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
	if (proxy_changed(&old->cfg->proxy, &snap->cfg->proxy))
		log_warnx("the proxy section changed: takes effect at the next "
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
void
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

void
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
