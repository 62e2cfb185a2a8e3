/*
 * peer: may a client connected on a Unix socket use the daemon?  Shared by
 * the protocol socket and the HTTP listener's Unix socket.
 */
#ifndef MODGATE_PEER_H
#define MODGATE_PEER_H

#include "config.h"
#include "verdict.h"

/*
 * 1 when PEER (from SO_PEERCRED) is root, the daemon's own uid, in
 * allowed_uids, or has its primary group or, read from FD with
 * SO_PEERGROUPS, a supplementary group in allowed_gids; or when both lists
 * are empty.  FD may be -1 (no supplementary groups).  0 otherwise.
 */
int	 peer_allowed(const struct server_conf *sv, const struct peer *peer,
	    int fd);

#endif
