/*
 * snapshot: one immutable, validated set of config, rules and model.
 * Loaded whole, then swapped in; requests hold a reference to the snapshot
 * they started on, so a reload never changes a request in flight.
 */
#ifndef MODGATE_SNAPSHOT_H
#define MODGATE_SNAPSHOT_H

#include <stdatomic.h>

#include "config.h"

struct ruleset;
struct model;

struct snapshot {
	atomic_int	 refs;
	struct config	*cfg;
	struct ruleset	*rules;		/* NULL: rules stage passes through */
	struct model	*model;		/* NULL: classifier stage passes through */
	char		 version[72];	/* "sha256:" + hex of config, rules, model */
	unsigned long	 generation;	/* 1 for the first load, +1 per reload */
};

/*
 * Load config FILE and everything it names.  SOCKET, when not NULL,
 * overrides server.socket.  Returns a snapshot holding one reference, or
 * NULL after logging every error as "file:line: message".
 */
struct snapshot	*snapshot_load(const char *file, const char *socket);
struct snapshot	*snapshot_ref(struct snapshot *);
/* Drop one reference; the last one frees everything.  NULL is a no-op. */
void		 snapshot_unref(struct snapshot *);

#endif
