/*
 * audit-key: Ed25519 keys that sign audit checkpoints (man 5 modgate.audit).
 *
 * Secret key file: one line "modgate-audit-secret-ed25519:" + base64 of the
 * 32-byte seed, mode 0600 (refused when group or others may read it).
 * Public key: one line "ed25519:" + base64 of the 32-byte public key; the
 * same string is the "key" member of every checkpoint record.
 */
#ifndef MODGATE_AUDIT_KEY_H
#define MODGATE_AUDIT_KEY_H

#include <stddef.h>
#include <sys/types.h>

#include <sodium.h>

#define AUDIT_SECRET_PREFIX	"modgate-audit-secret-ed25519:"
#define AUDIT_PUBLIC_PREFIX	"ed25519:"
#define AUDIT_PUBSTR_SIZE	64	/* "ed25519:" + 44 base64 + NUL */
#define AUDIT_SIG_B64_SIZE	96	/* 88 base64 + NUL */
#define AUDIT_HMAC_PREFIX	"modgate-audit-hmac:"
#define AUDIT_HMAC_KEY_SIZE	crypto_auth_hmacsha256_KEYBYTES
#define AUDIT_HMAC_HEX_SIZE	(2 * crypto_auth_hmacsha256_BYTES + 1)

struct audit_key {
	unsigned char	 sk[crypto_sign_SECRETKEYBYTES];
	unsigned char	 pk[crypto_sign_PUBLICKEYBYTES];
	char		 pubstr[AUDIT_PUBSTR_SIZE];
};

/* Read the secret key file PATH into K.  0, or -1 after logging why. */
int	 audit_key_load(const char *path, struct audit_key *k);
/*
 * Create a new key pair: the secret key in SECRET (mode 0600; an existing
 * file is replaced only with FORCE), the public key line in PUBLIC (when
 * not NULL) and in K.  0, or -1 after logging why.
 */
int	 audit_key_generate(const char *secret, const char *public, int force,
	    struct audit_key *k);
/*
 * Write LEN bytes of BUF to the file PATH with MODE, fsync'ed: a new file,
 * or with FORCE one replaced.  0 or -1 (logged).
 */
int	 audit_key_write(const char *path, const char *buf, size_t len,
	    mode_t mode, int force);
/* Format PK as "ed25519:BASE64" into OUT. */
void	 audit_key_pubstr(const unsigned char *pk, char out[AUDIT_PUBSTR_SIZE]);
/*
 * Parse a public key: the string "ed25519:BASE64", or when it does not
 * start so, the name of a file whose first line is.  0 or -1 (logged).
 */
int	 audit_key_parse_public(const char *s, unsigned char *pk);
int	 audit_key_read_public(const char *path_or_key, unsigned char *pk);

/*
 * The per-installation secret of text_hmac: the file PATH holds one line,
 * "modgate-audit-hmac:" + base64 of 32 bytes, mode 0600 (refused when
 * group or others may read it).  When PATH does not exist and CREATE is
 * set, a new random secret is written there.  0, or -1 after logging why.
 */
int	 audit_hmac_key_load(const char *path, int create,
	    unsigned char key[AUDIT_HMAC_KEY_SIZE]);
/* OUT = lower-case hex HMAC-SHA256 of [TEXT, TEXT+LEN) under KEY. */
void	 audit_hmac_hex(const unsigned char key[AUDIT_HMAC_KEY_SIZE],
	    const char *text, size_t len, char out[AUDIT_HMAC_HEX_SIZE]);

/* Sign MSG with K into base64 OUT.  0 or -1. */
int	 audit_key_sign(const struct audit_key *k, const char *msg, size_t len,
	    char out[AUDIT_SIG_B64_SIZE]);
/* 0 when SIG (base64) is PK's signature of MSG, else -1. */
int	 audit_key_check(const unsigned char *pk, const char *msg, size_t len,
	    const char *sig);

#endif
