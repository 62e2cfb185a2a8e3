/*
 * audit-verify: check an audit log, line by line across its rotated files
 * in order, for the chain (seq, prev), sealed torn lines and checkpoint
 * signatures (man 5 modgate.audit, VERIFICATION).
 */
#ifndef MODGATE_AUDIT_VERIFY_H
#define MODGATE_AUDIT_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#define AUDIT_VERIFY_MIDDLE	0x1	/* the first record may continue an
					   older chain (older files archived) */

struct audit_verify;

struct audit_verify_result {
	int		 ok;
	/* when not ok: the first bad record and what is wrong with it */
	char		 file[256];
	size_t		 line;
	/* edited, dropped, reordered, inserted, malformed, torn,
	 * signature, unsigned, truncated or witness */
	const char	*kind;
	char		 message[512];
	/* counters over what was read */
	uint64_t	 records;	/* lines that are records */
	uint64_t	 checkpoints;	/* valid signed checkpoints */
	uint64_t	 first_seq, last_seq;
	uint64_t	 signed_seq;	/* head of the last checkpoint */
	uint64_t	 torn_sealed;	/* torn lines sealed by torn_tail */
	int		 clean_end;	/* ends with a stop (and checkpoint) */
	char		 sealed_ts[32];	/* time of the last checkpoint */
	char		 last_ts[32];	/* time of the last record */
	uint64_t	 unclean;	/* starts after an unclean end */
	uint64_t	 witnessed;	/* records matched by the witness */
};

/*
 * A new verifier.  PK (32 bytes, may be NULL) pins the Ed25519 public key
 * every checkpoint must be signed with; with it, at least one checkpoint is
 * required.  Without it, checkpoints are checked against the key they name.
 */
struct audit_verify *audit_verify_new(const unsigned char *pk, int flags);
void		 audit_verify_free(struct audit_verify *);
struct audit_fss_public;
/* Pin a forward-secure public key instead of an Ed25519 one. */
void		 audit_verify_pin_fss(struct audit_verify *,
		    const struct audit_fss_public *);
/* The time the end of the log is judged at (default: now). */
void		 audit_verify_set_now(struct audit_verify *, int64_t us);
/*
 * A line of the witness (syslog or journal output): a checkpoint record,
 * possibly after a syslog prefix, is checked on its own (signature, and
 * the pinned key) and kept: the log must hold that very line at its seq.
 * Returns 0 when kept, 1 when the line holds no checkpoint, -1 when it
 * holds a bad one (the reason in BAD).
 */
int		 audit_verify_witness(struct audit_verify *, const char *line,
		    size_t len, char *bad, size_t badsize);
/* The following lines come from file NAME (for messages). */
void		 audit_verify_file(struct audit_verify *, const char *name);
/*
 * Feed the next line (without its newline; COMPLETE is 0 when the file
 * ended without one).  Returns 0 to go on, 1 when the outcome is settled
 * and further lines are not needed.
 */
int		 audit_verify_line(struct audit_verify *, const char *line,
		    size_t len, int complete);
/* After the last line: fill R.  0 when intact, -1 when not. */
int		 audit_verify_finish(struct audit_verify *,
		    struct audit_verify_result *r);

#endif
