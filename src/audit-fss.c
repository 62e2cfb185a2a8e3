/* audit-fss: see include/audit-fss.h. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "audit-fss.h"
#include "audit-key.h"
#include "log.h"

#define EVOLVE_CTX	"modgate-audit-fss-evolve"

struct audit_fss {
	char		*path;
	char		 pubstr[AUDIT_FSS_PUB_SIZE];
	struct audit_fss_public pub;
	uint64_t	 epoch;		/* the epoch of seed */
	unsigned char	 seed[crypto_sign_SEEDBYTES];
	unsigned char	*leaves;	/* n public keys */
	unsigned char	*tree;		/* tree_build of them */
	uint32_t	 n;
	unsigned int	 depth;		/* n = 2^depth */
};

int
audit_fss_is_fss(const char *path)
{
	char	 line[sizeof(AUDIT_FSS_MAGIC)];
	FILE	*f;
	int	 yes;

	if ((f = fopen(path, "re")) == NULL)
		return 0;
	yes = fgets(line, sizeof(line), f) != NULL &&
	    strcmp(line, AUDIT_FSS_MAGIC) == 0;
	fclose(f);
	return yes;
}

/* The seed of the next epoch, in place. */
static void
evolve(unsigned char seed[crypto_sign_SEEDBYTES])
{
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)EVOLVE_CTX,
	    strlen(EVOLVE_CTX));
	crypto_hash_sha256_update(&st, seed, crypto_sign_SEEDBYTES);
	crypto_hash_sha256_final(&st, seed);
}

static void
leaf_hash(uint64_t i, const unsigned char *pk, unsigned char out[32])
{
	crypto_hash_sha256_state st;
	unsigned char		 b[9];
	int			 k;

	b[0] = 0;
	for (k = 0; k < 8; k++)
		b[1 + k] = (unsigned char)(i >> (56 - 8 * k));
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, b, sizeof(b));
	crypto_hash_sha256_update(&st, pk, crypto_sign_PUBLICKEYBYTES);
	crypto_hash_sha256_final(&st, out);
}

static void
node_hash(const unsigned char *l, const unsigned char *r,
    unsigned char out[32])
{
	crypto_hash_sha256_state st;
	unsigned char		 one = 1;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &one, 1);
	crypto_hash_sha256_update(&st, l, 32);
	crypto_hash_sha256_update(&st, r, 32);
	crypto_hash_sha256_final(&st, out);
}

/*
 * The whole tree over N leaf keys, level by level from the leaves' hashes
 * (N of them) to the root (the last 32 bytes): 2N - 1 hashes in a new
 * array, or NULL on allocation failure.
 */
static unsigned char *
tree_build(const unsigned char *leaves, uint32_t n)
{
	unsigned char	*t, *lo, *hi;
	uint32_t	 i, m;

	if ((t = malloc(((size_t)2 * n - 1) * 32)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		leaf_hash(i, leaves + (size_t)i * 32, t + (size_t)i * 32);
	for (lo = t, m = n; m > 1; lo = hi, m /= 2) {
		hi = lo + (size_t)m * 32;
		for (i = 0; i < m / 2; i++)
			node_hash(lo + (size_t)2 * i * 32,
			    lo + (size_t)(2 * i + 1) * 32, hi + (size_t)i * 32);
	}
	return t;
}

static unsigned int
log2_exact(uint32_t n)
{
	unsigned int	 d = 0;

	while ((1u << d) < n)
		d++;
	return (1u << d) == n ? d : 0;
}

static void
pubstr_make(const struct audit_fss_public *p, char out[AUDIT_FSS_PUB_SIZE])
{
	char	 b64[64];

	sodium_bin2base64(b64, sizeof(b64), p->root, sizeof(p->root),
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, AUDIT_FSS_PUB_SIZE, "%s%s:%" PRId64 ":%" PRId64,
	    AUDIT_FSS_PREFIX, b64, p->start, p->epoch);
}

int
audit_fss_parse_public(const char *s, struct audit_fss_public *p)
{
	const char	*b, *c, *end;
	size_t		 got;
	char		*e;

	if (strncmp(s, AUDIT_FSS_PREFIX, strlen(AUDIT_FSS_PREFIX)) != 0)
		return -1;
	b = s + strlen(AUDIT_FSS_PREFIX);
	if ((c = strchr(b, ':')) == NULL ||
	    sodium_base642bin(p->root, sizeof(p->root), b, (size_t)(c - b),
	    NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != sizeof(p->root) || end != c)
		return -1;
	errno = 0;
	p->start = strtoll(c + 1, &e, 10);
	if (errno != 0 || *e != ':')
		return -1;
	p->epoch = strtoll(e + 1, &e, 10);
	if (errno != 0 || (*e != '\0' && *e != '\n' && *e != '\r') ||
	    p->epoch <= 0)
		return -1;
	return 0;
}

/* Make a rename in the directory of PATH durable (logged on failure). */
static void
sync_dir(const char *path)
{
	const char	*slash = strrchr(path, '/');
	char		*dir;
	int		 fd;

	if (slash == NULL)
		dir = strdup(".");
	else
		dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (dir == NULL)
		return;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1)
		log_warn("audit key directory %s", dir);
	if (fd != -1)
		close(fd);
	free(dir);
}

/* Write the state of F to its file: a new file renamed over it.  0 or -1. */
static int
save(const struct audit_fss *f, const char *path, int force)
{
	char		*text = NULL, *tmp = NULL, *seed64 = NULL, *leaves64 = NULL;
	size_t		 sl = sodium_base64_ENCODED_LEN(sizeof(f->seed),
			    sodium_base64_VARIANT_ORIGINAL);
	size_t		 ll = sodium_base64_ENCODED_LEN((size_t)f->n * 32,
			    sodium_base64_VARIANT_ORIGINAL);
	int		 len = -1, rc = -1;

	if ((seed64 = malloc(sl)) == NULL || (leaves64 = malloc(ll)) == NULL)
		goto done;
	sodium_bin2base64(seed64, sl, f->seed, sizeof(f->seed),
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(leaves64, ll, f->leaves, (size_t)f->n * 32,
	    sodium_base64_VARIANT_ORIGINAL);
	if ((len = asprintf(&text, "%s\npublic %s\nepoch %" PRIu64 "\nseed %s\n"
	    "leaves %s\n", AUDIT_FSS_MAGIC, f->pubstr, f->epoch, seed64,
	    leaves64)) == -1) {
		text = NULL;
		goto done;
	}
	if (!force) {
		rc = audit_key_write(path, text, (size_t)len, 0600, 0);
		goto done;
	}
	if (asprintf(&tmp, "%s.new", path) == -1) {
		tmp = NULL;
		goto done;
	}
	if (audit_key_write(tmp, text, (size_t)len, 0600, 1) == -1)
		goto done;
	if (rename(tmp, path) == -1) {
		log_warn("audit key %s", path);
		unlink(tmp);
		goto done;
	}
	sync_dir(path);
	rc = 0;
 done:
	if (rc == -1 && text == NULL)
		log_warnx("audit key %s: out of memory", path);
	if (seed64 != NULL)
		sodium_memzero(seed64, sl);
	if (text != NULL)
		sodium_memzero(text, (size_t)len);
	free(seed64);
	free(leaves64);
	free(text);
	free(tmp);
	return rc;
}

int
audit_fss_generate(const char *secret, const char *public, int force,
    int64_t start, int64_t epoch, uint32_t n, char out[AUDIT_FSS_PUB_SIZE])
{
	struct audit_fss f;
	unsigned char	 seed[crypto_sign_SEEDBYTES];
	unsigned char	 sk[crypto_sign_SECRETKEYBYTES];
	unsigned char	*root = NULL;
	char		 line[AUDIT_FSS_PUB_SIZE + 1];
	uint32_t	 i;
	int		 rc = -1;

	if (sodium_init() < 0 || epoch <= 0 || n < 2 ||
	    log2_exact(n) == 0 || log2_exact(n) > AUDIT_FSS_MAX_DEPTH) {
		log_warnx("audit key: epochs must be a power of two from 2 to "
		    "2^%d and the epoch length positive", AUDIT_FSS_MAX_DEPTH);
		return -1;
	}
	memset(&f, 0, sizeof(f));
	f.n = n;
	if ((f.leaves = malloc((size_t)n * 32)) == NULL) {
		log_warn("audit key");
		return -1;
	}
	randombytes_buf(f.seed, sizeof(f.seed));
	memcpy(seed, f.seed, sizeof(seed));
	for (i = 0; i < n; i++) {
		crypto_sign_seed_keypair(f.leaves + (size_t)i * 32, sk, seed);
		evolve(seed);
	}
	if ((root = tree_build(f.leaves, n)) == NULL) {
		log_warn("audit key");
		goto done;
	}
	memcpy(f.pub.root, root + ((size_t)2 * n - 2) * 32, 32);
	f.pub.start = start;
	f.pub.epoch = epoch;
	pubstr_make(&f.pub, f.pubstr);
	if (save(&f, secret, force) == -1)
		goto done;
	snprintf(line, sizeof(line), "%s\n", f.pubstr);
	if (public != NULL &&
	    audit_key_write(public, line, strlen(line), 0644, force) == -1)
		goto done;
	memcpy(out, f.pubstr, AUDIT_FSS_PUB_SIZE);
	rc = 0;
 done:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(f.seed, sizeof(f.seed));
	free(f.leaves);
	free(root);
	return rc;
}

/* Decode base64 S (up to the end of its line) into OUT (SIZE bytes). */
static int
b64_line(const char *s, unsigned char *out, size_t size, size_t *got)
{
	const char	*end;
	size_t		 len = strcspn(s, "\r\n");

	if (sodium_base642bin(out, size, s, len, NULL, got, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || (size_t)(end - s) != len)
		return -1;
	return 0;
}

/* The value of the line "KEY value" in TEXT, or NULL. */
static const char *
field(const char *text, const char *key)
{
	const char	*p = text;
	size_t		 kl = strlen(key);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
			return p + kl + 1;
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return NULL;
}

struct audit_fss *
audit_fss_load(const char *path)
{
	struct audit_fss *f = NULL;
	struct stat	 st;
	char		*text = NULL, *e;
	const char	*v;
	size_t		 got;
	ssize_t		 n;
	int		 fd = -1, ok = 0;

	if (sodium_init() < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1 ||
	    fstat(fd, &st) == -1) {
		log_warn("audit key %s", path);
		goto done;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > 64 * 1024 * 1024) {
		log_warnx("audit key %s: not a regular file of a sane size",
		    path);
		goto done;
	}
	if ((st.st_mode & 077) != 0) {
		log_warnx("audit key %s: readable by group or others "
		    "(mode %03o); chmod 600 it", path,
		    (unsigned)(st.st_mode & 0777));
		goto done;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL ||
	    (f = calloc(1, sizeof(*f))) == NULL ||
	    (f->path = strdup(path)) == NULL) {
		log_warn("audit key %s", path);
		goto done;
	}
	for (got = 0; got < (size_t)st.st_size; got += (size_t)n)
		if ((n = read(fd, text + got, (size_t)st.st_size - got)) <= 0) {
			log_warn("audit key %s", path);
			goto done;
		}
	text[got] = '\0';
	if (strncmp(text, AUDIT_FSS_MAGIC "\n", strlen(AUDIT_FSS_MAGIC) + 1)
	    != 0 || (v = field(text, "public")) == NULL ||
	    audit_fss_parse_public(v, &f->pub) == -1 ||
	    (v = field(text, "epoch")) == NULL)
		goto bad;
	f->epoch = strtoull(v, &e, 10);
	if (*e != '\n' || (v = field(text, "seed")) == NULL ||
	    b64_line(v, f->seed, sizeof(f->seed), &got) == -1 ||
	    got != sizeof(f->seed) || (v = field(text, "leaves")) == NULL)
		goto bad;
	got = strcspn(v, "\r\n") / 4 * 3;
	if ((f->leaves = malloc(got + 3)) == NULL ||
	    b64_line(v, f->leaves, got + 3, &got) == -1 || got % 32 != 0 ||
	    got / 32 > (1u << AUDIT_FSS_MAX_DEPTH))
		goto bad;
	f->n = (uint32_t)(got / 32);
	if ((f->depth = log2_exact(f->n)) == 0 || f->epoch >= f->n)
		goto bad;
	if ((f->tree = tree_build(f->leaves, f->n)) == NULL) {
		log_warn("audit key %s", path);
		goto done;
	}
	if (sodium_memcmp(f->tree + ((size_t)2 * f->n - 2) * 32, f->pub.root,
	    32) != 0)
		goto bad;
	pubstr_make(&f->pub, f->pubstr);
	ok = 1;
	goto done;
 bad:
	log_warnx("audit key %s: not a modgate forward-secure key (create "
	    "one with `modgate audit keygen`)", path);
 done:
	if (fd != -1)
		close(fd);
	if (text != NULL)
		sodium_memzero(text, strlen(text));
	free(text);
	if (!ok) {
		audit_fss_free(f);
		return NULL;
	}
	return f;
}

void
audit_fss_free(struct audit_fss *f)
{
	if (f == NULL)
		return;
	sodium_memzero(f->seed, sizeof(f->seed));
	free(f->leaves);
	free(f->tree);
	free(f->path);
	free(f);
}

const char *
audit_fss_pubstr(const struct audit_fss *f)
{
	return f->pubstr;
}

/* The sibling hashes from leaf E up to the root, as a JSON array. */
static json_t *
merkle_path(const struct audit_fss *f, uint64_t e)
{
	const unsigned char *level = f->tree;
	char		 b64[64];
	json_t		*a;
	unsigned int	 l;

	if ((a = json_array()) == NULL)
		return NULL;
	for (l = 0; l < f->depth; level += (size_t)(f->n >> l) * 32, l++) {
		sodium_bin2base64(b64, sizeof(b64),
		    level + (size_t)((e >> l) ^ 1) * 32, 32,
		    sodium_base64_VARIANT_ORIGINAL);
		if (json_array_append_new(a, json_string(b64)) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int
audit_fss_sign(struct audit_fss *f, int64_t t,
    size_t (*msgfn)(char *, size_t, uint64_t, void *), void *arg,
    uint64_t *epochp, char *pk, json_t **pathp, char *sig)
{
	unsigned char	 seed[crypto_sign_SEEDBYTES];
	struct audit_key k;
	char		 msg[512];
	uint64_t	 e, old = f->epoch;
	size_t		 len;
	int		 rc = -1;

	if (t < f->pub.start) {
		log_warnx("audit key %s: the clock is before the key's first "
		    "epoch", f->path);
		return -1;
	}
	e = (uint64_t)((t - f->pub.start) / f->pub.epoch);
	if (e < f->epoch) {
		log_warnx("audit key %s: the clock is in epoch %" PRIu64 ", "
		    "before the key's (%" PRIu64 "): it cannot sign for the "
		    "past", f->path, e, f->epoch);
		return -1;
	}
	if (e >= f->n) {
		log_warnx("audit key %s: all %" PRIu32 " epochs are used up; "
		    "create a new key", f->path, f->n);
		return -1;
	}
	if (e > f->epoch) {
		memcpy(seed, f->seed, sizeof(seed));
		for (; f->epoch < e; f->epoch++)
			evolve(f->seed);
		if (save(f, f->path, 1) == -1) {
			/* keep signing with the older seed rather than lose
			 * the only copy of the key */
			memcpy(f->seed, seed, sizeof(seed));
			f->epoch = old;
			sodium_memzero(seed, sizeof(seed));
			return -1;
		}
		sodium_memzero(seed, sizeof(seed));
	}
	crypto_sign_seed_keypair(k.pk, k.sk, f->seed);
	len = msgfn(msg, sizeof(msg), e, arg);
	if (audit_key_sign(&k, msg, len, sig) == 0 &&
	    (*pathp = merkle_path(f, e)) != NULL) {
		audit_key_pubstr(k.pk, pk);
		*epochp = e;
		rc = 0;
	}
	sodium_memzero(&k, sizeof(k));
	return rc;
}

int
audit_fss_check(const struct audit_fss_public *p, uint64_t e, const char *pk,
    const json_t *path, int64_t t, const char *msg, size_t len,
    const char *sig, char *why, size_t whysize)
{
	unsigned char	 key[crypto_sign_PUBLICKEYBYTES], h[32], s[32];
	const json_t	*x;
	size_t		 i, got;

	if (audit_key_parse_public(pk, key) == -1 || !json_is_array(path) ||
	    json_array_size(path) > AUDIT_FSS_MAX_DEPTH) {
		snprintf(why, whysize, "checkpoint without a valid epoch key "
		    "or path");
		return -1;
	}
	if (t < p->start || (uint64_t)((t - p->start) / p->epoch) != e) {
		snprintf(why, whysize, "checkpoint of epoch %" PRIu64 " dated "
		    "outside it (a later key signing for the past)", e);
		return -1;
	}
	if (e >> json_array_size(path) != 0) {
		snprintf(why, whysize, "checkpoint epoch %" PRIu64 " beyond "
		    "its key's epochs", e);
		return -1;
	}
	leaf_hash(e, key, h);
	json_array_foreach(path, i, x) {
		if (!json_is_string(x) || b64_line(json_string_value(x), s,
		    sizeof(s), &got) == -1 || got != sizeof(s)) {
			snprintf(why, whysize, "checkpoint path is not base64 "
			    "hashes");
			return -1;
		}
		if ((e >> i) & 1)
			node_hash(s, h, h);
		else
			node_hash(h, s, h);
	}
	if (sodium_memcmp(h, p->root, sizeof(h)) != 0) {
		snprintf(why, whysize, "epoch %" PRIu64 " key is not one of the "
		    "forward-secure key's", e);
		return -1;
	}
	if (audit_key_check(key, msg, len, sig) == -1) {
		snprintf(why, whysize, "bad checkpoint signature (the records "
		    "before it were changed, or the checkpoint was)");
		return -1;
	}
	return 0;
}
