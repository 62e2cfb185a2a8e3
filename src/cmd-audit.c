/*
 * modgate audit: check and read the audit log (man 5 modgate.audit).
 *
 *	modgate audit verify [-aPq] [-k pubkey] [-w witness] file ...
 *	modgate audit show [-P] [filters] [file ...]
 *	modgate audit query [-P] [filters] [file ...]
 *	modgate audit keygen [-fs] [-e seconds] [-n epochs] [-p pubfile]
 *	    secretfile
 *	modgate audit hmac -K hmackeyfile [text]
 *
 * filters: --since T --until T --verdict V --policy P --rule R (a glob)
 *	    --category C --uid N
 *
 * verify exits 0 when the files (given oldest first) are intact, 1 at the
 * first bad record, printed as "file:line: kind: message"; -w (--witness)
 * names the syslog or journal output holding the checkpoints the daemon
 * also sent there.  show prints one
 * human-readable block per record, query the matching lines as they are
 * (JSON Lines, for jq).  Both stream: a line at a time, lines up to 64 MiB,
 * with a progress bar on stderr with -P, or when stderr is a terminal that
 * the records do not go to.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit-fss.h"
#include "audit-key.h"
#include "audit-read.h"
#include "audit-record.h"
#include "audit-verify.h"
#include "cmd.h"
#include "log.h"

/* Progress over all input files. */
struct progress {
	int		 on;
	uint64_t	 total, done;	/* bytes */
	uint64_t	 records, matched;
	struct timespec	 last;
	int		 drawn;
};

/*
 * A bar on stderr when forced (-P), or when stderr is a terminal and the
 * records do not go to the same screen (RECORDS_OUT: stdout gets records).
 */
static void
progress_init(struct progress *p, int force, int records_out, char **files,
    int n)
{
	struct stat	 st;
	int		 i;

	memset(p, 0, sizeof(*p));
	p->on = force || (isatty(STDERR_FILENO) &&
	    !(records_out && isatty(STDOUT_FILENO)));
	for (i = 0; i < n; i++)
		if (strcmp(files[i], "-") != 0 && stat(files[i], &st) == 0)
			p->total += (uint64_t)st.st_size;
}

static void
progress_draw(struct progress *p, int final)
{
	struct timespec	 now;
	char		 bar[31];
	int		 i, fill, pct;
	double		 ms;

	if (!p->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - p->last.tv_sec) * 1e3 +
	    (now.tv_nsec - p->last.tv_nsec) / 1e6;
	if (!final && p->drawn && ms < 100)
		return;
	p->last = now;
	p->drawn = 1;
	pct = p->total > 0 ? (int)(p->done * 100 / p->total) : 100;
	if (pct > 100)
		pct = 100;
	fill = pct * 30 / 100;
	for (i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : ' ';
	bar[30] = '\0';
	fprintf(stderr, "\r[%s] %3d%% %.1f/%.1f MB %" PRIu64 " records %"
	    PRIu64 " matched", bar, pct, p->done / 1e6, p->total / 1e6,
	    p->records, p->matched);
	if (final)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

static int
open_input(const char *name)
{
	int	 fd;

	if (strcmp(name, "-") == 0)
		return STDIN_FILENO;
	if ((fd = open(name, O_RDONLY | O_CLOEXEC)) == -1)
		log_warn("%s", name);
	return fd;
}

/* verify */

/*
 * The key -k names: a forward-secure public key ("fss1:...", into *FSS,
 * whose epoch is then set) or an Ed25519 one (into PK), as a string or the
 * first line of a file.  0 or -1 (said).
 */
static int
pin_key(const char *arg, unsigned char *pk, struct audit_fss_public *fss)
{
	char	 line[256];
	FILE	*f;

	if (audit_fss_parse_public(arg, fss) == 0)
		return 0;
	if ((f = fopen(arg, "re")) != NULL) {
		if (fgets(line, sizeof(line), f) != NULL &&
		    audit_fss_parse_public(line, fss) == 0) {
			fclose(f);
			return 0;
		}
		fclose(f);
	}
	fss->epoch = 0;
	return audit_key_read_public(arg, pk);
}

/* Feed the checkpoints of the witness file NAME to V.  0, or -1 (said). */
static int
read_witness(struct audit_verify *v, const char *name)
{
	struct audit_reader	*rd;
	const char		*line;
	char			 bad[512];
	size_t			 len, lineno = 0, kept = 0;
	int			 fd, n, complete, rc = 0;

	if ((fd = open_input(name)) == -1)
		return -1;
	if ((rd = audit_reader_new(fd, AUDIT_LINE_MAX)) == NULL) {
		close(fd);
		return -1;
	}
	while (rc == 0 && (n = audit_reader_next(rd, &line, &len,
	    &complete)) == 1) {
		lineno++;
		if (line == NULL)
			continue;
		switch (audit_verify_witness(v, line, len, bad,
		    sizeof(bad))) {
		case 0:
			kept++;
			break;
		case -1:
			printf("%s:%zu: witness: %s\n", name, lineno, bad);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && n == -1) {
		log_warn("%s", name);
		rc = -1;
	}
	if (rc == 0 && kept == 0) {
		printf("%s: witness: no checkpoint record in it\n", name);
		rc = -1;
	}
	audit_reader_free(rd);
	if (fd != STDIN_FILENO)
		close(fd);
	return rc;
}

static int
audit_verify_cmd(int argc, char **argv)
{
	struct audit_verify		*v;
	struct audit_verify_result	 r;
	struct audit_reader		*rd;
	struct progress			 pr;
	unsigned char			 pk[crypto_sign_PUBLICKEYBYTES];
	const char			*keyarg = NULL, *line;
	const char			*witness = NULL;
	struct audit_fss_public		 fss = { .epoch = 0 };
	static const struct option	 longopts[] = {
		{ "witness", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	size_t				 len;
	uint64_t			 base = 0;
	int				 ch, flags = 0, quiet = 0, force = 0;
	int				 i, fd, n, complete, stop = 0, rv;
	char				 msg[128];

	optind = 1;
	while ((ch = getopt_long(argc, argv, "ak:Pqw:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'a':
			flags |= AUDIT_VERIFY_MIDDLE;
			break;
		case 'w':
			witness = optarg;
			break;
		case 'k':
			keyarg = optarg;
			break;
		case 'P':
			force = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		goto usage;
	if (keyarg != NULL && pin_key(keyarg, pk, &fss) == -1)
		return EX_DATAERR;
	if ((v = audit_verify_new(keyarg != NULL && !fss.epoch ? pk : NULL,
	    flags)) == NULL) {
		log_warnx("out of memory");
		return EX_OSERR;
	}
	if (fss.epoch)
		audit_verify_pin_fss(v, &fss);
	if (witness != NULL && read_witness(v, witness) == -1) {
		audit_verify_free(v);
		return 1;
	}
	progress_init(&pr, force, 0, argv, argc);
	for (i = 0; i < argc && !stop; i++) {
		if ((fd = open_input(argv[i])) == -1) {
			audit_verify_free(v);
			return EX_NOINPUT;
		}
		if ((rd = audit_reader_new(fd, AUDIT_LINE_MAX)) == NULL) {
			log_warnx("out of memory");
			return EX_OSERR;
		}
		audit_verify_file(v, argv[i]);
		while (!stop && (n = audit_reader_next(rd, &line, &len,
		    &complete)) == 1) {
			if (line == NULL) {
				/* too long to be a record: say so as one */
				snprintf(msg, sizeof(msg), "line of %zu bytes",
				    len);
				stop = audit_verify_line(v, msg, strlen(msg),
				    complete);
			} else
				stop = audit_verify_line(v, line, len,
				    complete);
			pr.records++;
			pr.done = base + audit_reader_offset(rd);
			progress_draw(&pr, 0);
		}
		base += audit_reader_offset(rd);
		if (!stop && n == -1) {
			log_warn("%s", argv[i]);
			audit_reader_free(rd);
			audit_verify_free(v);
			return EX_IOERR;
		}
		audit_reader_free(rd);
		if (fd != STDIN_FILENO)
			close(fd);
	}
	progress_draw(&pr, 1);
	rv = audit_verify_finish(v, &r);
	audit_verify_free(v);
	if (rv == -1) {
		printf("%s:%zu: %s: %s\n", r.file, r.line, r.kind, r.message);
		return 1;
	}
	if (!quiet) {
		printf("intact: %" PRIu64 " records", r.records);
		if (r.records > 0)
			printf(", seq %" PRIu64 "..%" PRIu64, r.first_seq,
			    r.last_seq);
		printf(", %" PRIu64 " signed checkpoints", r.checkpoints);
		if (r.checkpoints > 0)
			printf(" (signed up to seq %" PRIu64 "%s)",
			    r.signed_seq, keyarg != NULL ?
			    ", with the given key" :
			    "; pass -k to pin the key");
		if (r.torn_sealed > 0)
			printf(", %" PRIu64 " torn line(s) sealed",
			    r.torn_sealed);
		if (witness != NULL)
			printf(", %" PRIu64 " checkpoint(s) matched by the "
			    "witness", r.witnessed);
		printf("\n");
		if (r.clean_end)
			printf("end: closed cleanly at %s\n", r.last_ts);
		else if (r.checkpoints > 0)
			printf("end: no stop record (modgated is running); "
			    "last sealed at %s, %" PRIu64 " record(s) after "
			    "that not signed yet\n", r.sealed_ts,
			    r.last_seq - r.signed_seq - 1);
		else
			printf("end: no stop record, and no checkpoint to seal "
			    "it (an unsigned log proves no end)\n");
		if (r.unclean > 0)
			printf("note: %" PRIu64 " start(s) after an unclean end "
			    "(a crash, kill -9, or records cut from the end)\n",
			    r.unclean);
	}
	return 0;
 usage:
	fprintf(stderr, "usage: modgate audit verify [-aPq] [-k pubkey] "
	    "[-w witness] file ...\n");
	return EX_USAGE;
}

/* show and query */

struct filter {
	int64_t		 since, until;	/* microseconds; -1: none */
	const char	*verdict, *policy, *rule, *category;
	const char	*id;		/* the request's id, as text */
	const char	*token;		/* meta.http_peer.token */
	long long	 uid;		/* -1: any */
	int		 any;		/* some filter beyond time is set */
};

static const char *
jstr(json_t *o, const char *k)
{
	json_t	*j = json_object_get(o, k);

	return json_is_string(j) ? json_string_value(j) : NULL;
}

/* Whether ID (a string, or other JSON as text) is WANT. */
static int
id_is(json_t *id, const char *want)
{
	char	*s;
	int	 same;

	if (id == NULL || json_is_null(id))
		return 0;
	if (json_is_string(id))
		return strcmp(json_string_value(id), want) == 0;
	if ((s = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT)) == NULL)
		return 0;
	same = strcmp(s, want) == 0;
	free(s);
	return same;
}

static int
filter_match(const struct filter *f, json_t *o)
{
	const char	*s;
	json_t		*a, *m;
	int64_t		 t;
	size_t		 i;
	int		 hit;

	if (f->since != -1 || f->until != -1) {
		if ((s = jstr(o, "ts")) == NULL || audit_ts_parse(s, &t) == -1)
			return 0;
		if ((f->since != -1 && t < f->since) ||
		    (f->until != -1 && t >= f->until))
			return 0;
	}
	if (!f->any)
		return 1;
	if (jstr(o, "event") != NULL)
		return 0;
	if (f->verdict != NULL && ((s = jstr(o, "verdict")) == NULL ||
	    strcmp(s, f->verdict) != 0))
		return 0;
	if (f->policy != NULL && ((s = jstr(o, "policy")) == NULL ||
	    strcmp(s, f->policy) != 0))
		return 0;
	if (f->uid != -1 && json_integer_value(json_object_get(
	    json_object_get(o, "peer"), "uid")) != f->uid)
		return 0;
	if (f->id != NULL && !id_is(json_object_get(o, "id"), f->id))
		return 0;
	if (f->token != NULL && ((s = jstr(json_object_get(json_object_get(o,
	    "meta"), "http_peer"), "token")) == NULL ||
	    strcmp(s, f->token) != 0))
		return 0;
	a = json_object_get(o, "matches");
	if (f->rule != NULL) {
		hit = 0;
		json_array_foreach(a, i, m)
			if ((s = jstr(m, "rule")) != NULL &&
			    fnmatch(f->rule, s, 0) == 0)
				hit = 1;
		if (!hit)
			return 0;
	}
	if (f->category != NULL) {
		hit = 0;
		json_array_foreach(a, i, m)
			if ((s = jstr(m, "category")) != NULL &&
			    strcmp(s, f->category) == 0)
				hit = 1;
		json_array_foreach(json_object_get(o, "flagged"), i, m)
			if (json_is_string(m) &&
			    strcmp(json_string_value(m), f->category) == 0)
				hit = 1;
		if (!hit)
			return 0;
	}
	return 1;
}

static void
show_record(json_t *o)
{
	json_t		*peer = json_object_get(o, "peer"), *m, *v, *id;
	const char	*ev = jstr(o, "event"), *k, *s;
	char		*ids;
	size_t		 i;

	printf("#%" PRId64 "  %s  ", (int64_t)json_integer_value(
	    json_object_get(o, "seq")), jstr(o, "ts") != NULL ?
	    jstr(o, "ts") : "?");
	if (ev != NULL) {
		printf("event %s", ev);
		json_object_foreach(o, k, v) {
			if (strcmp(k, "seq") == 0 || strcmp(k, "ts") == 0 ||
			    strcmp(k, "event") == 0 || strcmp(k, "prev") == 0 ||
			    strcmp(k, "sig") == 0)
				continue;
			ids = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			printf(" %s=%s", k, ids != NULL ? ids : "?");
			free(ids);
		}
		printf("\n");
		return;
	}
	if ((s = jstr(o, "verdict")) != NULL)
		printf("%s", s);
	else
		printf("error %s", jstr(json_object_get(o, "error"), "code") ?
		    jstr(json_object_get(o, "error"), "code") : "?");
	if ((s = jstr(o, "would_verdict")) != NULL)
		printf(" (would %s)", s);
	if (json_is_true(json_object_get(o, "degraded")))
		printf(" DEGRADED");
	printf("  policy %s", jstr(o, "policy") ? jstr(o, "policy") : "-");
	printf("  uid %" PRId64 " pid %" PRId64,
	    (int64_t)json_integer_value(json_object_get(peer, "uid")),
	    (int64_t)json_integer_value(json_object_get(peer, "pid")));
	id = json_object_get(o, "id");
	if (id != NULL && !json_is_null(id)) {
		ids = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
		printf("  id %s", ids != NULL ? ids : "?");
		free(ids);
	}
	printf("  %" PRId64 "us\n", (int64_t)json_integer_value(
	    json_object_get(o, "elapsed_us")));
	json_array_foreach(json_object_get(o, "matches"), i, m)
		printf("    rule %s (%s) %s%s at %" PRId64 "-%" PRId64 "\n",
		    jstr(m, "rule") ? jstr(m, "rule") : "?",
		    jstr(m, "category") ? jstr(m, "category") : "?",
		    jstr(m, "action") ? jstr(m, "action") : "?",
		    json_is_true(json_object_get(m, "monitor")) ?
		    " [monitor]" : "",
		    (int64_t)json_integer_value(json_object_get(m, "start")),
		    (int64_t)json_integer_value(json_object_get(m, "end")));
	if (json_object_size(json_object_get(o, "scores")) > 0) {
		printf("    scores");
		json_object_foreach(json_object_get(o, "scores"), k, v)
			printf(" %s=%.3f", k, json_number_value(v));
		printf("\n");
	}
	if ((s = jstr(o, "text")) != NULL)
		printf("    text (%s): %s\n", jstr(o, "text_mode") ?
		    jstr(o, "text_mode") : "?", s);
	if (!json_is_null(json_object_get(o, "meta")) &&
	    json_object_get(o, "meta") != NULL) {
		ids = json_dumps(json_object_get(o, "meta"), JSON_ENCODE_ANY |
		    JSON_COMPACT);
		printf("    meta %s\n", ids != NULL ? ids : "?");
		free(ids);
	}
}

/* S as a CSV field (RFC 4180): quoted when it holds , " CR or LF. */
static void
csv_field(const char *s, int last)
{
	if (s == NULL)
		s = "";
	if (strpbrk(s, ",\"\r\n") == NULL)
		fputs(s, stdout);
	else {
		putchar('"');
		for (; *s != '\0'; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	}
	putchar(last ? '\n' : ',');
}

/* A JSON value as text: strings as they are, others as JSON. */
static void
csv_value(json_t *v, int last)
{
	char	*s;

	if (v == NULL || json_is_null(v) || json_is_string(v)) {
		csv_field(json_string_value(v), last);
		return;
	}
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	csv_field(s, last);
	free(s);
}

/* The strings KEY of each object of array A (or A's strings), joined. */
static void
csv_list(json_t *a, const char *key, int last)
{
	json_t	*v;
	char	*buf = NULL;
	size_t	 i, len = 0;
	FILE	*mem;
	const char *s;

	if ((mem = open_memstream(&buf, &len)) == NULL) {
		csv_field("", last);
		return;
	}
	json_array_foreach(a, i, v) {
		s = json_string_value(key != NULL ? json_object_get(v, key) : v);
		if (s != NULL)
			fprintf(mem, "%s%s", ftell(mem) > 0 ? " " : "", s);
	}
	fclose(mem);
	csv_field(buf, last);
	free(buf);
}

#define CSV_HEADER	"seq,ts,event,id,uid,policy,policy_version,verdict," \
			"rules,flagged,degraded,elapsed_us"

/* One record as a CSV row of CSV_HEADER's columns. */
static void
csv_record(json_t *o)
{
	json_t	*peer = json_object_get(o, "peer");

	csv_value(json_object_get(o, "seq"), 0);
	csv_value(json_object_get(o, "ts"), 0);
	csv_value(json_object_get(o, "event"), 0);
	csv_value(json_object_get(o, "id"), 0);
	csv_value(json_object_get(peer, "uid"), 0);
	csv_value(json_object_get(o, "policy"), 0);
	csv_value(json_object_get(o, "policy_version"), 0);
	csv_value(json_object_get(o, "verdict"), 0);
	csv_list(json_object_get(o, "matches"), "rule", 0);
	csv_list(json_object_get(o, "flagged"), NULL, 0);
	csv_value(json_object_get(o, "degraded"), 0);
	csv_value(json_object_get(o, "elapsed_us"), 1);
}

/*
 * A time of --since/--until in microseconds since the epoch: RFC 3339,
 * "now", "today" or "yesterday" (midnight UTC), or -N with a unit s, m, h,
 * d or w (N units before now).
 */
static int
parse_time(const char *s, int64_t *us)
{
	static const struct { char unit; int64_t sec; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
		{ 'w', 7 * 86400 } };
	struct timespec	 ts;
	int64_t		 now, day;
	long long	 n;
	char		*end;
	size_t		 i;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	day = ((int64_t)ts.tv_sec - (int64_t)ts.tv_sec % 86400) * 1000000;
	if (strcmp(s, "now") == 0) {
		*us = now;
		return 0;
	}
	if (strcmp(s, "today") == 0 || strcmp(s, "yesterday") == 0) {
		*us = s[0] == 't' ? day : day - (int64_t)86400 * 1000000;
		return 0;
	}
	if (s[0] == '-' && s[1] >= '0' && s[1] <= '9') {
		errno = 0;
		n = strtoll(s + 1, &end, 10);
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (errno == 0 && end[0] == units[i].unit &&
			    end[1] == '\0' && n <= INT64_MAX / 1000000 /
			    units[i].sec) {
				*us = now - (int64_t)n * units[i].sec * 1000000;
				return 0;
			}
	} else if (audit_ts_parse(s, us) == 0)
		return 0;
	log_warnx("bad time \"%s\": use RFC 3339 (2026-11-27, "
	    "2026-11-27T11:00:00Z), now, today, yesterday, or -N with s, m, "
	    "h, d or w (-1h)", s);
	return -1;
}

static int
audit_read_cmd(int argc, char **argv, int human)
{
	static const struct option longopts[] = {
		{ "since",	required_argument, NULL, 's' },
		{ "until",	required_argument, NULL, 'u' },
		{ "verdict",	required_argument, NULL, 'v' },
		{ "policy",	required_argument, NULL, 'p' },
		{ "rule",	required_argument, NULL, 'r' },
		{ "category",	required_argument, NULL, 'c' },
		{ "uid",	required_argument, NULL, 'U' },
		{ "id",		required_argument, NULL, 'i' },
		{ "token",	required_argument, NULL, 't' },
		{ "progress",	no_argument, NULL, 'P' },
		{ "csv",	no_argument, NULL, 'C' },
		{ NULL,		0, NULL, 0 }
	};
	struct filter		 f;
	struct progress		 pr;
	struct audit_reader	*rd;
	const char		*line;
	static char		*stdin_only[] = { "-", NULL };
	char			**files, *end;
	size_t			 len;
	uint64_t		 base = 0, bad = 0;
	int			 ch, force = 0, i, nfiles, fd, n, complete;
	int			 rv = 0, csv = 0;
	json_t			*o;

	memset(&f, 0, sizeof(f));
	f.since = f.until = -1;
	f.uid = -1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "P", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (parse_time(optarg, &f.since) == -1)
				return EX_USAGE;
			break;
		case 'u':
			if (parse_time(optarg, &f.until) == -1)
				return EX_USAGE;
			break;
		case 'v':
			if (strcmp(optarg, "allow") != 0 &&
			    strcmp(optarg, "block") != 0 &&
			    strcmp(optarg, "rewrite") != 0) {
				log_warnx("--verdict: allow, block or rewrite");
				return EX_USAGE;
			}
			f.verdict = optarg;
			f.any = 1;
			break;
		case 'p':
			f.policy = optarg;
			f.any = 1;
			break;
		case 'r':
			f.rule = optarg;
			f.any = 1;
			break;
		case 'c':
			f.category = optarg;
			f.any = 1;
			break;
		case 'U':
			errno = 0;
			f.uid = strtoll(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    f.uid < 0 || f.uid > UINT32_MAX) {
				log_warnx("--uid: a number");
				return EX_USAGE;
			}
			f.any = 1;
			break;
		case 'i':
			f.id = optarg;
			f.any = 1;
			break;
		case 't':
			f.token = optarg;
			f.any = 1;
			break;
		case 'P':
			force = 1;
			break;
		case 'C':
			if (!human) {
				csv = 1;
				break;
			}
			/* FALLTHROUGH */
		default:
			fprintf(stderr, "usage: modgate audit %s [-P] "
			    "%s[--since T] [--until T] [--verdict V] "
			    "[--policy P] [--rule R] [--category C] [--uid N] "
			    "[--id ID] [--token NAME] [file ...]\n",
			    human ? "show" : "query", human ? "" : "[--csv] ");
			return EX_USAGE;
		}
	}
	if (csv)
		printf("%s\n", CSV_HEADER);
	files = argv + optind;
	nfiles = argc - optind;
	if (nfiles == 0) {
		files = stdin_only;
		nfiles = 1;
	}
	progress_init(&pr, force, 1, files, nfiles);
	for (i = 0; i < nfiles; i++) {
		if ((fd = open_input(files[i])) == -1) {
			rv = EX_NOINPUT;
			continue;
		}
		if ((rd = audit_reader_new(fd, AUDIT_LINE_MAX)) == NULL) {
			log_warnx("out of memory");
			return EX_OSERR;
		}
		while ((n = audit_reader_next(rd, &line, &len, &complete))
		    == 1) {
			pr.records++;
			pr.done = base + audit_reader_offset(rd);
			o = line != NULL ? json_loadb(line, len, 0, NULL) :
			    NULL;
			if (!json_is_object(o)) {
				if (bad++ < 10)
					log_warnx("%s: skipping a line that is "
					    "not a record (%zu bytes)",
					    files[i], len);
			} else if (filter_match(&f, o)) {
				pr.matched++;
				/* the bar comes back at the next redraw */
				if (pr.on && pr.drawn)
					fputs("\r\033[K", stderr);
				if (human)
					show_record(o);
				else if (csv)
					csv_record(o);
				else {
					fwrite(line, 1, len, stdout);
					putchar('\n');
				}
			}
			json_decref(o);
			progress_draw(&pr, 0);
		}
		if (n == -1) {
			log_warn("%s", files[i]);
			rv = EX_IOERR;
		}
		base += audit_reader_offset(rd);
		audit_reader_free(rd);
		if (fd != STDIN_FILENO)
			close(fd);
	}
	progress_draw(&pr, 1);
	if (fflush(stdout) == EOF && rv == 0)
		rv = EX_IOERR;
	if (bad > 0)
		log_warnx("%" PRIu64 " line(s) were not records; "
		    "`modgate audit verify` tells what is wrong", bad);
	return rv;
}

/* keygen */

/* Parse S as an integer from MIN to MAX into *OUT: NULL, or what is wrong. */
static const char *
number(const char *s, long long min, long long max, long long *out)
{
	char	*end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return "not a number";
	if (*out < min || *out > max)
		return "out of range";
	return NULL;
}

static int
audit_keygen_cmd(int argc, char **argv)
{
	struct audit_key	 k;
	const char		*pub = NULL, *errstr = NULL;
	char			*pubbuf = NULL, fsspub[AUDIT_FSS_PUB_SIZE];
	long long		 epoch = 86400, epochs = 4096;
	int			 ch, force = 0, plain = 0, rv;

	optind = 1;
	while ((ch = getopt(argc, argv, "e:fn:p:s")) != -1) {
		switch (ch) {
		case 'e':
			errstr = number(optarg, 1, 365LL * 86400, &epoch);
			break;
		case 'f':
			force = 1;
			break;
		case 'n':
			errstr = number(optarg, 2, 1LL << AUDIT_FSS_MAX_DEPTH,
			    &epochs);
			break;
		case 'p':
			pub = optarg;
			break;
		case 's':
			plain = 1;
			break;
		default:
			goto usage;
		}
		if (errstr != NULL) {
			fprintf(stderr, "modgate audit keygen: -%c %s: %s\n",
			    ch, optarg, errstr);
			return EX_USAGE;
		}
	}
	if (argc - optind != 1)
		goto usage;
	if (pub == NULL) {
		if (asprintf(&pubbuf, "%s.pub", argv[optind]) == -1)
			return EX_OSERR;
		pub = pubbuf;
	}
	if (plain) {
		rv = audit_key_generate(argv[optind], pub, force, &k);
		sodium_memzero(&k.sk, sizeof(k.sk));
		snprintf(fsspub, sizeof(fsspub), "%s", k.pubstr);
	} else {
		/* a power of two epochs, the first one starting now */
		while (epochs & (epochs - 1))
			epochs += epochs & -epochs;
		rv = audit_fss_generate(argv[optind], pub, force,
		    (int64_t)time(NULL), epoch, (uint32_t)epochs, fsspub);
	}
	if (rv == -1) {
		free(pubbuf);
		return EX_CANTCREAT;
	}
	printf("%s\n", fsspub);
	fprintf(stderr, "secret key: %s (mode 0600; audit.key in "
	    "modgated.conf)\npublic key: %s (for modgate audit verify -k)\n",
	    argv[optind], pub);
	if (!plain)
		fprintf(stderr, "forward-secure: %lld epochs of %lld s; the "
		    "daemon rewrites the secret file at each epoch, so its "
		    "directory must be writable by it\n", epochs, epoch);
	free(pubbuf);
	return 0;
 usage:
	fprintf(stderr, "usage: modgate audit keygen [-fs] [-e seconds] "
	    "[-n epochs] [-p pubfile] secretfile\n");
	return EX_USAGE;
}

/* hmac: the text_hmac of a text (the argument, or all of stdin). */

static int
audit_hmac_cmd(int argc, char **argv)
{
	unsigned char	 key[AUDIT_HMAC_KEY_SIZE];
	char		 hex[AUDIT_HMAC_HEX_SIZE], *buf = NULL, *nb;
	const char	*keyfile = NULL;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;
	int		 ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "K:")) != -1) {
		switch (ch) {
		case 'K':
			keyfile = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (keyfile == NULL || argc - optind > 1)
		goto usage;
	if (audit_hmac_key_load(keyfile, 0, key) == -1)
		return EX_DATAERR;
	if (argc - optind == 1)
		audit_hmac_hex(key, argv[optind], strlen(argv[optind]), hex);
	else {
		for (;;) {
			if (len == cap) {
				cap = cap ? cap * 2 : 65536;
				if ((nb = realloc(buf, cap)) == NULL) {
					free(buf);
					sodium_memzero(key, sizeof(key));
					return EX_OSERR;
				}
				buf = nb;
			}
			if ((n = read(STDIN_FILENO, buf + len, cap - len)) <= 0) {
				if (n == -1 && errno == EINTR)
					continue;
				break;
			}
			len += (size_t)n;
		}
		audit_hmac_hex(key, buf != NULL ? buf : "", len, hex);
		free(buf);
		if (n == -1) {
			log_warn("stdin");
			sodium_memzero(key, sizeof(key));
			return EX_IOERR;
		}
	}
	sodium_memzero(key, sizeof(key));
	printf("%s\n", hex);
	return 0;
 usage:
	fprintf(stderr, "usage: modgate audit hmac -K hmackeyfile [text]\n");
	return EX_USAGE;
}

void
cmd_audit_usage(FILE *fp)
{
	fprintf(fp, "usage: modgate audit verify [-aPq] [-k pubkey] "
	    "[-w witness] file ...\n"
	    "       modgate audit show [-P] [filters] [file ...]\n"
	    "       modgate audit query [-P] [--csv] [filters] [file ...]\n"
	    "       modgate audit keygen [-fs] [-e seconds] [-n epochs] "
	    "[-p pubfile] secretfile\n"
	    "       modgate audit hmac -K hmackeyfile [text]\n"
	    "filters: --since T --until T --verdict V --policy P --rule GLOB "
	    "--category C --uid N --id ID --token NAME\n");
}

int
cmd_audit(int argc, char **argv)
{
	if (argc >= 2) {
		if (strcmp(argv[1], "verify") == 0)
			return audit_verify_cmd(argc - 1, argv + 1);
		if (strcmp(argv[1], "show") == 0)
			return audit_read_cmd(argc - 1, argv + 1, 1);
		if (strcmp(argv[1], "query") == 0)
			return audit_read_cmd(argc - 1, argv + 1, 0);
		if (strcmp(argv[1], "keygen") == 0)
			return audit_keygen_cmd(argc - 1, argv + 1);
		if (strcmp(argv[1], "hmac") == 0)
			return audit_hmac_cmd(argc - 1, argv + 1);
	}
	cmd_audit_usage(stderr);
	return EX_USAGE;
}
