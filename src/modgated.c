/*
 * modgated: the moderation daemon (man 8 modgated).
 *
 *	modgated [-FOtVv] [-c file] [-s socket]
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "audit.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "snapshot.h"
#include "transformer.h"

#define DEFAULT_CONFIG	SYSCONFDIR "/modgate/modgated.conf"

static void __attribute__((noreturn))
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: modgated [-FhOtVv] [-c file] [-s socket]\n");
	exit(status);
}

/* SIGUSR1: reopen the audit log (after logrotate renamed it). */
static void
audit_reopen_hook(void *arg)
{
	if (audit_reopen(arg) == -1)
		log_warnx("audit: reopen failed; records are retried on the "
		    "next request");
}

int
main(int argc, char **argv)
{
	struct snapshot	*snap;
	struct server	*srv;
	struct http	*http;
	struct audit	*audit = NULL;
	const char	*conffile = DEFAULT_CONFIG;
	char		*sock = NULL, *sockbuf = NULL, *cwd;
	int		 ch, foreground = 0, check = 0, verbose = 0, rv;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		usage(stdout, 0);
	while ((ch = getopt(argc, argv, "c:FhOs:tVv")) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout, 0);
		case 'c':
			conffile = optarg;
			break;
		case 'F':
			foreground = 1;
			break;
		case 'O':
			config_dump_options();
			return 0;
		case 's':
			sock = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'V':
			printf("modgated %s (protocol 1)\n", MODGATE_VERSION);
			return 0;
		case 'v':
			verbose = 1;
			break;
		default:
			usage(stderr, EX_USAGE);
		}
	}
	if (optind != argc)
		usage(stderr, EX_USAGE);
	/* Errors of the start-up go to stderr; syslog once daemonized. */
	log_init("modgated", 1, verbose);
	/*
	 * Until server_run installs the handlers, a SIGHUP or SIGUSR1 (a
	 * reload or logrotate right after the socket appears) must not kill
	 * us; the config is read after this point anyway.
	 */
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);

	/* The socket path given here is relative to where we start. */
	if (sock != NULL && sock[0] != '/') {
		if ((cwd = realpath(".", NULL)) == NULL)
			fatal("getcwd");
		if (asprintf(&sockbuf, "%s/%s", cwd, sock) == -1)
			fatal("asprintf");
		free(cwd);
		sock = sockbuf;
	}
	snap = snapshot_load(conffile, sock);
	if (check) {
		rv = snap != NULL && http_check(snap->cfg) == 0 ? 0 : 1;
		/* the audit key is read at start: check it here too */
		if (rv == 0 && snap->cfg->audit.enabled &&
		    snap->cfg->audit.key[0] != '\0' &&
		    audit_check_key(snap->cfg->audit.key) == -1)
			rv = 1;
		if (rv == 0)
			printf("configuration OK\n");
		snapshot_unref(snap);
		free(sockbuf);
		return rv;
	}
	/* BLAS threads per forward pass, fixed before any worker starts */
	if (snap != NULL)
		transformer_set_threads(snap->cfg->classifier.threads);
	if (snap == NULL ||
	    (srv = server_new(snap->cfg->file, sock, snap)) == NULL) {
		snapshot_unref(snap);
		free(sockbuf);
		return 1;
	}
	if (server_listen(srv) == -1) {
		server_free(srv);
		free(sockbuf);
		return 1;
	}
	/* The HTTP front, when configured, beside the protocol socket. */
	if (snap->cfg->http.enabled) {
		if ((http = http_listen(srv, snap->cfg)) == NULL ||
		    server_add_front(srv, &http_front, http) == -1) {
			http_free(http);
			server_free(srv);
			free(sockbuf);
			return 1;
		}
	}
	/* Before daemon(3), so that a log that cannot resume is seen. */
	if (snap->cfg->audit.enabled) {
		if ((audit = audit_open(&snap->cfg->audit)) == NULL) {
			server_free(srv);
			free(sockbuf);
			return 1;
		}
		server_set_audit(srv, audit);
		server_set_reopen_hook(srv, audit_reopen_hook, audit);
	}
	if (!foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init("modgated", 0, verbose);
	}
	audit_start(audit);
	rv = server_run(srv);
	server_free(srv);
	audit_close(audit);
	free(sockbuf);
	return rv == 0 ? 0 : 1;
}
