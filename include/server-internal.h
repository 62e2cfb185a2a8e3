/*
 * server-internal: what the files of the server share (server.c the loop,
 * server-conn.c connections, server-request.c requests, server-reload.c
 * reloads, server-stats.c the stats).  Not for other modules.
 */
#ifndef MODGATE_SERVER_INTERNAL_H
#define MODGATE_SERVER_INTERNAL_H

#include <sys/queue.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "job.h"
#include "protocol.h"
#include "server.h"
#include "verdict.h"
#include "worker.h"

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
	struct shed		*shed;		/* accept out of descriptors */
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

struct conn_job;

struct pending {
	TAILQ_ENTRY(pending)	 entry;
	struct conn		*conn;
	struct conn_job		*job;		/* in flight, else NULL */
	json_t			*id;		/* copy of the request id */
	char			*answer;	/* complete line, else NULL */
	size_t			 len;
	struct event		*timer;		/* request_timeout */
	struct pending_list	*wait_list;	/* op reload: waiting for it */
	TAILQ_ENTRY(pending)	 wait_entry;
};

/* A request of a connection, as a job. */
struct conn_job {
	struct job		 j;		/* first: the job */
	struct pending		*pending;	/* NULL once nobody waits */
	struct server		*srv;
	struct proto_request	 pr;		/* j.req is &pr.req */
};

/* server.c */
/* 1 when a front other than the socket has requests left. */
int	 server_fronts_busy(const struct server *srv);
/* Update the loop's busy share (server-request.c, request_inline). */
void	 server_loop_share(struct server *srv, uint64_t now);

/* server-conn.c */
void	 server_accept_cb(evutil_socket_t lfd, short what, void *arg);
/* Frame and handle the complete lines in C's input. */
void	 conn_read(struct conn *c);
/* Write C's complete answers; 1 when C was freed. */
int	 conn_flush(struct conn *c);
void	 conn_free(struct conn *c);
/* At a stop: what the client sent already, into C's input. */
void	 conn_slurp(struct conn *c);

/* server-request.c */
/* Handle one request LINE (LEN bytes, no newline) of C. */
void	 conn_request(struct conn *c, const char *line, size_t len);
/* An error answer queued in order on C, for a request that never parsed. */
void	 conn_error(struct conn *c, json_t *id, const char *code,
	    const char *msg);
/* Complete P with ANSWER (malloc'd line, or NULL: out of memory). */
void	 pending_answer(struct pending *p, char *answer, size_t len);
/* Complete P with an error answer, counted. */
void	 pending_error(struct server *srv, struct pending *p,
	    const char *code, const char *msg);
void	 pending_free(struct conn *c, struct pending *p);

/* server-reload.c */
/* Start loading a new snapshot, or ask for one more after the running one. */
void	 server_reload(struct server *srv);
/* The reload thread is done: swap its snapshot in (the reload pipe). */
void	 server_reload_done_cb(evutil_socket_t fd, short what, void *arg);

/* server-stats.c */
/* The answers of {"op": "stats"} and {"op": "metrics"}, or NULL. */
json_t	*stats_json(struct server *srv);
json_t	*metrics_json(struct server *srv);

#endif
