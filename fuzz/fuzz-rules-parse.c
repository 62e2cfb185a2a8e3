/*
 * fuzz-rules-parse: arbitrary bytes as a rules file.  Every diagnostic
 * must name the file; a small parsed set is also compiled (PCRE2,
 * Hyperscan prefilter, test lines) and, when it loads, matched against
 * its own test texts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "rules-internal.h"
#include "verdict.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define COMPILE_MAX_RULES	4
#define COMPILE_MAX_PATTERN	128

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rule_defs defs;
	struct rules_diag diag;
	struct rules_conf conf;
	struct ruleset	*rs;
	struct match_list ml;
	size_t		 i, k, plen = 0;

	memset(&defs, 0, sizeof(defs));
	memset(&diag, 0, sizeof(diag));
	(void)rules_parse_buf("fuzz.rules", (const char *)data, size, NULL,
	    &defs, &diag);
	for (i = 0; i < diag.n; i++)
		if (strncmp(diag.v[i], "fuzz.rules", 10) != 0)
			abort();
	for (i = 0; i < defs.n; i++) {
		if (defs.v[i].id == NULL || defs.v[i].pattern == NULL ||
		    defs.v[i].category == NULL)
			abort();
		plen += strlen(defs.v[i].pattern);
		if (defs.v[i].unless != NULL)
			plen += strlen(defs.v[i].unless);
	}
	if (defs.n == 0 || defs.n > COMPILE_MAX_RULES ||
	    plen > COMPILE_MAX_PATTERN) {
		rule_defs_free(&defs);
		rules_diag_free(&diag);
		return 0;
	}
	memset(&conf, 0, sizeof(conf));
	conf.match_limit = 10000;
	conf.depth_limit = 1000;
	conf.cache_dir = "";
	/* test texts outlive DEFS: compile takes it over */
	rs = rules_compile(&defs, &conf, &diag);
	if (rs != NULL) {
		struct rules_info info;

		rules_info(rs, &info);
		if (info.rules == 0 || info.hyperscan + info.fallback !=
		    info.rules)
			abort();
		for (k = 0; k < size && k < 64; k++) {
			memset(&ml, 0, sizeof(ml));
			(void)rules_match(rs, "some text k i l l 4111", 22, &ml);
			for (i = 0; i < ml.n; i++)
				if (ml.v[i].start >= ml.v[i].end ||
				    ml.v[i].end > 22)
					abort();
			match_list_clear(&ml);
			break;
		}
	}
	rules_free(rs);
	rules_diag_free(&diag);
	return 0;
}
