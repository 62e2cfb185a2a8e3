/*
 * sdnotify: modgated's side of systemd.  Readiness, reload and stop
 * notifications (sd_notify(3)), watchdog pings from the event loop, and the
 * listening socket inherited through socket activation (sd_listen_fds(3)).
 * Without systemd (no NOTIFY_SOCKET, WATCHDOG_USEC or LISTEN_FDS in the
 * environment) every call is a no-op, so the daemon runs the same anywhere.
 */
#ifndef MODGATE_SDNOTIFY_H
#define MODGATE_SDNOTIFY_H

struct event_base;

/*
 * The listening Unix stream socket passed by the service manager, or -1
 * when there is none.  Returns -2 after logging why when the passed file
 * descriptors are unusable (more than one, or not a listening AF_UNIX
 * stream socket).  Unsets LISTEN_FDS and friends; call it once, at start-up.
 * The descriptor belongs to the caller; it is made close-on-exec and
 * non-blocking.
 */
int	 sdnotify_listen_fd(void);

/* READY=1 plus STATUS=STATUS (may be NULL): the daemon serves requests. */
void	 sdnotify_ready(const char *status);
/* RELOADING=1 with MONOTONIC_USEC=now: a SIGHUP reload has begun (and
 * WATCHDOG=1 when the watchdog runs: the load gets a whole period). */
void	 sdnotify_reloading(void);
/* STOPPING=1: SIGTERM/SIGINT received, draining in-flight requests. */
void	 sdnotify_stopping(void);
/* STATUS=... (printf format): a one-line state shown by systemctl status. */
void	 sdnotify_status(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * When the service manager asked for a watchdog (WATCHDOG_USEC, and
 * WATCHDOG_PID if set is ours), add a persistent timer to BASE that sends
 * WATCHDOG=1 every half period, so that a stalled event loop stops the
 * pings.  Returns 1 when armed, 0 when no watchdog was asked for, -1 on
 * error.  sdnotify_watchdog_stop() removes the timer (before BASE is freed).
 */
int	 sdnotify_watchdog_start(struct event_base *base);
void	 sdnotify_watchdog_stop(void);

#endif
