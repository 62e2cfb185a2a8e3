/* audit-key: see include/audit-key.h. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit-key.h"
#include "log.h"

#define KEYLINE_MAX	256

void
audit_key_pubstr(const unsigned char *pk, char out[AUDIT_PUBSTR_SIZE])
{
	size_t	 n = strlen(AUDIT_PUBLIC_PREFIX);

	memcpy(out, AUDIT_PUBLIC_PREFIX, n);
	sodium_bin2base64(out + n, AUDIT_PUBSTR_SIZE - n, pk,
	    crypto_sign_PUBLICKEYBYTES, sodium_base64_VARIANT_ORIGINAL);
}

/* Decode base64 S (up to whitespace) into exactly N bytes.  0 or -1. */
static int
b64_exact(const char *s, unsigned char *out, size_t n)
{
	size_t		 len = strcspn(s, " \t\r\n"), got;
	const char	*end;

	if (sodium_base642bin(out, n, s, len, NULL, &got, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || got != n ||
	    (size_t)(end - s) != len)
		return -1;
	return 0;
}

/* Read the first line of PATH into BUF.  0 or -1 (errno set). */
static int
read_line(const char *path, char *buf, size_t size, struct stat *st)
{
	int	 fd;
	ssize_t	 n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (st != NULL && fstat(fd, st) == -1) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

int
audit_key_load(const char *path, struct audit_key *k)
{
	char		 line[KEYLINE_MAX];
	unsigned char	 seed[crypto_sign_SEEDBYTES];
	size_t		 pl = strlen(AUDIT_SECRET_PREFIX);
	struct stat	 st;
	int		 rc = -1;

	if (sodium_init() < 0) {
		log_warnx("audit key: libsodium failed to initialise");
		return -1;
	}
	if (read_line(path, line, sizeof(line), &st) == -1) {
		log_warn("audit key %s", path);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		log_warnx("audit key %s: readable by group or others "
		    "(mode %03o); chmod 600 it", path,
		    (unsigned)(st.st_mode & 0777));
		goto done;
	}
	if (strncmp(line, AUDIT_SECRET_PREFIX, pl) != 0 ||
	    b64_exact(line + pl, seed, sizeof(seed)) == -1) {
		log_warnx("audit key %s: not a modgate audit secret key "
		    "(expected \"%s\" and base64 of 32 bytes; create one with "
		    "`modgate audit keygen`)", path, AUDIT_SECRET_PREFIX);
		goto done;
	}
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	audit_key_pubstr(k->pk, k->pubstr);
	rc = 0;
 done:
	sodium_memzero(line, sizeof(line));
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

int
audit_key_write(const char *path, const char *buf, size_t len, mode_t mode,
    int force)
{
	int	 fd, flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
	ssize_t	 n;

	flags |= force ? O_TRUNC : O_EXCL;
	if ((fd = open(path, flags, mode)) == -1) {
		log_warn("%s", path);
		return -1;
	}
	if (fchmod(fd, mode) == -1 || (n = write(fd, buf, len)) == -1 ||
	    (size_t)n != len || fsync(fd) == -1) {
		log_warn("%s", path);
		close(fd);
		return -1;
	}
	if (close(fd) == -1) {
		log_warn("%s", path);
		return -1;
	}
	return 0;
}

int
audit_key_generate(const char *secret, const char *public, int force,
    struct audit_key *k)
{
	unsigned char	 seed[crypto_sign_SEEDBYTES];
	char		 line[KEYLINE_MAX], pub[AUDIT_PUBSTR_SIZE + 1];
	size_t		 pl = strlen(AUDIT_SECRET_PREFIX);
	int		 rc = -1;

	if (sodium_init() < 0) {
		log_warnx("audit key: libsodium failed to initialise");
		return -1;
	}
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	audit_key_pubstr(k->pk, k->pubstr);
	memcpy(line, AUDIT_SECRET_PREFIX, pl);
	sodium_bin2base64(line + pl, sizeof(line) - pl - 1, seed, sizeof(seed),
	    sodium_base64_VARIANT_ORIGINAL);
	pl = strlen(line);
	line[pl++] = '\n';
	if (audit_key_write(secret, line, pl, 0600, force) == -1)
		goto done;
	snprintf(pub, sizeof(pub), "%s\n", k->pubstr);
	if (public != NULL &&
	    audit_key_write(public, pub, strlen(pub), 0644, force) == -1)
		goto done;
	rc = 0;
 done:
	sodium_memzero(line, sizeof(line));
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

int
audit_hmac_key_load(const char *path, int create,
    unsigned char key[AUDIT_HMAC_KEY_SIZE])
{
	char		 line[KEYLINE_MAX];
	size_t		 pl = strlen(AUDIT_HMAC_PREFIX);
	struct stat	 st;
	int		 rc = -1;

	if (sodium_init() < 0) {
		log_warnx("audit hmac key: libsodium failed to initialise");
		return -1;
	}
	if (read_line(path, line, sizeof(line), &st) == -1) {
		if (errno != ENOENT || !create) {
			log_warn("audit hmac key %s", path);
			return -1;
		}
		randombytes_buf(key, AUDIT_HMAC_KEY_SIZE);
		memcpy(line, AUDIT_HMAC_PREFIX, pl);
		sodium_bin2base64(line + pl, sizeof(line) - pl - 1, key,
		    AUDIT_HMAC_KEY_SIZE, sodium_base64_VARIANT_ORIGINAL);
		pl = strlen(line);
		line[pl++] = '\n';
		if (audit_key_write(path, line, pl, 0600, 0) == 0) {
			log_info("audit: created the text_hmac secret %s",
			    path);
			rc = 0;
		}
		goto done;
	}
	if ((st.st_mode & 077) != 0) {
		log_warnx("audit hmac key %s: readable by group or others "
		    "(mode %03o); chmod 600 it", path,
		    (unsigned)(st.st_mode & 0777));
		goto done;
	}
	if (strncmp(line, AUDIT_HMAC_PREFIX, pl) != 0 ||
	    b64_exact(line + pl, key, AUDIT_HMAC_KEY_SIZE) == -1) {
		log_warnx("audit hmac key %s: expected one line \"%s\" and "
		    "base64 of 32 bytes", path, AUDIT_HMAC_PREFIX);
		goto done;
	}
	rc = 0;
 done:
	sodium_memzero(line, sizeof(line));
	return rc;
}

void
audit_hmac_hex(const unsigned char key[AUDIT_HMAC_KEY_SIZE],
    const char *text, size_t len, char out[AUDIT_HMAC_HEX_SIZE])
{
	unsigned char	 mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256(mac, (const unsigned char *)text, len, key);
	sodium_bin2hex(out, AUDIT_HMAC_HEX_SIZE, mac, sizeof(mac));
}

int
audit_key_parse_public(const char *s, unsigned char *pk)
{
	size_t	 pl = strlen(AUDIT_PUBLIC_PREFIX);

	if (strncmp(s, AUDIT_PUBLIC_PREFIX, pl) != 0 ||
	    b64_exact(s + pl, pk, crypto_sign_PUBLICKEYBYTES) == -1)
		return -1;
	return 0;
}

int
audit_key_read_public(const char *arg, unsigned char *pk)
{
	char	 line[KEYLINE_MAX];

	if (audit_key_parse_public(arg, pk) == 0)
		return 0;
	if (read_line(arg, line, sizeof(line), NULL) == -1) {
		log_warn("public key %s", arg);
		return -1;
	}
	if (audit_key_parse_public(line, pk) == -1) {
		log_warnx("public key %s: expected one line \"%sBASE64\"",
		    arg, AUDIT_PUBLIC_PREFIX);
		return -1;
	}
	return 0;
}

int
audit_key_sign(const struct audit_key *k, const char *msg, size_t len,
    char out[AUDIT_SIG_B64_SIZE])
{
	unsigned char	 sig[crypto_sign_BYTES];

	if (crypto_sign_detached(sig, NULL, (const unsigned char *)msg, len,
	    k->sk) != 0)
		return -1;
	sodium_bin2base64(out, AUDIT_SIG_B64_SIZE, sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

int
audit_key_check(const unsigned char *pk, const char *msg, size_t len,
    const char *sig64)
{
	unsigned char	 sig[crypto_sign_BYTES];

	if (b64_exact(sig64, sig, sizeof(sig)) == -1 || sig64[strcspn(sig64,
	    " \t\r\n")] != '\0')
		return -1;
	if (crypto_sign_verify_detached(sig, (const unsigned char *)msg, len,
	    pk) != 0)
		return -1;
	return 0;
}
