/*
 * config: modgated.conf (libconfig syntax) parsed into one immutable
 * struct config.  Every option is declared once in the options table of
 * config.c (name, type, range, default, help); unknown keys and bad values
 * are reported as "file:line: message", all of them in one run.
 */
#ifndef MODGATE_CONFIG_H
#define MODGATE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONFIG_MAX_IDS		64	/* entries in a uid/gid list */
#define CONFIG_MAX_PATHS	64	/* entries in rules.paths */
#define CONFIG_MAX_POLICIES	32
#define CONFIG_MAX_CATEGORIES	16	/* per-category thresholds a policy may set */
#define CONFIG_MAX_PEER_POLICIES 64
#define CONFIG_MAX_REDACT	32	/* meta keys audit.meta_redact names */

enum audit_text_mode { AUDIT_TEXT_NONE, AUDIT_TEXT_HASH, AUDIT_TEXT_REDACTED,
    AUDIT_TEXT_FULL };
enum audit_fsync { AUDIT_FSYNC_ALWAYS, AUDIT_FSYNC_INTERVAL, AUDIT_FSYNC_NEVER };
enum audit_on_failure { AUDIT_FAIL_BLOCK, AUDIT_FAIL_ALLOW, AUDIT_FAIL_REFUSE };
enum on_error { ON_ERROR_ALLOW, ON_ERROR_BLOCK };
enum rewrite_scope { REWRITE_SENTENCE, REWRITE_ALL };

struct server_conf {
	char	*socket;		/* Unix socket path */
	int	 socket_mode;		/* octal permission bits */
	char	*socket_group;		/* "" = primary group of the daemon */
	uid_t	 allowed_uids[CONFIG_MAX_IDS];
	size_t	 n_allowed_uids;	/* 0 with 0 gids: everybody */
	gid_t	 allowed_gids[CONFIG_MAX_IDS];
	size_t	 n_allowed_gids;
	uid_t	 admin_uids[CONFIG_MAX_IDS];
	size_t	 n_admin_uids;
	int	 max_connections;
	int	 max_connections_per_uid;
	int	 max_request_bytes;	/* one request line, newline excluded */
	int	 idle_timeout;		/* seconds without a byte from the client */
	int	 request_timeout;	/* milliseconds from parse to answer */
	int	 workers;		/* 0 = number of online CPUs */
	int	 queue_max;		/* requests queued for workers */
	int	 inline_max_bytes;	/* longest text run on the event loop */
	int	 stream_max;		/* streams open at once */
	int	 stream_max_bytes;	/* text of one stream */
	int	 stream_holdback;	/* bytes a match may span (stream.h) */
	char	*default_policy;
	struct peer_policy {
		int	 is_gid;	/* match on gid instead of uid */
		unsigned int id;
		char	*policy;
	}	 peer_policies[CONFIG_MAX_PEER_POLICIES];
	size_t	 n_peer_policies;
};

struct rules_conf {
	char	*paths[CONFIG_MAX_PATHS];	/* files, directories or globs */
	size_t	 n_paths;
	int	 match_limit;		/* PCRE2 match limit */
	int	 depth_limit;		/* PCRE2 depth limit */
	char	*cache_dir;		/* compiled database cache, "" = none */
	int	 allow_empty;		/* paths may load no rule at all */
};

struct classifier_conf {
	int	 enabled;
	char	*model;			/* model directory */
	int	 window;		/* tokens per window */
	int	 stride;		/* tokens between window starts */
	int	 batch_max;		/* windows per forward pass */
	int	 batch_wait_us;		/* how long to wait for a batch to fill */
	int	 threads;		/* BLAS threads per forward pass */
};

struct audit_conf {
	int	 enabled;
	char	*path;
	enum audit_text_mode text;
	enum audit_fsync fsync;
	int	 fsync_interval_ms;
	enum audit_on_failure on_failure;
	char	*key;			/* Ed25519 secret key file, "" = unsigned */
	int	 checkpoint_every;	/* records between signed checkpoints */
	int	 checkpoint_seconds;	/* seconds between them, at most */
	int64_t	 rotate_bytes;		/* 0 = no size rotation */
	int	 syslog;		/* also send records to syslog */
	char	*hmac_key;		/* text HMAC secret, "" = PATH.hmac-key */
	int	 meta_max_bytes;	/* larger meta is dropped; 0 = never kept */
	char	*meta_redact[CONFIG_MAX_REDACT];	/* meta keys redacted */
	size_t	 n_meta_redact;
	int	 retain_days;		/* rotated files kept; 0 = forever */
};

struct http_conf {
	int	 enabled;
	char	*listen;		/* "127.0.0.1:8080" or "unix:/path" */
	char	*tokens_file;		/* bearer tokens, required for TCP */
	int	 max_body_bytes;
	int	 timeout;		/* seconds of I/O silence, then close */
};

/* The proxy section: present (enabled) or not. */
struct proxy_conf {
	int	 enabled;		/* the section is in the file */
	char	*upstream;		/* "http://HOST:PORT/PATH" */
	int	 connect_timeout;	/* milliseconds */
	int	 timeout;		/* milliseconds, the whole answer */
	char	*key_file;		/* upstream API key, "" = none */
	int	 moderate_input;	/* check the last user message first */
	int	 max_concurrent;	/* upstream requests in flight */
};

struct category_threshold {
	char	*category;
	double	 block;			/* score >= block blocks; > 1 never */
	double	 rewrite;		/* score >= rewrite rewrites; > 1 never */
};

struct policy_conf {
	char	*name;
	char	*message;		/* refusal text of a block answer */
	char	*rewrite_text;		/* replaces classifier-flagged text */
	enum rewrite_scope rewrite_scope;
	enum on_error on_error;
	int	 stage_rules;		/* stages that run */
	int	 stage_classifier;
	int	 monitor;		/* shadow mode: record, always allow */
	enum audit_text_mode audit_text; /* overrides audit.text */
	int	 has_audit_text;
	struct category_threshold thresholds[CONFIG_MAX_CATEGORIES];
	size_t	 n_thresholds;
	char	*block_rule_categories[CONFIG_MAX_CATEGORIES];
	size_t	 n_block_rule_categories;
	char	*rewrite_rule_categories[CONFIG_MAX_CATEGORIES];
	size_t	 n_rewrite_rule_categories;
	char	*flag_rule_categories[CONFIG_MAX_CATEGORIES];
	size_t	 n_flag_rule_categories;
};

struct config {
	char	*file;			/* path it was read from */
	char	*dir;			/* its directory: base of relative paths */
	struct server_conf server;
	struct rules_conf rules;
	struct classifier_conf classifier;
	struct audit_conf audit;
	struct http_conf http;
	struct proxy_conf proxy;
	struct policy_conf policies[CONFIG_MAX_POLICIES];
	size_t	 n_policies;
};

/*
 * Read and validate FILE.  On success returns a new config owned by the
 * caller.  On failure returns NULL after printing every error as
 * "file:line: message" through log_warnx.  Relative paths in the file are
 * resolved against the file's directory.
 */
struct config	*config_load(const char *file);
void		 config_free(struct config *);

/* The policy named NAME, or NULL. */
const struct policy_conf *config_policy(const struct config *, const char *name);

/* Print the options table (name, type, range, default, help) to stdout. */
void		 config_dump_options(void);

#endif
