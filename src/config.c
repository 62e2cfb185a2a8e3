/*
 * config: modgated.conf parsed into struct config.  See include/config.h.
 *
 * Every option is one row of the options table below (tmux style): section,
 * name, type, range, default and help.  Parsing walks the settings of the
 * file and looks each one up in the table, so an unknown key, a wrong type
 * or a value out of range is reported with the line it came from, and
 * parsing goes on to report every other error of the file in the same run.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "config.h"
#include "log.h"

enum opt_type {
	OPT_BOOL,	/* true | false */
	OPT_INT,	/* int within [min, max] */
	OPT_INT64,	/* int64_t within [min, max] */
	OPT_DOUBLE,	/* double within [min, max] */
	OPT_STRING,
	OPT_PATH,	/* string, relative paths resolved against the file */
	OPT_ENUM,	/* string, one of choices, stored as its index */
	OPT_MODE,	/* octal string "0660", permission bits */
	OPT_UIDS,	/* list of uids (numbers or user names) */
	OPT_GIDS,	/* list of gids (numbers or group names) */
	OPT_PATHS,	/* list of paths */
	OPT_STRINGS,	/* list of strings */
	OPT_STAGES,	/* list of stage names: "rules", "classifier" */
	OPT_CATEGORIES,	/* group of category groups (rows of SEC_CATEGORY) */
	OPT_PEERS,	/* list of peer groups (rows of SEC_PEER) */
	OPT_ID,		/* a uid or gid inside a peer group */
};

enum section { SEC_SERVER, SEC_RULES, SEC_CLASSIFIER, SEC_AUDIT, SEC_HTTP,
    SEC_PROXY, SEC_POLICY, SEC_CATEGORY, SEC_PEER, SEC_COUNT };

static const char *const section_names[SEC_COUNT] = {
	"server", "rules", "classifier", "audit", "http", "proxy",
	"policies.NAME", "policies.NAME.categories.LABEL",
	"server.peer_policies[]"
};

static const char *const type_names[] = {
	"bool", "int", "int64", "float", "string", "path", "enum", "mode",
	"uid list", "gid list", "path list", "string list", "stage list",
	"group", "list of groups", "id"
};

static const char *const text_modes[] = { "none", "hash", "redacted",
    "full", NULL };
static const char *const fsync_modes[] = { "always", "interval", "never",
    NULL };
static const char *const failure_modes[] = { "block", "allow", "refuse",
    NULL };
static const char *const on_error_modes[] = { "allow", "block", NULL };
static const char *const scopes[] = { "sentence", "all", NULL };

struct option {
	enum section	 sec;
	const char	*name;
	enum opt_type	 type;
	double		 min, max;
	const char	*def;		/* default, as written in the file */
	const char *const *choices;	/* OPT_ENUM */
	size_t		 off;		/* offset in the section's struct */
	size_t		 count_off;	/* lists: offset of the size_t count */
	size_t		 max_n;		/* lists: capacity */
	const char	*help;
};

#define S(f)	offsetof(struct server_conf, f)
#define R(f)	offsetof(struct rules_conf, f)
#define C(f)	offsetof(struct classifier_conf, f)
#define A(f)	offsetof(struct audit_conf, f)
#define H(f)	offsetof(struct http_conf, f)
#define X(f)	offsetof(struct proxy_conf, f)
#define P(f)	offsetof(struct policy_conf, f)
#define T(f)	offsetof(struct category_threshold, f)
#define LIST(f, cnt, n, st)	offsetof(st, f), offsetof(st, cnt), n

static const struct option options[] = {
	{ SEC_SERVER, "socket", OPT_PATH, 0, 0, "/run/modgate/modgated.sock",
	  NULL, S(socket), 0, 0,
	  "Unix socket clients connect to (modgated -s overrides)" },
	{ SEC_SERVER, "socket_mode", OPT_MODE, 0, 0777, "0660", NULL,
	  S(socket_mode), 0, 0, "permission bits of the socket: 0660 or \"0660\" (octal)" },
	{ SEC_SERVER, "socket_group", OPT_STRING, 0, 0, "", NULL,
	  S(socket_group), 0, 0,
	  "group owning the socket; empty: the daemon's primary group" },
	{ SEC_SERVER, "allowed_uids", OPT_UIDS, 0, CONFIG_MAX_IDS, "[]", NULL,
	  LIST(allowed_uids, n_allowed_uids, CONFIG_MAX_IDS, struct server_conf),
	  "peers allowed by uid (SO_PEERCRED); both lists empty: everybody" },
	{ SEC_SERVER, "allowed_gids", OPT_GIDS, 0, CONFIG_MAX_IDS, "[]", NULL,
	  LIST(allowed_gids, n_allowed_gids, CONFIG_MAX_IDS, struct server_conf),
	  "peers allowed by gid, primary or supplementary (SO_PEERGROUPS)" },
	{ SEC_SERVER, "admin_uids", OPT_UIDS, 0, CONFIG_MAX_IDS, "[]", NULL,
	  LIST(admin_uids, n_admin_uids, CONFIG_MAX_IDS, struct server_conf),
	  "uids allowed to send op reload, besides root and the daemon's uid" },
	{ SEC_SERVER, "max_connections", OPT_INT, 1, 65536, "1024", NULL,
	  S(max_connections), 0, 0, "connections open at once" },
	{ SEC_SERVER, "max_connections_per_uid", OPT_INT, 0, 65536, "64",
	  NULL, S(max_connections_per_uid), 0, 0,
	  "connections open at once by one uid; 0: no cap" },
	{ SEC_SERVER, "max_request_bytes", OPT_INT, 64, 16777216, "1048576",
	  NULL, S(max_request_bytes), 0, 0,
	  "longest request line, newline excluded; longer: too_large" },
	{ SEC_SERVER, "idle_timeout", OPT_INT, 0, 86400, "300", NULL,
	  S(idle_timeout), 0, 0,
	  "seconds a connection with nothing pending may stay silent; 0: "
	  "no limit" },
	{ SEC_SERVER, "request_timeout", OPT_INT, 0, 600000, "5000", NULL,
	  S(request_timeout), 0, 0,
	  "milliseconds from a request's arrival to its answer, then "
	  "timeout; 0: no limit" },
	{ SEC_SERVER, "workers", OPT_INT, 0, 256, "0", NULL, S(workers), 0, 0,
	  "worker threads running the pipeline; 0: one per online CPU" },
	{ SEC_SERVER, "queue_max", OPT_INT, 1, 1048576, "1024", NULL,
	  S(queue_max), 0, 0,
	  "requests waiting for a worker; beyond: overloaded" },
	{ SEC_SERVER, "inline_max_bytes", OPT_INT, 0, 16777216, "4096", NULL,
	  S(inline_max_bytes), 0, 0,
	  "longest text of a request whose policy runs no classifier that "
	  "is run on the connection's thread, not a worker; 0: none" },
	{ SEC_SERVER, "stream_max", OPT_INT, 1, 1048576, "256", NULL,
	  S(stream_max), 0, 0, "streams open at once (stream_open); beyond: "
	  "overloaded" },
	{ SEC_SERVER, "stream_max_bytes", OPT_INT, 64, 16777216, "1048576",
	  NULL, S(stream_max_bytes), 0, 0,
	  "text of one stream; a longer append: too_large" },
	{ SEC_SERVER, "stream_holdback", OPT_INT, 16, 65536, "256", NULL,
	  S(stream_holdback), 0, 0, "bytes a rule match may span when "
	  "streaming: at most twice this is held back" },
	{ SEC_SERVER, "default_policy", OPT_STRING, 0, 0, "default", NULL,
	  S(default_policy), 0, 0,
	  "policy of requests that name none and match no peer_policies" },
	{ SEC_SERVER, "peer_policies", OPT_PEERS, 0, CONFIG_MAX_PEER_POLICIES,
	  "()", NULL, 0, 0, 0,
	  "default policy per peer: ( { uid = N; policy = \"x\"; }, "
	  "{ gid = N; policy = \"y\"; } ); uid entries win over gid" },

	{ SEC_PEER, "uid", OPT_ID, 0, 4294967294.0, NULL, NULL, 0, 0, 0,
	  "peer uid (a number or a user name); exactly one of uid, gid" },
	{ SEC_PEER, "gid", OPT_ID, 0, 4294967294.0, NULL, NULL, 0, 0, 0,
	  "peer primary gid (a number or a group name)" },
	{ SEC_PEER, "policy", OPT_STRING, 0, 0, NULL, NULL, 0, 0, 0,
	  "name of a policy in policies" },

	{ SEC_RULES, "paths", OPT_PATHS, 0, CONFIG_MAX_PATHS,
	  "[\"rules/*.rules\"]", NULL,
	  LIST(paths, n_paths, CONFIG_MAX_PATHS, struct rules_conf),
	  "rule files, directories or globs" },
	{ SEC_RULES, "match_limit", OPT_INT, 1000, 100000000, "1000000", NULL,
	  R(match_limit), 0, 0, "PCRE2 match limit per rule and text" },
	{ SEC_RULES, "depth_limit", OPT_INT, 100, 10000000, "10000", NULL,
	  R(depth_limit), 0, 0, "PCRE2 depth limit per rule and text" },
	{ SEC_RULES, "cache_dir", OPT_PATH, 0, 0, "", NULL, R(cache_dir), 0, 0,
	  "directory for the compiled rule database; empty: no cache" },
	{ SEC_RULES, "allow_empty", OPT_BOOL, 0, 1, "false", NULL,
	  R(allow_empty), 0, 0, "paths may match no file and load no rule "
	  "(otherwise an error at start and on reload)" },

	{ SEC_CLASSIFIER, "enabled", OPT_BOOL, 0, 1, "true", NULL,
	  C(enabled), 0, 0, "load the model and run the classifier stage" },
	{ SEC_CLASSIFIER, "model", OPT_PATH, 0, 0,
	  DATADIR "/modgate/models/default", NULL, C(model), 0, 0,
	  "model directory (config.json, model.safetensors, tokenizer)" },
	{ SEC_CLASSIFIER, "window", OPT_INT, 16, 4096, "256", NULL, C(window),
	  0, 0, "tokens per window, at most the model's max_positions" },
	{ SEC_CLASSIFIER, "stride", OPT_INT, 1, 4096, "128", NULL, C(stride),
	  0, 0, "tokens between window starts; at most window" },
	{ SEC_CLASSIFIER, "batch_max", OPT_INT, 1, 256, "16", NULL,
	  C(batch_max), 0, 0, "windows per forward pass" },
	{ SEC_CLASSIFIER, "batch_wait_us", OPT_INT, 0, 100000, "0", NULL,
	  C(batch_wait_us), 0, 0,
	  "microseconds to wait for a batch to fill" },
	{ SEC_CLASSIFIER, "threads", OPT_INT, 1, 64, "1", NULL, C(threads),
	  0, 0, "BLAS threads per forward pass" },

	{ SEC_AUDIT, "enabled", OPT_BOOL, 0, 1, "true", NULL, A(enabled), 0, 0,
	  "write the audit log" },
	{ SEC_AUDIT, "path", OPT_PATH, 0, 0, "/var/log/modgate/audit.jsonl",
	  NULL, A(path), 0, 0, "audit log file (JSON Lines)" },
	{ SEC_AUDIT, "text", OPT_ENUM, 0, 0, "hash", text_modes, A(text), 0, 0,
	  "request text in records: none, hash, redacted or full" },
	{ SEC_AUDIT, "fsync", OPT_ENUM, 0, 0, "interval", fsync_modes,
	  A(fsync), 0, 0, "when records reach the disk: always, interval, never" },
	{ SEC_AUDIT, "fsync_interval_ms", OPT_INT, 1, 60000, "1000", NULL,
	  A(fsync_interval_ms), 0, 0, "milliseconds between fsyncs (interval)" },
	{ SEC_AUDIT, "on_failure", OPT_ENUM, 0, 0, "block", failure_modes,
	  A(on_failure), 0, 0,
	  "answer when a record cannot be written: block, allow, refuse" },
	{ SEC_AUDIT, "key", OPT_PATH, 0, 0, "", NULL, A(key), 0, 0,
	  "Ed25519 secret key file signing checkpoints; empty: unsigned" },
	{ SEC_AUDIT, "checkpoint_every", OPT_INT, 1, 1000000, "1000", NULL,
	  A(checkpoint_every), 0, 0, "records between signed checkpoints" },
	{ SEC_AUDIT, "checkpoint_seconds", OPT_INT, 0, 86400, "300", NULL,
	  A(checkpoint_seconds), 0, 0, "seconds between signed checkpoints "
	  "at most, written even when idle; 0: only by records" },
	{ SEC_AUDIT, "rotate_bytes", OPT_INT64, 0, 1e15, "0", NULL,
	  A(rotate_bytes), 0, 0, "rotate the log past this size; 0: never" },
	{ SEC_AUDIT, "syslog", OPT_BOOL, 0, 1, "false", NULL, A(syslog), 0, 0,
	  "also send each record to syslog" },
	{ SEC_AUDIT, "hmac_key", OPT_PATH, 0, 0, "", NULL, A(hmac_key), 0, 0,
	  "secret of text_hmac, created when missing; empty: PATH.hmac-key" },
	{ SEC_AUDIT, "meta_max_bytes", OPT_INT, 0, 1048576, "4096", NULL,
	  A(meta_max_bytes), 0, 0, "largest meta kept in a record (compact "
	  "JSON); larger is dropped; 0: meta never kept" },
	{ SEC_AUDIT, "meta_redact", OPT_STRINGS, 0, CONFIG_MAX_REDACT, "[]",
	  NULL, LIST(meta_redact, n_meta_redact, CONFIG_MAX_REDACT,
	      struct audit_conf),
	  "meta keys, at any depth, whose values are kept as \"[redacted]\"" },
	{ SEC_AUDIT, "retain_days", OPT_INT, 0, 36500, "0", NULL,
	  A(retain_days), 0, 0, "rotated files older than this many days are "
	  "removed; 0: kept for ever" },

	{ SEC_HTTP, "enabled", OPT_BOOL, 0, 1, "false", NULL, H(enabled), 0, 0,
	  "run the HTTP listener" },
	{ SEC_HTTP, "listen", OPT_STRING, 0, 0, "127.0.0.1:8080", NULL,
	  H(listen), 0, 0, "\"ADDRESS:PORT\" or \"unix:/path\"" },
	{ SEC_HTTP, "tokens_file", OPT_PATH, 0, 0, "", NULL, H(tokens_file),
	  0, 0, "bearer tokens, one a line; required for TCP" },
	{ SEC_HTTP, "max_body_bytes", OPT_INT, 64, 16777216, "1048576", NULL,
	  H(max_body_bytes), 0, 0, "largest request body" },
	{ SEC_HTTP, "timeout", OPT_INT, 1, 3600, "30", NULL, H(timeout), 0, 0,
	  "seconds a connection may stay silent while reading or writing" },

	{ SEC_PROXY, "upstream", OPT_STRING, 0, 0, NULL, NULL, X(upstream),
	  0, 0, "base URL of the OpenAI-compatible chat server, "
	  "\"http://HOST:PORT/v1\"" },
	{ SEC_PROXY, "connect_timeout", OPT_INT, 1, 600000, "5000", NULL,
	  X(connect_timeout), 0, 0,
	  "milliseconds to connect to the upstream, then 504" },
	{ SEC_PROXY, "timeout", OPT_INT, 1, 3600000, "60000", NULL,
	  X(timeout), 0, 0,
	  "milliseconds from sending to the upstream to its whole answer, "
	  "then 504" },
	{ SEC_PROXY, "key_file", OPT_PATH, 0, 0, "", NULL, X(key_file), 0, 0,
	  "file holding the upstream's API key, sent as a bearer token; "
	  "empty: none" },
	{ SEC_PROXY, "moderate_input", OPT_BOOL, 0, 1, "false", NULL,
	  X(moderate_input), 0, 0,
	  "check the last user message before calling the upstream" },
	{ SEC_PROXY, "max_concurrent", OPT_INT, 1, 65536, "64", NULL,
	  X(max_concurrent), 0, 0,
	  "upstream requests in flight at once; beyond: overloaded" },

	{ SEC_POLICY, "name", OPT_STRING, 0, 0, NULL, NULL, P(name), 0, 0,
	  "the policy's name, in the list form policies = ( { name = "
	  "\"x\"; ... } ); the group form names it by the group" },
	{ SEC_POLICY, "message", OPT_STRING, 0, 0,
	  "This content was blocked.", NULL,
	  P(message), 0, 0, "refusal text of a block answer" },
	{ SEC_POLICY, "rewrite_text", OPT_STRING, 0, 0, "[removed]", NULL,
	  P(rewrite_text), 0, 0,
	  "replaces text the classifier flags for rewrite, and rule hits "
	  "rewritten by rewrite_rule_categories without a template" },
	{ SEC_POLICY, "rewrite_scope", OPT_ENUM, 0, 0, "sentence", scopes,
	  P(rewrite_scope), 0, 0,
	  "classifier rewrites replace the flagged sentence or all the text" },
	{ SEC_POLICY, "on_error", OPT_ENUM, 0, 0, "block", on_error_modes,
	  P(on_error), 0, 0, "verdict when a stage fails: allow or block" },
	{ SEC_POLICY, "stages", OPT_STAGES, 0, 2,
	  "[\"rules\", \"classifier\"]", NULL, 0, 0, 0,
	  "stages that run: \"rules\", \"classifier\"" },
	{ SEC_POLICY, "monitor", OPT_BOOL, 0, 1, "false", NULL, P(monitor), 0, 0,
	  "shadow mode: record would_verdict, always answer allow" },
	{ SEC_POLICY, "audit_text", OPT_ENUM, 0, 0, "(audit.text)", text_modes,
	  P(audit_text), 0, 0, "overrides audit.text for this policy" },
	{ SEC_POLICY, "categories", OPT_CATEGORIES, 0, CONFIG_MAX_CATEGORIES,
	  "{}", NULL, 0, 0, 0,
	  "classifier thresholds: { LABEL = { block = X; rewrite = Y; }; }" },
	{ SEC_POLICY, "block_rule_categories", OPT_STRINGS, 0,
	  CONFIG_MAX_CATEGORIES, "[]", NULL,
	  LIST(block_rule_categories, n_block_rule_categories,
	      CONFIG_MAX_CATEGORIES, struct policy_conf),
	  "rule categories that block whatever the rule's action" },
	{ SEC_POLICY, "rewrite_rule_categories", OPT_STRINGS, 0,
	  CONFIG_MAX_CATEGORIES, "[]", NULL,
	  LIST(rewrite_rule_categories, n_rewrite_rule_categories,
	      CONFIG_MAX_CATEGORIES, struct policy_conf),
	  "rule categories that rewrite whatever the rule's action" },
	{ SEC_POLICY, "flag_rule_categories", OPT_STRINGS, 0,
	  CONFIG_MAX_CATEGORIES, "[]", NULL,
	  LIST(flag_rule_categories, n_flag_rule_categories,
	      CONFIG_MAX_CATEGORIES, struct policy_conf),
	  "rule categories that only flag whatever the rule's action" },

	{ SEC_CATEGORY, "block", OPT_DOUBLE, 0, 2, "2", NULL, T(block), 0, 0,
	  "score at or above which the text is blocked; above 1: never" },
	{ SEC_CATEGORY, "rewrite", OPT_DOUBLE, 0, 2, "2", NULL, T(rewrite),
	  0, 0, "score at or above which the text is rewritten; above 1: never" },
};

#define NOPTIONS	(sizeof(options) / sizeof(options[0]))

static const char *const top_sections[] = { "server", "rules", "classifier",
    "audit", "http", "proxy", "policies", NULL };

#define CONFIG_MAX_ERRORS	200	/* reported; more are counted */

/* One error, kept so that all of them print in file and line order. */
struct cfg_err {
	const char	*file;		/* owned by the libconfig tree */
	int		 line;
	int		 seq;
	char		 msg[512];
};

struct ctx {
	const char	*file;
	const char	*dir;
	int		 errors;
	struct cfg_err	*errv;		/* CONFIG_MAX_ERRORS entries */
};

static void
cfg_error(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cfg_error(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	char		 msg[512];
	const char	*file = x->file;
	int		 line = 0;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s != NULL) {
		if (config_setting_source_file(s) != NULL)
			file = config_setting_source_file(s);
		line = config_setting_source_line(s);
	}
	if (x->errv != NULL && x->errors < CONFIG_MAX_ERRORS) {
		x->errv[x->errors].file = file;
		x->errv[x->errors].line = line;
		x->errv[x->errors].seq = x->errors;
		snprintf(x->errv[x->errors].msg, sizeof(x->errv[0].msg), "%s",
		    msg);
	} else if (x->errv == NULL)
		log_warnx("%s:%d: %s", file, line, msg);
	x->errors++;
}

static int
cfg_err_cmp(const void *a, const void *b)
{
	const struct cfg_err	*e = a, *f = b;
	int			 c;

	if ((c = strcmp(e->file, f->file)) != 0)
		return c;
	if (e->line != f->line)
		return e->line < f->line ? -1 : 1;
	return e->seq < f->seq ? -1 : e->seq > f->seq;
}

/* Print the errors of X in file and line order. */
static void
cfg_errors_print(struct ctx *x)
{
	int	 i, n;

	if (x->errv == NULL)
		return;
	n = x->errors < CONFIG_MAX_ERRORS ? x->errors : CONFIG_MAX_ERRORS;
	qsort(x->errv, (size_t)n, sizeof(*x->errv), cfg_err_cmp);
	for (i = 0; i < n; i++)
		log_warnx("%s:%d: %s", x->errv[i].file, x->errv[i].line,
		    x->errv[i].msg);
	if (x->errors > n)
		log_warnx("%s: %d more errors", x->file, x->errors - n);
}

static const struct option *
option_find(enum section sec, const char *name)
{
	size_t	 i;

	for (i = 0; i < NOPTIONS; i++)
		if (options[i].sec == sec && strcmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

/* A malloc'd copy of PATH, resolved against the config directory. */
static char *
path_resolve(struct ctx *x, const char *path)
{
	char	*s;

	if (path[0] == '/' || path[0] == '\0' || x->dir == NULL)
		return strdup(path);
	if (asprintf(&s, "%s/%s", x->dir, path) == -1)
		return NULL;
	return s;
}

/* Full name of setting S for messages: "server.socket". */
static const char *
setting_path(const config_setting_t *s, char *buf, size_t len)
{
	const char	*parts[16];
	size_t		 n = 0, off = 0;
	int		 w;

	for (; s != NULL && n < 16; s = config_setting_parent(s)) {
		if (config_setting_parent(s) == NULL)
			break;
		parts[n++] = config_setting_name(s) != NULL ?
		    config_setting_name(s) : "[]";
	}
	buf[0] = '\0';
	while (n > 0 && off < len) {
		n--;
		w = snprintf(buf + off, len - off, "%s%s",
		    off > 0 && strcmp(parts[n], "[]") != 0 ? "." : "", parts[n]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}

static int
setting_number(const config_setting_t *s, double *v, int integral)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		*v = config_setting_get_int(s);
		return 0;
	case CONFIG_TYPE_INT64:
		*v = (double)config_setting_get_int64(s);
		return 0;
	case CONFIG_TYPE_FLOAT:
		if (integral)
			return -1;
		*v = config_setting_get_float(s);
		return 0;
	default:
		return -1;
	}
}

static void
set_string(char **dst, char *v)
{
	free(*dst);
	*dst = v;
}

/* A uid or gid from a number or a name; -1 after reporting. */
static int
parse_id(struct ctx *x, const config_setting_t *s, int group, unsigned int *id)
{
	char		 name[128];
	const char	*str;
	double		 v;
	struct passwd	*pw;
	struct group	*gr;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		str = config_setting_get_string(s);
		if (group) {
			if ((gr = getgrnam(str)) == NULL) {
				cfg_error(x, s, "%s: unknown group \"%s\"",
				    setting_path(s, name, sizeof(name)), str);
				return -1;
			}
			*id = gr->gr_gid;
		} else {
			if ((pw = getpwnam(str)) == NULL) {
				cfg_error(x, s, "%s: unknown user \"%s\"",
				    setting_path(s, name, sizeof(name)), str);
				return -1;
			}
			*id = pw->pw_uid;
		}
		return 0;
	}
	if (setting_number(s, &v, 1) == -1) {
		cfg_error(x, s, "%s: expected a %s number or name",
		    setting_path(s, name, sizeof(name)), group ? "gid" : "uid");
		return -1;
	}
	if (v < 0 || v > 4294967294.0) {
		cfg_error(x, s, "%s: %s %.0f out of range",
		    setting_path(s, name, sizeof(name)), group ? "gid" : "uid", v);
		return -1;
	}
	*id = (unsigned int)v;
	return 0;
}

static int
is_list(const config_setting_t *s)
{
	return config_setting_is_array(s) || config_setting_is_list(s);
}

/* Parse the list S of row O into BASE. */
static void
parse_list(struct ctx *x, const struct option *o, const config_setting_t *s,
    char *base)
{
	char			 name[128];
	const config_setting_t	*e;
	size_t			*count = (size_t *)(base + o->count_off);
	unsigned int		 id;
	int			 i, n;
	char			*v;

	setting_path(s, name, sizeof(name));
	if (!is_list(s)) {
		cfg_error(x, s, "%s: expected a list [ ... ]", name);
		return;
	}
	n = config_setting_length(s);
	if ((size_t)n > o->max_n) {
		cfg_error(x, s, "%s: %d entries, at most %zu", name, n, o->max_n);
		return;
	}
	/* Replace the default list. */
	if (o->type == OPT_PATHS || o->type == OPT_STRINGS) {
		for (i = 0; (size_t)i < *count; i++)
			free(((char **)(base + o->off))[i]);
	}
	*count = 0;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		switch (o->type) {
		case OPT_UIDS:
		case OPT_GIDS:
			if (parse_id(x, e, o->type == OPT_GIDS, &id) == -1)
				continue;
			if (o->type == OPT_UIDS)
				((uid_t *)(base + o->off))[(*count)++] = id;
			else
				((gid_t *)(base + o->off))[(*count)++] = id;
			break;
		case OPT_PATHS:
		case OPT_STRINGS:
			if (config_setting_type(e) != CONFIG_TYPE_STRING) {
				cfg_error(x, e, "%s: expected a list of strings",
				    name);
				continue;
			}
			if (config_setting_get_string(e)[0] == '\0') {
				cfg_error(x, e, "%s: empty string", name);
				continue;
			}
			v = o->type == OPT_PATHS ?
			    path_resolve(x, config_setting_get_string(e)) :
			    strdup(config_setting_get_string(e));
			if (v == NULL) {
				cfg_error(x, e, "out of memory");
				continue;
			}
			((char **)(base + o->off))[(*count)++] = v;
			break;
		default:
			break;
		}
	}
}

static void
parse_stages(struct ctx *x, const config_setting_t *s, struct policy_conf *p)
{
	char			 name[128];
	const config_setting_t	*e;
	const char		*v;
	int			 i, n;

	setting_path(s, name, sizeof(name));
	if (!is_list(s)) {
		cfg_error(x, s, "%s: expected a list [ ... ]", name);
		return;
	}
	p->stage_rules = p->stage_classifier = 0;
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cfg_error(x, e, "%s: expected stage names", name);
			continue;
		}
		v = config_setting_get_string(e);
		if (strcmp(v, "rules") == 0)
			p->stage_rules = 1;
		else if (strcmp(v, "classifier") == 0)
			p->stage_classifier = 1;
		else
			cfg_error(x, e, "%s: unknown stage \"%s\" (rules, "
			    "classifier)", name, v);
	}
}

static void
parse_value(struct ctx *x, const struct option *o, const config_setting_t *s,
    char *base)
{
	char		 name[128], digits[32];
	const char	*str, *const *c;
	char		*end, *v;
	double		 d;
	long		 mode;

	setting_path(s, name, sizeof(name));
	switch (o->type) {
	case OPT_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			cfg_error(x, s, "%s: expected true or false", name);
			return;
		}
		*(int *)(base + o->off) = config_setting_get_bool(s);
		return;
	case OPT_INT:
	case OPT_INT64:
	case OPT_DOUBLE:
		if (setting_number(s, &d, o->type != OPT_DOUBLE) == -1) {
			cfg_error(x, s, "%s: expected %s", name,
			    o->type == OPT_DOUBLE ? "a number" : "an integer");
			return;
		}
		if (isnan(d) || d < o->min || d > o->max) {
			if (o->type == OPT_DOUBLE)
				cfg_error(x, s, "%s: %g out of range [%g, %g]",
				    name, d, o->min, o->max);
			else
				cfg_error(x, s, "%s: %.0f out of range "
				    "[%.0f, %.0f]", name, d, o->min, o->max);
			return;
		}
		if (o->type == OPT_INT)
			*(int *)(base + o->off) = (int)d;
		else if (o->type == OPT_INT64)
			*(int64_t *)(base + o->off) = config_setting_type(s) ==
			    CONFIG_TYPE_INT64 ? config_setting_get_int64(s) :
			    (int64_t)d;
		else
			*(double *)(base + o->off) = d;
		return;
	case OPT_MODE:
		if (config_setting_type(s) == CONFIG_TYPE_INT) {
			/*
			 * libconfig reads 0660 as decimal 660: take its
			 * decimal digits as the octal digits they were.
			 */
			snprintf(digits, sizeof(digits), "%d",
			    config_setting_get_int(s));
			if (strspn(digits, "01234567") != strlen(digits)) {
				cfg_error(x, s, "%s: %s is not an octal mode "
				    "such as 0660", name, digits);
				return;
			}
			str = digits;
			break;
		}
		/* FALLTHROUGH */
	case OPT_STRING:
	case OPT_PATH:
	case OPT_ENUM:
		if (config_setting_type(s) != CONFIG_TYPE_STRING) {
			cfg_error(x, s, "%s: expected a string", name);
			return;
		}
		str = config_setting_get_string(s);
		break;
	case OPT_UIDS:
	case OPT_GIDS:
	case OPT_PATHS:
	case OPT_STRINGS:
		parse_list(x, o, s, base);
		return;
	default:
		return;		/* groups: parsed by their callers */
	}

	switch (o->type) {
	case OPT_STRING:
	case OPT_PATH:
		v = o->type == OPT_PATH ? path_resolve(x, str) : strdup(str);
		if (v == NULL)
			cfg_error(x, s, "out of memory");
		else
			set_string((char **)(base + o->off), v);
		return;
	case OPT_ENUM:
		for (c = o->choices; *c != NULL; c++)
			if (strcmp(*c, str) == 0) {
				*(int *)(base + o->off) = (int)(c - o->choices);
				return;
			}
		cfg_error(x, s, "%s: unknown value \"%s\"", name, str);
		return;
	case OPT_MODE:
		errno = 0;
		mode = strtol(str, &end, 8);
		if (str[0] == '\0' || *end != '\0' || errno != 0 ||
		    mode < o->min || mode > o->max) {
			cfg_error(x, s, "%s: expected an octal mode such as "
			    "\"0660\", got \"%s\"", name, str);
			return;
		}
		*(int *)(base + o->off) = (int)mode;
		return;
	default:
		return;
	}
}

/* Set the defaults of every row of SEC into BASE. */
static int
apply_defaults(struct ctx *x, enum section sec, char *base)
{
	const struct option	*o;
	const char *const	*c;
	char			*v;
	size_t			 i;

	for (i = 0; i < NOPTIONS; i++) {
		o = &options[i];
		if (o->sec != sec || o->def == NULL)
			continue;
		switch (o->type) {
		case OPT_BOOL:
			*(int *)(base + o->off) = strcmp(o->def, "true") == 0;
			break;
		case OPT_INT:
			*(int *)(base + o->off) = (int)strtol(o->def, NULL, 10);
			break;
		case OPT_INT64:
			*(int64_t *)(base + o->off) = strtoll(o->def, NULL, 10);
			break;
		case OPT_DOUBLE:
			*(double *)(base + o->off) = strtod(o->def, NULL);
			break;
		case OPT_MODE:
			*(int *)(base + o->off) = (int)strtol(o->def, NULL, 8);
			break;
		case OPT_ENUM:
			for (c = o->choices; *c != NULL; c++)
				if (strcmp(*c, o->def) == 0)
					*(int *)(base + o->off) =
					    (int)(c - o->choices);
			break;
		case OPT_STRING:
		case OPT_PATH:
			v = o->type == OPT_PATH ? path_resolve(x, o->def) :
			    strdup(o->def);
			if (v == NULL)
				return -1;
			set_string((char **)(base + o->off), v);
			break;
		case OPT_PATHS:
			/* The only list default with entries: rules.paths. */
			if (strcmp(o->def, "[\"rules/*.rules\"]") == 0) {
				if ((v = path_resolve(x, "rules/*.rules")) == NULL)
					return -1;
				((char **)(base + o->off))[0] = v;
				*(size_t *)(base + o->count_off) = 1;
			}
			break;
		default:
			break;
		}
	}
	return 0;
}

/* Every child of group S must be a row of SEC; parse each into BASE. */
static void
parse_section(struct ctx *x, const config_setting_t *s, enum section sec,
    char *base)
{
	char			 name[128];
	const config_setting_t	*e;
	const struct option	*o;
	int			 i, n;

	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		o = option_find(sec, config_setting_name(e));
		if (o == NULL) {
			cfg_error(x, e, "unknown option %s",
			    setting_path(e, name, sizeof(name)));
			continue;
		}
		if (o->type == OPT_PEERS || o->type == OPT_CATEGORIES ||
		    o->type == OPT_STAGES)
			continue;	/* handled by the caller */
		parse_value(x, o, e, base);
	}
}

static void
parse_peers(struct ctx *x, const config_setting_t *s, struct server_conf *sv)
{
	char			 name[128];
	const config_setting_t	*e, *f;
	struct peer_policy	*pp;
	unsigned int		 id;
	int			 i, j, n, m, ok;

	setting_path(s, name, sizeof(name));
	if (!config_setting_is_list(s)) {
		cfg_error(x, s, "%s: expected a list of groups ( { ... } )",
		    name);
		return;
	}
	n = config_setting_length(s);
	if (n > CONFIG_MAX_PEER_POLICIES) {
		cfg_error(x, s, "%s: %d entries, at most %d", name, n,
		    CONFIG_MAX_PEER_POLICIES);
		return;
	}
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		if (!config_setting_is_group(e)) {
			cfg_error(x, e, "%s: expected { uid = N; policy = "
			    "\"x\"; }", name);
			continue;
		}
		pp = &sv->peer_policies[sv->n_peer_policies];
		memset(pp, 0, sizeof(*pp));
		ok = 1;
		int has_id = 0;
		m = config_setting_length(e);
		for (j = 0; j < m; j++) {
			f = config_setting_get_elem(e, (unsigned int)j);
			if (option_find(SEC_PEER, config_setting_name(f)) ==
			    NULL) {
				cfg_error(x, f, "unknown option %s in %s",
				    config_setting_name(f), name);
				ok = 0;
			} else if (strcmp(config_setting_name(f), "policy") ==
			    0) {
				if (config_setting_type(f) != CONFIG_TYPE_STRING) {
					cfg_error(x, f, "%s: policy: expected a "
					    "string", name);
					ok = 0;
				} else {
					free(pp->policy);
					pp->policy = strdup(
					    config_setting_get_string(f));
				}
			} else {
				pp->is_gid = strcmp(config_setting_name(f),
				    "gid") == 0;
				if (has_id++) {
					cfg_error(x, f, "%s: give one of uid "
					    "or gid", name);
					ok = 0;
				} else if (parse_id(x, f, pp->is_gid, &id) == -1)
					ok = 0;
				else
					pp->id = id;
			}
		}
		if (ok && !has_id) {
			cfg_error(x, e, "%s: entry without uid or gid", name);
			ok = 0;
		}
		if (ok && pp->policy == NULL) {
			cfg_error(x, e, "%s: entry without policy", name);
			ok = 0;
		}
		if (!ok) {
			free(pp->policy);
			pp->policy = NULL;
			continue;
		}
		sv->n_peer_policies++;
	}
}

static void
parse_categories(struct ctx *x, const config_setting_t *s,
    struct policy_conf *p)
{
	char			 name[128];
	const config_setting_t	*e;
	struct category_threshold *t;
	int			 i, n;

	setting_path(s, name, sizeof(name));
	if (!config_setting_is_group(s)) {
		cfg_error(x, s, "%s: expected a group { LABEL = { block = X; "
		    "rewrite = Y; }; }", name);
		return;
	}
	n = config_setting_length(s);
	if (n > CONFIG_MAX_CATEGORIES) {
		cfg_error(x, s, "%s: %d categories, at most %d", name, n,
		    CONFIG_MAX_CATEGORIES);
		return;
	}
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		if (!config_setting_is_group(e)) {
			cfg_error(x, e, "%s: expected { block = X; rewrite = "
			    "Y; }", setting_path(e, name, sizeof(name)));
			continue;
		}
		t = &p->thresholds[p->n_thresholds];
		memset(t, 0, sizeof(*t));
		if ((t->category = strdup(config_setting_name(e))) == NULL) {
			cfg_error(x, e, "out of memory");
			continue;
		}
		apply_defaults(x, SEC_CATEGORY, (char *)t);
		parse_section(x, e, SEC_CATEGORY, (char *)t);
		p->n_thresholds++;
	}
}

/*
 * One policy: the group S named after the policy (policies = { NAME =
 * { ... }; }), or, when IN_LIST, an element of a list of groups with a name
 * member (policies = ( { name = "NAME"; ... } )).
 */
static void
parse_policy(struct ctx *x, const config_setting_t *s, struct policy_conf *p,
    const struct audit_conf *audit, int in_list)
{
	char			 name[128];
	const config_setting_t	*e;

	p->stage_rules = p->stage_classifier = 1;
	if (apply_defaults(x, SEC_POLICY, (char *)p) == -1) {
		cfg_error(x, s, "out of memory");
		return;
	}
	p->audit_text = audit->text;	/* not "(audit.text)" */
	if (!config_setting_is_group(s)) {
		cfg_error(x, s, "%s: expected a group { ... }",
		    setting_path(s, name, sizeof(name)));
		return;
	}
	e = config_setting_get_member(s, "name");
	if (!in_list) {
		if (e != NULL)
			cfg_error(x, e, "policies.%s: the group's name is the "
			    "policy's name", config_setting_name(s));
		if ((p->name = strdup(config_setting_name(s))) == NULL) {
			cfg_error(x, s, "out of memory");
			return;
		}
	} else if (e == NULL) {
		cfg_error(x, s, "policies: a policy without a name");
		return;
	}
	parse_section(x, s, SEC_POLICY, (char *)p);
	if (config_setting_get_member(s, "audit_text") != NULL)
		p->has_audit_text = 1;
	if ((e = config_setting_get_member(s, "stages")) != NULL)
		parse_stages(x, e, p);
	if ((e = config_setting_get_member(s, "categories")) != NULL)
		parse_categories(x, e, p);
}

static void
parse_policies(struct ctx *x, const config_setting_t *s, struct config *cfg)
{
	const config_setting_t	*e;
	size_t			 j;
	int			 i, n, in_list;

	in_list = config_setting_is_list(s);
	if (!config_setting_is_group(s) && !in_list) {
		cfg_error(x, s, "policies: expected a group of named policies");
		return;
	}
	n = config_setting_length(s);
	if (n > CONFIG_MAX_POLICIES) {
		cfg_error(x, s, "policies: %d policies, at most %d", n,
		    CONFIG_MAX_POLICIES);
		return;
	}
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		parse_policy(x, e, &cfg->policies[cfg->n_policies], &cfg->audit,
		    in_list);
		/* Kept even when broken: config_free releases it. */
		if (cfg->policies[cfg->n_policies].name == NULL) {
			cfg->n_policies++;
			continue;	/* reported */
		}
		for (j = 0; j < cfg->n_policies; j++)
			if (cfg->policies[j].name != NULL &&
			    strcmp(cfg->policies[j].name,
			    cfg->policies[cfg->n_policies].name) == 0)
				cfg_error(x, e, "policies: two policies named "
				    "\"%s\"", cfg->policies[j].name);
		cfg->n_policies++;
	}
}

/* Checks across options, once every option is read. */
static void
config_check(struct ctx *x, config_t *lc, struct config *cfg)
{
	const config_setting_t	*s;
	struct policy_conf	*p;
	size_t			 i;

	if (cfg->classifier.stride > cfg->classifier.window) {
		s = config_lookup(lc, "classifier.stride");
		cfg_error(x, s, "classifier.stride %d exceeds classifier.window "
		    "%d", cfg->classifier.stride, cfg->classifier.window);
	}
	if (config_policy(cfg, cfg->server.default_policy) == NULL) {
		s = config_lookup(lc, "server.default_policy");
		cfg_error(x, s, "server.default_policy: no policy named \"%s\"",
		    cfg->server.default_policy);
	}
	for (i = 0; i < cfg->server.n_peer_policies; i++) {
		if (config_policy(cfg, cfg->server.peer_policies[i].policy) !=
		    NULL)
			continue;
		s = config_lookup(lc, "server.peer_policies");
		if (s != NULL && config_setting_get_elem(s, (unsigned int)i))
			s = config_setting_get_elem(s, (unsigned int)i);
		cfg_error(x, s, "server.peer_policies: no policy named \"%s\"",
		    cfg->server.peer_policies[i].policy);
	}
	for (i = 0; i < cfg->n_policies; i++) {
		p = &cfg->policies[i];
		if (p->name != NULL && p->name[0] == '\0')
			cfg_error(x, NULL, "policy with an empty name");
	}
	if (cfg->proxy.enabled) {
		s = config_lookup(lc, "proxy");
		if (cfg->proxy.upstream == NULL)
			cfg_error(x, s, "proxy.upstream is required");
		if (!cfg->http.enabled)
			cfg_error(x, s, "proxy needs the HTTP listener "
			    "(http.enabled = true)");
	}
}

/* The implicit policy of a file without a policies section. */
static int
policy_implicit(struct ctx *x, struct config *cfg)
{
	struct policy_conf	*p = &cfg->policies[0];

	p->stage_rules = p->stage_classifier = 1;
	if ((p->name = strdup("default")) == NULL ||
	    apply_defaults(x, SEC_POLICY, (char *)p) == -1)
		return -1;
	p->audit_text = cfg->audit.text;
	cfg->n_policies = 1;
	return 0;
}

struct config *
config_load(const char *file)
{
	struct ctx		 x;
	config_t		 lc;
	config_setting_t	*root, *s;
	struct config		*cfg = NULL;
	const char *const	*t;
	char			*real = NULL, *slash;
	int			 i, n;

	memset(&x, 0, sizeof(x));
	x.file = file;
	x.errv = calloc(CONFIG_MAX_ERRORS, sizeof(*x.errv));
	config_init(&lc);
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		log_warn("config");
		goto fail;
	}
	if ((real = realpath(file, NULL)) == NULL) {
		log_warn("%s", file);
		goto fail;
	}
	if ((cfg->file = strdup(real)) == NULL ||
	    (cfg->dir = strdup(real)) == NULL) {
		log_warn("config");
		goto fail;
	}
	slash = strrchr(cfg->dir, '/');
	if (slash == cfg->dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	x.dir = cfg->dir;
	config_set_include_dir(&lc, cfg->dir);
	if (config_read_file(&lc, real) != CONFIG_TRUE) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			log_warnx("%s: cannot read file", file);
		else
			log_warnx("%s:%d: %s", config_error_file(&lc) != NULL ?
			    config_error_file(&lc) : file,
			    config_error_line(&lc), config_error_text(&lc));
		goto fail;
	}

	if (apply_defaults(&x, SEC_SERVER, (char *)&cfg->server) == -1 ||
	    apply_defaults(&x, SEC_RULES, (char *)&cfg->rules) == -1 ||
	    apply_defaults(&x, SEC_CLASSIFIER, (char *)&cfg->classifier) == -1 ||
	    apply_defaults(&x, SEC_AUDIT, (char *)&cfg->audit) == -1 ||
	    apply_defaults(&x, SEC_HTTP, (char *)&cfg->http) == -1 ||
	    apply_defaults(&x, SEC_PROXY, (char *)&cfg->proxy) == -1) {
		log_warn("config");
		goto fail;
	}

	root = config_root_setting(&lc);
	n = config_setting_length(root);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(root, (unsigned int)i);
		for (t = top_sections; *t != NULL; t++)
			if (strcmp(*t, config_setting_name(s)) == 0)
				break;
		if (*t == NULL)
			cfg_error(&x, s, "unknown section %s",
			    config_setting_name(s));
		else if (!config_setting_is_group(s) &&
		    !(strcmp(*t, "policies") == 0 &&
		    config_setting_is_list(s)))
			cfg_error(&x, s, "%s: expected a group { ... }",
			    config_setting_name(s));
	}
	/* Audit first: policies inherit audit.text. */
	if ((s = config_lookup(&lc, "audit")) != NULL &&
	    config_setting_is_group(s))
		parse_section(&x, s, SEC_AUDIT, (char *)&cfg->audit);
	if ((s = config_lookup(&lc, "server")) != NULL &&
	    config_setting_is_group(s)) {
		parse_section(&x, s, SEC_SERVER, (char *)&cfg->server);
		if ((s = config_setting_get_member(s, "peer_policies")) != NULL)
			parse_peers(&x, s, &cfg->server);
	}
	if ((s = config_lookup(&lc, "rules")) != NULL &&
	    config_setting_is_group(s))
		parse_section(&x, s, SEC_RULES, (char *)&cfg->rules);
	if ((s = config_lookup(&lc, "classifier")) != NULL &&
	    config_setting_is_group(s))
		parse_section(&x, s, SEC_CLASSIFIER, (char *)&cfg->classifier);
	if ((s = config_lookup(&lc, "http")) != NULL &&
	    config_setting_is_group(s))
		parse_section(&x, s, SEC_HTTP, (char *)&cfg->http);
	if ((s = config_lookup(&lc, "proxy")) != NULL &&
	    config_setting_is_group(s)) {
		cfg->proxy.enabled = 1;
		parse_section(&x, s, SEC_PROXY, (char *)&cfg->proxy);
	}
	if ((s = config_lookup(&lc, "policies")) != NULL)
		parse_policies(&x, s, cfg);
	else if (policy_implicit(&x, cfg) == -1) {
		log_warn("config");
		goto fail;
	}
	if (x.errors == 0)
		config_check(&x, &lc, cfg);
	if (x.errors > 0) {
		cfg_errors_print(&x);
		log_warnx("%s: %d error%s", file, x.errors,
		    x.errors == 1 ? "" : "s");
		goto fail;
	}
	config_destroy(&lc);
	free(x.errv);
	free(real);
	return cfg;
fail:
	config_destroy(&lc);
	free(x.errv);
	free(real);
	config_free(cfg);
	return NULL;
}

void
config_free(struct config *cfg)
{
	struct policy_conf	*p;
	size_t			 i, j;

	if (cfg == NULL)
		return;
	free(cfg->file);
	free(cfg->dir);
	free(cfg->server.socket);
	free(cfg->server.socket_group);
	free(cfg->server.default_policy);
	for (i = 0; i < cfg->server.n_peer_policies; i++)
		free(cfg->server.peer_policies[i].policy);
	for (i = 0; i < cfg->rules.n_paths; i++)
		free(cfg->rules.paths[i]);
	free(cfg->rules.cache_dir);
	free(cfg->classifier.model);
	free(cfg->audit.path);
	free(cfg->audit.key);
	free(cfg->audit.hmac_key);
	for (i = 0; i < cfg->audit.n_meta_redact; i++)
		free(cfg->audit.meta_redact[i]);
	free(cfg->http.listen);
	free(cfg->http.tokens_file);
	free(cfg->proxy.upstream);
	free(cfg->proxy.key_file);
	for (i = 0; i < cfg->n_policies; i++) {
		p = &cfg->policies[i];
		free(p->name);
		free(p->message);
		free(p->rewrite_text);
		for (j = 0; j < p->n_thresholds; j++)
			free(p->thresholds[j].category);
		for (j = 0; j < p->n_block_rule_categories; j++)
			free(p->block_rule_categories[j]);
		for (j = 0; j < p->n_rewrite_rule_categories; j++)
			free(p->rewrite_rule_categories[j]);
		for (j = 0; j < p->n_flag_rule_categories; j++)
			free(p->flag_rule_categories[j]);
	}
	free(cfg);
}

const struct policy_conf *
config_policy(const struct config *cfg, const char *name)
{
	size_t	 i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < cfg->n_policies; i++)
		if (cfg->policies[i].name != NULL &&
		    strcmp(cfg->policies[i].name, name) == 0)
			return &cfg->policies[i];
	return NULL;
}

void
config_dump_options(void)
{
	const struct option	*o;
	char			 range[64], choices[128];
	const char *const	*c;
	size_t			 i, off;

	for (i = 0; i < NOPTIONS; i++) {
		o = &options[i];
		range[0] = '\0';
		switch (o->type) {
		case OPT_INT:
		case OPT_INT64:
		case OPT_DOUBLE:
		case OPT_ID:
			snprintf(range, sizeof(range), o->type == OPT_DOUBLE ?
			    "%g..%g" : "%.0f..%.0f", o->min, o->max);
			break;
		case OPT_MODE:
			snprintf(range, sizeof(range), "0..0777");
			break;
		case OPT_ENUM:
			off = 0;
			choices[0] = '\0';
			for (c = o->choices; *c != NULL &&
			    off < sizeof(choices); c++)
				off += (size_t)snprintf(choices + off,
				    sizeof(choices) - off, "%s%s",
				    c == o->choices ? "" : "|", *c);
			snprintf(range, sizeof(range), "%s", choices);
			break;
		case OPT_UIDS:
		case OPT_GIDS:
		case OPT_PATHS:
		case OPT_STRINGS:
		case OPT_CATEGORIES:
		case OPT_PEERS:
			snprintf(range, sizeof(range), "at most %g entries",
			    o->max);
			break;
		default:
			break;
		}
		printf("%s.%s\t%s\t%s\t%s\t%s\n", section_names[o->sec],
		    o->name, type_names[o->type], range,
		    o->def != NULL ? o->def : "(required)", o->help);
	}
}
