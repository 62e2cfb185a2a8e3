/*
 * modgate: the command-line tool (man 1 modgate).  One subcommand per
 * src/cmd-NAME.c; this file only dispatches.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cmd.h"
#include "log.h"

static const struct subcommand {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
} subcommands[] = {
	{ "audit",	cmd_audit,	"audit verify|show|query|keygen ... (modgate audit for usage)" },
	{ "check",	cmd_check,	"check [-j] [-i id] [-p policy] [-s socket] [text | -]" },
	{ "eval",	cmd_eval,	"eval [-j] [-m model] [-c config] [-p policy] file.jsonl" },
	{ "lint",	cmd_lint,	"lint [-q] [-c config | file-or-dir ...]" },
	{ "logits",	cmd_logits,	"logits [-t] [-m model] [-w window] [-s stride] [-b batch] < file.jsonl" },
	{ "reload",	cmd_reload,	"reload [-s socket]" },
	{ "scan",	cmd_scan,	"scan [-q] [-w] [-c config] [-p policy] [-R rules ...] file | -" },
	{ "stats",	cmd_stats,	"stats [-j | --prometheus] [-s socket]" },
};

#define NSUBCOMMANDS	(sizeof(subcommands) / sizeof(subcommands[0]))

/* Prints the usage to FP; returns STATUS. */
static int
usage(FILE *fp, int status)
{
	size_t	 i;

	fprintf(fp, "usage:");
	for (i = 0; i < NSUBCOMMANDS; i++)
		fprintf(fp, "%s modgate %s\n", i == 0 ? "" : "      ",
		    subcommands[i].usage);
	fprintf(fp, "       modgate -V | --version | -h | --help\n");
	return status;
}

int
main(int argc, char **argv)
{
	size_t	 i;

	log_init("modgate", 1, 0);
	if (argc < 2)
		return usage(stderr, EX_USAGE);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return usage(stdout, 0);
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("modgate %s\n", MODGATE_VERSION);
		return 0;
	}
	for (i = 0; i < NSUBCOMMANDS; i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "modgate: unknown command %s\n", argv[1]);
	return usage(stderr, EX_USAGE);
}
