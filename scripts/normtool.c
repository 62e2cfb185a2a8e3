/*
 * normtool: print one normalisation form (raw, normalized, skeleton) of
 * each line of standard input, exactly as the rules stage computes it.
 * Used by scripts/gen-lexicon-rules.py to write patterns that match the
 * form; built against build/libmodgate.a by that script.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "normalize.h"

int
main(int argc, char **argv)
{
	char		 line[65536];
	struct normtext	 nt;
	int		 form;
	size_t		 len;

	if (argc != 2) {
		fprintf(stderr, "usage: normtool raw|normalized|skeleton\n");
		return 64;
	}
	for (form = 0; form < FORM_COUNT; form++)
		if (strcmp(argv[1], norm_form_name(form)) == 0)
			break;
	if (form == FORM_COUNT) {
		fprintf(stderr, "normtool: unknown form %s\n", argv[1]);
		return 64;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		len = strcspn(line, "\n");
		line[len] = '\0';
		if (!utf8_valid(line, len) || normalize(line, len, form,
		    &nt) == -1) {
			printf("\n");
			continue;
		}
		printf("%s\n", nt.s);
		normtext_clear(&nt);
	}
	return 0;
}
