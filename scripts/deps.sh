#!/bin/sh
# deps.sh [build|run|test|model|deb]: install the Debian packages modgate
# needs for that purpose when they are missing (run: the build, and socat
# for the README's first example).  As root it runs apt-get; otherwise it
# prints the exact apt-get line and fails.
set -eu

build="make gcc pkg-config libevent-dev libpcre2-dev libopenblas-dev
libconfig-dev libjansson-dev libutf8proc-dev libhyperscan-dev libsodium-dev
libsystemd-dev"
run="$build socat"
test="$build libcmocka-dev socat python3 clang libclang-rt-14-dev mandoc
python3-torch python3-numpy prometheus systemd logrotate
curl nodejs wrk valgrind"
model="python3-torch python3-numpy wordnet-base dict-gcide"
deb="$build debhelper dpkg-dev fakeroot lintian mandoc"

# npm (for the openai client test) comes with nodejs from NodeSource; with
# Debian's nodejs it is a package of its own.
command -v npm >/dev/null 2>&1 || test="$test npm"

case "${1:-build}" in
build)	want=$build ;;
run)	want=$run ;;
test)	want=$test ;;
model)	want=$model ;;
deb)	want=$deb ;;
*)	echo "usage: deps.sh [build|run|test|model|deb]" >&2; exit 64 ;;
esac

missing=
for p in $want; do
	if ! dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null |
	    grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "modgate needs these Debian packages; run as root:" >&2
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends $missing >&2
