/*
 * fuzz-config: config_load (libconfig syntax, the options table, policies,
 * peers) on arbitrary bytes written to a scratch file.  A config it accepts
 * must be whole: a socket path, a default policy that exists, and limits
 * inside their documented ranges.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__lsan_default_suppressions(void);

/*
 * libconfig's own scanner (libconfig 1.7) leaks the text of a string token
 * and its string buffer when the grammar then fails (e.g. the files '""'
 * and '"'''"'"'): third-party, a few bytes per refused config file, not
 * ours to fix.  Only allocations made inside libconfig are suppressed.
 */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig_yylex\nleak:strbuf_append\n";
}

static char	 dir[64], file[128];

static void
cleanup(void)
{
	unlink(file);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/fuzz-config.XXXXXX",
	    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(file, sizeof(file), "%s/modgated.conf", dir);
	atexit(cleanup);
	log_init("fuzz-config", 1, 0);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*cfg;
	FILE		*f;
	size_t		 i;

	if ((f = fopen(file, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();
	if ((cfg = config_load(file)) == NULL)
		return 0;
	if (cfg->server.socket == NULL || cfg->server.max_connections < 1 ||
	    cfg->server.max_request_bytes < 1 || cfg->rules.n_paths >
	    CONFIG_MAX_PATHS || cfg->n_policies > CONFIG_MAX_POLICIES)
		abort();
	if (config_policy(cfg, cfg->server.default_policy) == NULL)
		abort();
	for (i = 0; i < cfg->n_policies; i++)
		if (cfg->policies[i].name == NULL ||
		    config_policy(cfg, cfg->policies[i].name) == NULL ||
		    cfg->policies[i].n_thresholds > CONFIG_MAX_CATEGORIES)
			abort();
	config_free(cfg);
	return 0;
}
