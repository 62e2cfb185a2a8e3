/*
 * snapshot: load config, rules and model into one immutable,
 * reference-counted set.  See include/snapshot.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "classifier.h"
#include "config.h"
#include "log.h"
#include "model.h"
#include "rules.h"
#include "snapshot.h"

#define SNAPSHOT_FILE_MAX	(16 * 1024 * 1024)	/* config file bytes */

static atomic_ulong	 snapshot_generation;

/* Feed the bytes of FILE into ST.  0, or -1 after logging. */
static int
digest_file(crypto_hash_sha256_state *st, const char *file)
{
	unsigned char	 buf[8192];
	ssize_t		 n;
	size_t		 total = 0;
	int		 fd, rv = -1;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s", file);
		return -1;
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("%s", file);
			goto done;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > SNAPSHOT_FILE_MAX) {
			log_warnx("%s: larger than %d bytes", file,
			    SNAPSHOT_FILE_MAX);
			goto done;
		}
		crypto_hash_sha256_update(st, buf, (unsigned long long)n);
	}
	rv = 0;
done:
	close(fd);
	return rv;
}

struct snapshot *
snapshot_load(const char *file, const char *socket)
{
	struct snapshot			*snap;
	crypto_hash_sha256_state	 st;
	unsigned char			 hash[crypto_hash_sha256_BYTES];
	char				*s;

	if (sodium_init() < 0) {
		log_warnx("libsodium initialisation failed");
		return NULL;
	}
	if ((snap = calloc(1, sizeof(*snap))) == NULL) {
		log_warn("snapshot");
		return NULL;
	}
	atomic_init(&snap->refs, 1);
	if ((snap->cfg = config_load(file)) == NULL)
		goto fail;
	if (socket != NULL) {
		if ((s = strdup(socket)) == NULL) {
			log_warn("snapshot");
			goto fail;
		}
		free(snap->cfg->server.socket);
		snap->cfg->server.socket = s;
	}

	if (snap->cfg->rules.n_paths > 0 &&
	    (snap->rules = rules_load(&snap->cfg->rules, snap->cfg->dir)) == NULL)
		goto fail;
	if (snap->cfg->classifier.enabled &&
	    (snap->model = model_load(snap->cfg->classifier.model)) == NULL)
		goto fail;

	/* The version covers everything that changes a verdict. */
	crypto_hash_sha256_init(&st);
	if (digest_file(&st, snap->cfg->file) == -1)
		goto fail;
	if (snap->rules != NULL)
		rules_digest(snap->rules, &st);
	if (snap->model != NULL)
		model_digest(snap->model, &st);
	crypto_hash_sha256_final(&st, hash);
	memcpy(snap->version, "sha256:", 7);
	sodium_bin2hex(snap->version + 7, sizeof(snap->version) - 7, hash,
	    sizeof(hash));
	snap->generation = atomic_fetch_add(&snapshot_generation, 1) + 1;
	return snap;
fail:
	snapshot_unref(snap);
	return NULL;
}

struct snapshot *
snapshot_ref(struct snapshot *snap)
{
	atomic_fetch_add_explicit(&snap->refs, 1, memory_order_relaxed);
	return snap;
}

void
snapshot_unref(struct snapshot *snap)
{
	if (snap == NULL)
		return;
	if (atomic_fetch_sub_explicit(&snap->refs, 1,
	    memory_order_acq_rel) != 1)
		return;
	rules_free(snap->rules);
	model_free(snap->model);
	config_free(snap->cfg);
	free(snap);
}
