/*
 * stream: streaming moderation of a text that arrives in chunks (a
 * chatbot's token stream).  Ops stream_open, stream_append, stream_close;
 * every append is answered with an incremental verdict:
 *
 *	ok	every byte so far is released
 *	hold	bytes [released, end) are held back: a match may still be
 *		completing there
 *	rewrite	the bytes released now carry the rewrite of a span that was
 *		held back
 *	block	the stream is blocked at byte offset "offset"; nothing at or
 *		after it is ever released
 *
 * The rules stage re-runs over the unreleased tail plus an overlap of
 * server.stream_holdback bytes (H); a match counts once it ends at least
 * H bytes before the end of the text so far.  At most 2H bytes are ever
 * held back.  The classifier scores each window of the whole-text scoring
 * as soon as its tokens are complete.  stream_close runs the pipeline on
 * the whole text (audited once), so the final verdict is the verdict on
 * the whole text; "late" says when the stream had to settle a hit longer
 * than H before it could be sure of it, or when bytes already released do
 * not agree with that verdict (such a hit, or a classifier window that
 * crossed a threshold only once complete).  An append's "matches" are the
 * hits it acts on: the rewrites it releases, and the block.
 *
 * Calls are ordered per stream: a call prepared earlier on the event loop
 * runs before a later one, whatever worker thread takes it.
 */
#ifndef MODGATE_STREAM_H
#define MODGATE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "verdict.h"

struct snapshot;
struct audit;
struct stream_call;

enum stream_op { STREAM_OPEN, STREAM_APPEND, STREAM_CLOSE };

struct stream_args {
	enum stream_op	 op;
	const char	*stream;	/* id; NULL for open */
	const char	*text;		/* chunk (append, close); may be NULL */
	size_t		 len;
	const char	*policy;	/* open: NULL for the peer's default */
	json_t		*meta;		/* open: copied to the audit record */
	json_t		*id;		/* close: the request id audited */
	struct peer	 peer;
	uint64_t	 owner;		/* connection; stream_drop_owner */
};

/*
 * On the event loop thread: check A against the open streams and SNAP's
 * limits (server.stream_max, server.stream_max_bytes) and take this call's
 * turn in its stream.  Returns the call, or NULL with *CODE (bad_request,
 * too_large, overloaded, unknown_policy, internal) and MSG set.
 */
struct stream_call *stream_call_new(struct snapshot *snap,
		    const struct stream_args *a, const char **code, char *msg,
		    size_t msgsz);

/* On a worker thread: wait for the stream's earlier calls, then run. */
void		 stream_call_run(struct stream_call *, struct audit *audit);

/*
 * The answer object of a run call (without "id"), a new reference; or
 * NULL with *CODE and MSG set when the call failed.
 */
json_t		*stream_call_result(struct stream_call *, const char **code,
		    char *msg, size_t msgsz);

/* Give up a call, run or not; its turn passes on.  NULL is a no-op. */
void		 stream_call_free(struct stream_call *);

/* Close every stream OWNER opened, without a verdict (it went away). */
void		 stream_drop_owner(uint64_t owner);

/*
 * Close, without a verdict, the streams of owners with every bit of MASK
 * set that no call used for more than IDLE seconds.
 */
void		 stream_expire(uint64_t mask, int idle);

/* Streams open now. */
size_t		 stream_count(void);

#endif
