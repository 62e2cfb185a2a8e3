#!/bin/sh
# deb-test.sh FILE.deb: install the modgate package the way an administrator
# would (dpkg -i), check that it created the modgate user, that the daemon
# accepts its installed configuration, rules and model (modgated -t), that
# `modgate --version` names the package's version and that the daemon,
# run as the modgate user, answers a request; then purge it and check that
# nothing of it is left.
#
# As root it works in a scratch root: an overlay of / in a private mount
# namespace, so the machine's own package database and users are never
# touched.  Where overlays are not allowed it installs on the machine
# itself, purges, and removes the modgate user if it created it.
# Ends with "N passed, N failed" like the other test runners.
set -eu

fail() { echo "deb-test: $*" >&2; exit 1; }

# inside DEB: the checks, run as root in the system under test.
inside() {
	deb=$1
	want=$(dpkg-deb -f "$deb" Version)
	dpkg -i "$deb" >/dev/null || fail "dpkg -i $deb failed"
	getent passwd modgate >/dev/null || fail "no modgate user after install"
	dpkg-query -W -f '${Conffiles}\n' modgate |
	    grep -q ' /etc/modgate/modgated.conf ' ||
	    fail "/etc/modgate/modgated.conf is not a conffile"
	out=$(/usr/sbin/modgated -t 2>&1) || fail "modgated -t: $out"
	[ "$out" = "configuration OK" ] || fail "modgated -t said: $out"
	echo "modgated -t: $out"
	ver=$(/usr/bin/modgate --version 2>&1) || fail "modgate --version: $ver"
	case "$ver" in *"$want"*) ;; *) fail "modgate --version: $ver, package $want" ;; esac
	echo "modgate --version: $ver"
	served
	files=$(dpkg-query -L modgate)
	dpkg --purge modgate >/dev/null || fail "dpkg --purge failed"
	dpkg-query -W -f '${db:Status-Status}\n' modgate 2>/dev/null |
	    grep -qv '^not-installed$' && fail "modgate still known to dpkg"
	left=
	for f in $files /etc/modgate /usr/share/modgate /var/log/modgate \
	    /var/lib/modgate; do
		case "$f" in /etc/modgate|/usr/share/modgate|/var/*modgate) ;;
		*) [ -d "$f" ] && continue ;; esac
		[ -e "$f" ] && left="$left $f"
	done
	[ -z "$left" ] || fail "left after purge:$left"
	echo "purge: nothing left"
}

# served: the installed daemon, as the modgate user with the directories
# systemd would make for it, answers a request.
served() {
	install -d -o modgate -g modgate -m 700 /var/log/modgate /var/lib/modgate
	install -d -o modgate -g modgate -m 755 /run/modgate
	sock=/run/modgate/deb-test.sock
	setpriv --reuid=modgate --regid=modgate --init-groups \
	    /usr/sbin/modgated -F -s "$sock" 2>/run/modgated.err &
	pid=$!
	n=0
	while [ ! -S "$sock" ] && kill -0 $pid 2>/dev/null && [ $n -lt 600 ]; do
		sleep 0.2; n=$((n + 1))
	done
	out=$(/usr/bin/modgate check -s "$sock" "hello there" 2>&1) || true
	kill -TERM $pid 2>/dev/null || true
	wait $pid || fail "modgated exited $?: $(cat /run/modgated.err)"
	[ "$out" = allow ] || fail "modgate check said: $out; $(cat /run/modgated.err)"
	echo "modgated as modgate, modgate check \"hello there\": $out"
}

if [ "${1:-}" = --inside ]; then
	inside "$2"
	exit 0
fi

deb=${1:?usage: deb-test.sh FILE.deb}
[ -f "$deb" ] || fail "no such file: $deb"
[ "$(id -u)" -eq 0 ] || fail "needs root (it installs the package)"
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

scratch=$(mktemp -d /tmp/modgate-deb-test.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# The scratch root: / read-only underneath, every write in a tmpfs.
if unshare -m sh -euc '
	s=$1; deb=$2; self=$3
	mount --make-rprivate /
	mount -t tmpfs tmpfs "$s"
	mkdir "$s/up" "$s/work" "$s/root"
	mount -t overlay overlay \
	    -o "lowerdir=/,upperdir=$s/up,workdir=$s/work" "$s/root"
	for d in proc dev sys; do mount --rbind "/$d" "$s/root/$d"; done
	mount -t tmpfs tmpfs "$s/root/tmp"
	mount -t tmpfs tmpfs "$s/root/run"
	cp "$deb" "$s/root/tmp/modgate.deb"
	cp "$self" "$s/root/tmp/deb-test.sh"
	echo "scratch root: overlay of / (nothing on this machine changes)"
	exec chroot "$s/root" /bin/sh /tmp/deb-test.sh --inside /tmp/modgate.deb
    ' sh "$scratch" "$deb" "$self" 2>"$scratch.err"; then
	rm -f "$scratch.err"
	echo "1 passed, 0 failed"
	exit 0
fi
if ! grep -q "^deb-test: " "$scratch.err"; then
	# No overlay here: the machine itself, cleaned up afterwards.
	cat "$scratch.err" >&2
	rm -f "$scratch.err"
	echo "deb-test: no scratch root (overlay refused); installing on this machine"
	had_user=0
	getent passwd modgate >/dev/null && had_user=1
	dpkg-query -W modgate >/dev/null 2>&1 && fail "modgate is already installed here"
	rc=0
	(inside "$deb") || rc=$?
	if [ $had_user -eq 0 ] && getent passwd modgate >/dev/null; then
		userdel modgate 2>/dev/null || true
		getent group modgate >/dev/null && groupdel modgate 2>/dev/null || true
	fi
	[ $rc -eq 0 ] && { echo "1 passed, 0 failed"; exit 0; }
	echo "0 passed, 1 failed"
	exit 1
fi
cat "$scratch.err" >&2
rm -f "$scratch.err"
echo "0 passed, 1 failed"
exit 1
