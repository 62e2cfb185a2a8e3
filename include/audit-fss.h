/*
 * audit-fss: forward-secure checkpoint keys (man 5 modgate.audit, FORWARD
 * SECURITY).
 *
 * Time is cut into epochs of EPOCH seconds from START.  Epoch i has its own
 * Ed25519 key pair, from seed i: seed 0 is random and seed i+1 is
 * SHA-256("modgate-audit-fss-evolve" || seed i).  The secret file holds the
 * seed of one epoch only; signing in a later epoch derives that epoch's
 * seed, rewrites the file and erases the older seed, so that whoever takes
 * the file can sign for its epoch and later ones, never for an earlier one.
 *
 * The public key is the root of a Merkle tree over the N (a power of two)
 * epoch public keys: leaf i = SHA-256(0x00 || i as 8 bytes big-endian ||
 * pk i), node = SHA-256(0x01 || left || right).  A checkpoint carries its
 * epoch, the epoch's public key and the path of sibling hashes from its leaf
 * to the root, so a verifier needs only the root (and START and EPOCH, to
 * tell which epoch a time is in).
 *
 * Public key string: "fss1:" + base64 root + ":" + START + ":" + EPOCH.
 * Secret file: the lines "modgate-audit-fss1", "public PUBLIC", "epoch I",
 * "seed BASE64" and "leaves BASE64" (the N leaf public keys, which are not
 * secret, for the paths), mode 0600.
 */
#ifndef MODGATE_AUDIT_FSS_H
#define MODGATE_AUDIT_FSS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define AUDIT_FSS_MAGIC		"modgate-audit-fss1"
#define AUDIT_FSS_PREFIX	"fss1:"
#define AUDIT_FSS_PUB_SIZE	96	/* "fss1:" + 44 + 2 numbers + NUL */
#define AUDIT_FSS_MAX_DEPTH	20	/* at most 2^20 epochs */

struct audit_fss;

struct audit_fss_public {
	unsigned char	 root[32];
	int64_t		 start;		/* epoch 0 begins, Unix seconds */
	int64_t		 epoch;		/* seconds per epoch */
};

/* Whether the first line of the key file PATH says it is forward-secure. */
int		 audit_fss_is_fss(const char *path);

/*
 * Create a key: N epochs (a power of two, 2 to 2^20) of EPOCH seconds from
 * START.  The secret file SECRET (mode 0600; replaced only with FORCE), the
 * public key line in PUBLIC (when not NULL) and in OUT.  0 or -1 (logged).
 */
int		 audit_fss_generate(const char *secret, const char *public,
		    int force, int64_t start, int64_t epoch, uint32_t n,
		    char out[AUDIT_FSS_PUB_SIZE]);

/* Load the secret file PATH (refused when group or others may read it). */
struct audit_fss *audit_fss_load(const char *path);
void		 audit_fss_free(struct audit_fss *);
/* The public key string. */
const char	*audit_fss_pubstr(const struct audit_fss *);

/*
 * Sign, for the time T (Unix seconds), the checkpoint message that
 * audit_checkpoint_msg_fss builds for the epoch that T is in: the key is
 * moved to that epoch first (the file rewritten, older seeds erased).
 * Sets *EPOCHP, the epoch's public key ("ed25519:..." in PK), its Merkle
 * path (*PATHP, a new array of base64 hashes) and SIG (base64).  MSGFN
 * builds the message for an epoch into MSG (SIZE bytes) and returns its
 * length.  0 or -1 (logged: clock behind the file's epoch, keys used up,
 * the file cannot be rewritten).
 */
int		 audit_fss_sign(struct audit_fss *, int64_t t,
		    size_t (*msgfn)(char *, size_t, uint64_t, void *),
		    void *arg, uint64_t *epochp, char *pk, json_t **pathp,
		    char *sig);

/* Parse "fss1:ROOT:START:EPOCH".  0 or -1. */
int		 audit_fss_parse_public(const char *s,
		    struct audit_fss_public *p);

/*
 * Check that PK (an "ed25519:" string) is the key of epoch E under P's
 * root by PATH (array of base64 hashes), that time T (Unix seconds) is in
 * epoch E, and that SIG (base64) is PK's signature of MSG.  0, or -1 with
 * the reason in WHY.
 */
int		 audit_fss_check(const struct audit_fss_public *p, uint64_t e,
		    const char *pk, const json_t *path, int64_t t,
		    const char *msg, size_t len, const char *sig, char *why,
		    size_t whysize);

#endif
