/*
 * shed: what a listener does when accept(2) fails for want of descriptors
 * (EMFILE, ENFILE, ENOBUFS, ENOMEM).  Returning with the listener armed
 * would spin: the socket stays readable, every pass fails again.  Instead
 * the connections waiting are accepted on a reserve descriptor (kept open
 * for this) and closed at once with an error, so that clients are told
 * rather than left hanging; the listener is paused for SHED_PAUSE_MS; the
 * burst is logged once when it starts and once when it ends, with the
 * number shed; each connection shed is counted as refused, reason
 * "fd_limit" (metrics and stats).  Used by every front, on the loop thread.
 */
#ifndef MODGATE_SHED_H
#define MODGATE_SHED_H

#include <stddef.h>

#include <event2/event.h>

#define SHED_PAUSE_MS	100	/* the listener rests this long */
#define SHED_QUIET_MS	1000	/* a burst ends after this long without one */
#define SHED_MAX	64	/* connections shed per failed accept */

struct shed;

/*
 * A guard for the listener NAME (for the log) on BASE.  PAUSE(ARG, 1)
 * stops watching the listening socket, PAUSE(ARG, 0) watches it again.
 * REPLY (LEN bytes, copied) is written to each connection shed.  Opens the
 * reserve descriptor.  NULL after logging.
 */
struct shed	*shed_new(struct event_base *base, const char *name,
		    void (*pause)(void *arg, int on), void *arg,
		    const char *reply, size_t len);

/*
 * accept(2) on the listening socket LFD failed with ERR.  When ERR is
 * descriptor exhaustion: the waiting connections are shed, the listener
 * paused, and 1 is returned.  0 for any other error (the caller's).
 */
int		 shed_accept_error(struct shed *s, int lfd, int err);

/* 1 when ERR means accept(2) ran out of descriptors or memory for one. */
int		 shed_exhausted(int err);

/* Free S and its reserve; a paused listener stays paused.  NULL: no-op. */
void		 shed_free(struct shed *s);

#endif
