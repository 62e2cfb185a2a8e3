/*
 * modgate check: send a text to modgated and print its verdict.
 *
 *	modgate check [-j] [-i id] [-p policy] [-s socket] [text ... | -]
 *
 * Prints "allow", "rewrite: TEXT" or "block: MESSAGE", then a line for
 * each thing that decided or was flagged: "by rule ID (CATEGORY)", "by
 * category LABEL (score S)", "flagged by rule ID (CATEGORY)", "monitor rule
 * ID (CATEGORY): would ACTION", "by on_error (a stage failed)" (-j: the
 * answer line as is).  Exit status: 0 allow, 2 rewrite, 3 block; EX_DATAERR for a
 * request the daemon refused (bad_request, too_large, unknown_policy),
 * EX_TEMPFAIL for overloaded or timeout, EX_SOFTWARE for internal,
 * EX_UNAVAILABLE when the daemon cannot be reached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "cmd.h"

#define CHECK_MAX_INPUT	(64 * 1024 * 1024)

/* All of stdin in a malloc'd buffer, or NULL. */
static char *
read_stdin(size_t *len)
{
	char	*buf = NULL, *nbuf;
	size_t	 cap = 0, n;

	*len = 0;
	for (;;) {
		if (cap - *len < 4096) {
			if (cap >= CHECK_MAX_INPUT) {
				fprintf(stderr, "modgate check: input larger "
				    "than %d bytes\n", CHECK_MAX_INPUT);
				free(buf);
				return NULL;
			}
			cap = cap == 0 ? 65536 : cap * 2;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = nbuf;
		}
		n = fread(buf + *len, 1, cap - *len, stdin);
		*len += n;
		if (n == 0)
			break;
	}
	if (ferror(stdin)) {
		perror("modgate check: stdin");
		free(buf);
		return NULL;
	}
	return buf;
}

/* TEXT words joined by spaces. */
static char *
join(int argc, char **argv, size_t *len)
{
	char	*s;
	size_t	 n = 0, off = 0;
	int	 i;

	for (i = 0; i < argc; i++)
		n += strlen(argv[i]) + 1;
	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < argc; i++) {
		memcpy(s + off, argv[i], strlen(argv[i]));
		off += strlen(argv[i]);
		if (i + 1 < argc)
			s[off++] = ' ';
	}
	s[off] = '\0';
	*len = off;
	return s;
}

static const char *
str(json_t *o, const char *key)
{
	const char	*v = json_string_value(json_object_get(o, key));

	return v != NULL ? v : "?";
}

/*
 * What decided VERDICT in the answer ANS, one line each: the rule hits
 * whose action is the verdict, the classifier's flagged categories (those
 * with a score), a failed stage; then hits that only flag, and monitor-mode
 * hits.
 */
static void
print_reasons(json_t *ans, const char *verdict)
{
	json_t		*m, *flagged, *scores, *sc, *v;
	size_t		 i;
	const char	*action, *label;
	int		 decided = 0, monitor;

	json_array_foreach(json_object_get(ans, "matches"), i, m) {
		action = str(m, "action");
		monitor = json_is_true(json_object_get(m, "monitor"));
		if (!monitor && strcmp(action, verdict) == 0) {
			printf("by rule %s (%s)\n", str(m, "rule"),
			    str(m, "category"));
			decided = 1;
		}
	}
	flagged = json_object_get(ans, "flagged");
	scores = json_object_get(ans, "scores");
	json_array_foreach(flagged, i, v) {
		label = json_string_value(v);
		if (label == NULL || strcmp(verdict, "allow") == 0 ||
		    (sc = json_object_get(scores, label)) == NULL)
			continue;
		printf("by category %s (score %.3f)\n", label,
		    json_number_value(sc));
		decided = 1;
	}
	if (!decided && strcmp(verdict, "block") == 0 &&
	    json_is_true(json_object_get(ans, "degraded")))
		printf("by on_error (a stage failed)\n");
	json_array_foreach(json_object_get(ans, "matches"), i, m) {
		action = str(m, "action");
		if (json_is_true(json_object_get(m, "monitor")))
			printf("monitor rule %s (%s): would %s\n",
			    str(m, "rule"), str(m, "category"), action);
		else if (strcmp(action, "flag") == 0)
			printf("flagged by rule %s (%s)\n", str(m, "rule"),
			    str(m, "category"));
	}
}

static int
error_status(const char *code)
{
	if (strcmp(code, "overloaded") == 0 || strcmp(code, "timeout") == 0)
		return EX_TEMPFAIL;
	if (strcmp(code, "internal") == 0)
		return EX_SOFTWARE;
	return EX_DATAERR;
}

int
cmd_check(int argc, char **argv)
{
	json_t		*req = NULL, *ans = NULL, *err, *v;
	const char	*sockopt = NULL, *policy = NULL, *id = NULL, *verdict;
	char		*sock = NULL, *text = NULL, *line;
	size_t		 len;
	int		 ch, raw = 0, unreachable, rv = EX_SOFTWARE;

	optind = 1;
	while ((ch = getopt(argc, argv, "i:jp:s:")) != -1) {
		switch (ch) {
		case 'i':
			id = optarg;
			break;
		case 'j':
			raw = 1;
			break;
		case 'p':
			policy = optarg;
			break;
		case 's':
			sockopt = optarg;
			break;
		default:
			fprintf(stderr, "usage: modgate check [-j] [-i id] "
			    "[-p policy] [-s socket] [text ... | -]\n");
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0 || (argc == 1 && strcmp(argv[0], "-") == 0))
		text = read_stdin(&len);
	else
		text = join(argc, argv, &len);
	if (text == NULL)
		return EX_IOERR;
	if ((sock = client_socket_path(sockopt)) == NULL)
		goto done;
	req = json_object();
	if (req == NULL || json_object_set_new(req, "id",
	    json_string(id != NULL ? id : "cli")) == -1 ||
	    json_object_set_new(req, "text", json_stringn(text, len)) == -1 ||
	    (policy != NULL && json_object_set_new(req, "policy",
	    json_string(policy)) == -1)) {
		fprintf(stderr, "modgate check: the text is not valid "
		    "UTF-8\n");
		rv = EX_DATAERR;
		goto done;
	}
	if ((ans = client_call(sock, req, &unreachable)) == NULL) {
		rv = unreachable ? EX_UNAVAILABLE : EX_PROTOCOL;
		goto done;
	}
	if (raw) {
		if ((line = json_dumps(ans, JSON_COMPACT)) != NULL) {
			printf("%s\n", line);
			free(line);
		}
	}
	if ((err = json_object_get(ans, "error")) != NULL) {
		if (!raw)
			fprintf(stderr, "modgate check: %s: %s\n",
			    json_string_value(json_object_get(err, "code")),
			    json_string_value(json_object_get(err, "message")));
		v = json_object_get(err, "code");
		rv = error_status(json_is_string(v) ? json_string_value(v) :
		    "internal");
		goto done;
	}
	verdict = json_string_value(json_object_get(ans, "verdict"));
	if (verdict == NULL) {
		fprintf(stderr, "modgate check: answer without a verdict\n");
		rv = EX_PROTOCOL;
	} else if (strcmp(verdict, "allow") == 0) {
		if (!raw)
			printf("allow\n");
		rv = CHECK_EXIT_ALLOW;
	} else if (strcmp(verdict, "rewrite") == 0) {
		if (!raw)
			printf("rewrite: %s\n", json_string_value(
			    json_object_get(ans, "text")));
		rv = CHECK_EXIT_REWRITE;
	} else if (strcmp(verdict, "block") == 0) {
		if (!raw)
			printf("block: %s\n", json_string_value(
			    json_object_get(ans, "message")));
		rv = CHECK_EXIT_BLOCK;
	} else {
		fprintf(stderr, "modgate check: unknown verdict %s\n",
		    verdict);
		rv = EX_PROTOCOL;
	}
	if (!raw && rv != EX_PROTOCOL) {
		/* a monitor policy: what its verdict would have been, and why */
		if (json_is_true(json_object_get(ans, "monitor")) &&
		    json_is_string(json_object_get(ans, "would_verdict"))) {
			verdict = str(ans, "would_verdict");
			printf("monitor policy: would %s\n", verdict);
		}
		print_reasons(ans, verdict);
	}
done:
	json_decref(req);
	json_decref(ans);
	free(sock);
	free(text);
	return rv;
}
