/*
 * rules: the compiled rule set from rules/NAME.rules (man 5 modgate.rules),
 * shared and immutable, matched as a whole (Hyperscan prefilter, PCRE2
 * confirming) under PCRE2 match and depth limits.
 */
#ifndef MODGATE_RULES_H
#define MODGATE_RULES_H

#include <stddef.h>

#include "config.h"
#include "verdict.h"

struct ruleset;

/*
 * Parse, compile and self-test every rule named by CONF (paths relative to
 * BASE_DIR).  Returns the rule set, or NULL after logging every error as
 * "file:line:col: message".
 */
struct ruleset	*rules_load(const struct rules_conf *conf, const char *base_dir);
void		 rules_free(struct ruleset *);
size_t		 rules_count(const struct ruleset *);
/* Feed a digest of every rule's source into CTX (crypto_hash_sha256_state). */
void		 rules_digest(const struct ruleset *, void *ctx);

/*
 * Append every hit of RS on TEXT (valid UTF-8) to OUT, offsets into TEXT.
 * Safe from many threads at once.  Returns 0, or -1 when a limit was hit or
 * memory ran out (hits found so far are kept; the stage is degraded).
 */
int		 rules_match(const struct ruleset *rs, const char *text, size_t len,
		    struct match_list *out);

#endif
