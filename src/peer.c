/* peer: see include/peer.h. */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "peer.h"

/*
 * 1 when a supplementary group of the peer on FD is in allowed_gids
 * (SO_PEERGROUPS: the groups the client had when it connected), so that
 * members of a group are allowed whatever their primary group.
 */
static int
groups_allowed(int fd, const struct server_conf *sv)
{
	gid_t		 small[64], *groups = small;
	socklen_t	 len = sizeof(small);
	size_t		 i, j, n;
	int		 found = 0;

	if (sv->n_allowed_gids == 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1) {
		if (errno != ERANGE || (groups = malloc(len)) == NULL)
			return 0;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups,
		    &len) == -1) {
			free(groups);
			return 0;
		}
	}
	n = len / sizeof(gid_t);
	for (i = 0; i < n && !found; i++)
		for (j = 0; j < sv->n_allowed_gids; j++)
			if (sv->allowed_gids[j] == groups[i]) {
				found = 1;
				break;
			}
	if (groups != small)
		free(groups);
	return found;
}

int
peer_allowed(const struct server_conf *sv, const struct peer *peer, int fd)
{
	size_t	 i;

	if (sv->n_allowed_uids == 0 && sv->n_allowed_gids == 0)
		return 1;
	if (peer->uid == 0 || peer->uid == geteuid())
		return 1;
	for (i = 0; i < sv->n_allowed_uids; i++)
		if (sv->allowed_uids[i] == peer->uid)
			return 1;
	for (i = 0; i < sv->n_allowed_gids; i++)
		if (sv->allowed_gids[i] == peer->gid)
			return 1;
	return fd != -1 && groups_allowed(fd, sv);
}
