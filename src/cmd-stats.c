/*
 * modgate stats: print the counters of a running modgated.
 *
 *	modgate stats [-j] [-s socket]
 *	modgate stats --prometheus [-s socket]
 *
 * One "name value" line per counter (nested counters as "a.b"), or with
 * -j the answer line as is; with --prometheus the answer of op metrics,
 * the Prometheus text format.  EX_UNAVAILABLE when the daemon is
 * unreachable.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "cmd.h"

static void
print_flat(const char *prefix, json_t *o)
{
	const char	*key;
	json_t		*v;
	char		 name[256];

	json_object_foreach(o, key, v) {
		if (strcmp(key, "id") == 0 || strcmp(key, "op") == 0)
			continue;
		snprintf(name, sizeof(name), "%s%s%s", prefix,
		    prefix[0] != '\0' ? "." : "", key);
		if (json_is_object(v))
			print_flat(name, v);
		else if (json_is_integer(v))
			printf("%-28s %lld\n", name,
			    (long long)json_integer_value(v));
		else if (json_is_string(v))
			printf("%-28s %s\n", name, json_string_value(v));
		else if (json_is_real(v))
			printf("%-28s %g\n", name, json_real_value(v));
	}
}

int
cmd_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "prometheus", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	json_t		*req, *ans, *err, *text;
	const char	*sockopt = NULL;
	char		*sock, *line;
	int		 ch, raw = 0, prom = 0, unreachable, rv = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "js:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			raw = 1;
			break;
		case 'P':
			prom = 1;
			break;
		case 's':
			sockopt = optarg;
			break;
		default:
			fprintf(stderr, "usage: modgate stats [-j | "
			    "--prometheus] [-s socket]\n");
			return EX_USAGE;
		}
	}
	if (optind != argc || (raw && prom)) {
		fprintf(stderr, "usage: modgate stats [-j | --prometheus] "
		    "[-s socket]\n");
		return EX_USAGE;
	}
	if ((sock = client_socket_path(sockopt)) == NULL)
		return EX_OSERR;
	req = json_pack("{s:s}", "op", prom ? "metrics" : "stats");
	ans = req != NULL ? client_call(sock, req, &unreachable) : NULL;
	if (ans == NULL) {
		rv = req != NULL && unreachable ? EX_UNAVAILABLE : EX_PROTOCOL;
	} else if ((err = json_object_get(ans, "error")) != NULL) {
		fprintf(stderr, "modgate stats: %s\n",
		    json_string_value(json_object_get(err, "message")));
		rv = EX_SOFTWARE;
	} else if (prom) {
		text = json_object_get(ans, "metrics");
		if (!json_is_string(text)) {
			fprintf(stderr, "modgate stats: the daemon sent no "
			    "metrics\n");
			rv = EX_PROTOCOL;
		} else
			fwrite(json_string_value(text), 1,
			    json_string_length(text), stdout);
	} else if (raw) {
		if ((line = json_dumps(ans, JSON_COMPACT)) != NULL)
			printf("%s\n", line);
		free(line);
	} else
		print_flat("", ans);
	json_decref(req);
	json_decref(ans);
	free(sock);
	return rv;
}
