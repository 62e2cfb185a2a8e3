/*
 * modgate reload: ask modgated to reload its configuration (op reload,
 * admin uids only), like SIGHUP but with an answer.
 *
 *	modgate reload [-s socket]
 *
 * Prints the new policy_version.  Exit 0, 1 when the daemon refused or the
 * new configuration failed (the old one keeps serving), EX_UNAVAILABLE
 * when the daemon is unreachable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "cmd.h"

int
cmd_reload(int argc, char **argv)
{
	json_t		*req, *ans, *err;
	const char	*sockopt = NULL;
	char		*sock;
	int		 ch, unreachable, rv = 0;

	optind = 1;
	while ((ch = getopt(argc, argv, "s:")) != -1) {
		switch (ch) {
		case 's':
			sockopt = optarg;
			break;
		default:
			fprintf(stderr, "usage: modgate reload [-s socket]\n");
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: modgate reload [-s socket]\n");
		return EX_USAGE;
	}
	if ((sock = client_socket_path(sockopt)) == NULL)
		return EX_OSERR;
	req = json_pack("{s:s}", "op", "reload");
	ans = req != NULL ? client_call(sock, req, &unreachable) : NULL;
	if (ans == NULL) {
		rv = req != NULL && unreachable ? EX_UNAVAILABLE : EX_PROTOCOL;
	} else if ((err = json_object_get(ans, "error")) != NULL) {
		fprintf(stderr, "modgate reload: %s\n",
		    json_string_value(json_object_get(err, "message")));
		rv = 1;
	} else
		printf("reloaded: %s (generation %lld)\n",
		    json_string_value(json_object_get(ans, "policy_version")),
		    (long long)json_integer_value(json_object_get(ans,
		    "generation")));
	json_decref(req);
	json_decref(ans);
	free(sock);
	return rv;
}
