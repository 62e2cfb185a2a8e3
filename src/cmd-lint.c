/*
 * modgate lint: parse and compile rules files and run their test lines,
 * as the daemon does at every load, without a daemon.
 *
 *	modgate lint [-q] [-c config | file-or-dir ...]
 *
 * With -c (or neither), the rules of the config's rules section; else the
 * files, directories (their *.rules) or globs given.  Prints every error as
 * "file:line:col: message" to stderr and a summary to stdout.  Exit status
 * 0 when the rules are good, EX_DATAERR when not, EX_CONFIG when the
 * config cannot be read, EX_USAGE for bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "rules.h"
#include "rules-internal.h"

#define LINT_DEFAULT_CONF	SYSCONFDIR "/modgate/modgated.conf"

static int
lint_usage(void)
{
	fprintf(stderr, "usage: modgate lint [-q] [-c config | "
	    "file-or-dir ...]\n");
	return EX_USAGE;
}

int
cmd_lint(int argc, char **argv)
{
	struct config	*cfg = NULL;
	struct rules_conf rc, *use;
	struct rules_diag diag;
	struct ruleset	*rs;
	struct rules_info info;
	struct timespec	 t0, t1;
	const char	*conf = NULL;
	size_t		 i;
	int		 ch, quiet = 0, rv;

	optind = 1;
	while ((ch = getopt(argc, argv, "c:q")) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			return lint_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (conf != NULL && argc > 0)
		return lint_usage();
	if (argc > CONFIG_MAX_PATHS) {
		fprintf(stderr, "modgate lint: at most %d paths\n",
		    CONFIG_MAX_PATHS);
		return EX_USAGE;
	}
	memset(&rc, 0, sizeof(rc));
	if (argc > 0) {
		for (i = 0; i < (size_t)argc; i++)
			rc.paths[i] = argv[i];
		rc.n_paths = (size_t)argc;
		rc.cache_dir = "";
		use = &rc;
	} else {
		if ((cfg = config_load(conf ? conf : LINT_DEFAULT_CONF)) == NULL)
			return EX_CONFIG;
		use = &cfg->rules;
	}
	memset(&diag, 0, sizeof(diag));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rs = rules_load_diag(use, cfg ? cfg->dir : NULL, &diag);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (i = 0; i < diag.n; i++)
		fprintf(stderr, "%s\n", diag.v[i]);
	if (rs == NULL) {
		fprintf(stderr, "modgate lint: %zu error%s\n", diag.n,
		    diag.n == 1 ? "" : "s");
		rv = EX_DATAERR;
	} else {
		rules_info(rs, &info);
		if (!quiet)
			printf("%zu rules OK (raw %zu, normalized %zu, skeleton "
			    "%zu; %zu prefiltered by Hyperscan, %zu by PCRE2 "
			    "alone; %zu disabled), %zu test lines passed, "
			    "%.2f s\n",
			    info.rules, info.per_form[FORM_RAW],
			    info.per_form[FORM_NORMALIZED],
			    info.per_form[FORM_SKELETON], info.hyperscan,
			    info.fallback, info.disabled, info.tests,
			    (double)(t1.tv_sec - t0.tv_sec) +
			    (t1.tv_nsec - t0.tv_nsec) / 1e9);
		rv = 0;
	}
	rules_free(rs);
	rules_diag_free(&diag);
	config_free(cfg);
	return rv;
}
