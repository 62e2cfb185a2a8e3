/*
 * listen: binding Unix sockets.  See include/listen.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"

/* 1 when something accepts connections on SUN. */
static int
socket_alive(const struct sockaddr_un *sun)
{
	int	 fd, alive;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	alive = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 ||
	    errno == EAGAIN;
	close(fd);
	return alive;
}

/* Remove a stale socket file at SUN's path.  0 when the path is free. */
static int
remove_stale(const struct sockaddr_un *sun)
{
	const char	*path = sun->sun_path;
	struct stat	 st;

	if (lstat(path, &st) == -1)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("%s: exists and is not a socket", path);
		return -1;
	}
	if (socket_alive(sun)) {
		log_warnx("%s: another server is listening", path);
		return -1;
	}
	if (unlink(path) == -1) {
		log_warn("%s: cannot remove the stale socket", path);
		return -1;
	}
	log_info("%s: removed a stale socket", path);
	return 0;
}

int
listen_unix(const char *path, int mode, const char *group)
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	mode_t			 old;
	int			 fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("%s: socket path too long", path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (remove_stale(&sun) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("socket");
		return -1;
	}
	old = umask(0777 & ~(mode_t)mode);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		log_warn("bind %s", path);
		close(fd);
		return -1;
	}
	umask(old);
	if (chmod(path, (mode_t)mode) == -1) {
		log_warn("chmod %s", path);
		goto fail;
	}
	if (group[0] != '\0') {
		if ((gr = getgrnam(group)) == NULL) {
			log_warnx("server.socket_group: no group \"%s\"",
			    group);
			goto fail;
		}
		if (chown(path, (uid_t)-1, gr->gr_gid) == -1) {
			log_warn("chown %s", path);
			goto fail;
		}
	}
	if (listen(fd, SOMAXCONN) == -1) {
		log_warn("listen %s", path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	unlink(path);
	return -1;
}
