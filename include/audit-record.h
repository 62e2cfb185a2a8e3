/*
 * audit-record: the audit log format (man 5 modgate.audit), shared by the
 * writer (audit.c), the verifier (audit-verify.c) and `modgate audit`.
 *
 * A record is one line of compact JSON.  Its first members are always
 * "seq" and "ts", its last member is always "prev", the hash of the
 * previous line:  "sha256:" + hex SHA-256 of that line's exact bytes,
 * newline excluded.  The first record of a chain links to AUDIT_HASH_ZERO.
 */
#ifndef MODGATE_AUDIT_RECORD_H
#define MODGATE_AUDIT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "audit-key.h"
#include "config.h"
#include "verdict.h"

#define AUDIT_HASH_SIZE		72	/* "sha256:" + 64 hex + NUL */
#define AUDIT_HASH_ZERO		"sha256:" \
	"0000000000000000000000000000000000000000000000000000000000000000"
#define AUDIT_TS_SIZE		32	/* "2026-11-27T11:39:27.123456Z\0" */
#define AUDIT_LINE_MAX		(64u * 1024 * 1024)	/* longest line read */
#define AUDIT_CHECKPOINT_CTX	"modgate-audit-checkpoint-v1"
#define AUDIT_CHECKPOINT_FSS	"modgate-audit-checkpoint-v2"
#define AUDIT_FORMAT		2	/* "format" of the start record */

/* OUT = "sha256:" + hex SHA-256 of [LINE, LINE+LEN). */
void	 audit_hash(const char *line, size_t len, char out[AUDIT_HASH_SIZE]);

/* The current time as RFC 3339 UTC with microseconds. */
void	 audit_ts_now(char out[AUDIT_TS_SIZE]);
/*
 * Parse an RFC 3339 time ("2026-11-27", "2026-11-27T11:00",
 * "2026-11-27T11:00:00.5Z", "...+02:00"; no zone means UTC) into
 * microseconds since the epoch.  0 or -1.
 */
int	 audit_ts_parse(const char *s, int64_t *us);

/* The text mode a request runs under: the policy's, else the log's. */
enum audit_text_mode audit_text_mode(const struct audit_conf *,
	    const struct policy_conf *);
const char *audit_text_mode_name(enum audit_text_mode);

/* What a record may keep of the text and meta of a request. */
struct audit_privacy {
	unsigned char	 hmac_key[AUDIT_HMAC_KEY_SIZE];	/* text_hmac */
	int		 meta_max;	/* larger meta is dropped; 0: all is */
	char *const	*redact;	/* meta keys whose values are hidden */
	size_t		 n_redact;
};

/*
 * The members of the record of REQ/RES, from "id" to "elapsed_us", as a new
 * object (caller owns it), or NULL on allocation failure.  "seq", "ts" and
 * "prev" are added by audit_line_make.
 */
json_t	*audit_record_body(const struct request *req, const struct result *res,
	    const char *policy_version, enum audit_text_mode mode,
	    const struct audit_privacy *pv);

/*
 * Serialise BODY (an object; may be empty) compactly, members in insertion
 * order.  Returns a malloc'd "{...}" string or NULL.
 */
char	*audit_body_dump(const json_t *body, size_t *len);

/*
 * The full line of a record: {"seq":SEQ,"ts":TS,<BODY members>,"prev":PREV}
 * followed by a newline.  BODY is the output of audit_body_dump.  Returns a
 * malloc'd string and its length (newline included) in *LEN, or NULL.
 */
char	*audit_line_make(uint64_t seq, const char *ts, const char *body,
	    size_t bodylen, const char *prev, size_t *len);

/*
 * The bytes a checkpoint signs: the context string, the sequence number and
 * hash of the chain head it covers.  Returns the length written to OUT
 * (at most SIZE - 1, NUL-terminated).
 */
size_t	 audit_checkpoint_msg(char *out, size_t size, uint64_t head_seq,
	    const char *head);
/*
 * The same for a forward-secure key: the context string, the epoch, the
 * checkpoint's own time TS, the sequence number and hash of the head.
 */
size_t	 audit_checkpoint_msg_fss(char *out, size_t size, uint64_t epoch,
	    const char *ts, uint64_t head_seq, const char *head);

#endif
