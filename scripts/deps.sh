#!/bin/sh
# Install the Debian packages hsm-journal needs to build and test, only the
# missing ones, without questions. Safe to run again.
set -eu
PKGS="build-essential pkg-config librocksdb-dev liburing-dev libcmocka-dev
libsystemd-dev libjson-c-dev libisal-dev e2fsprogs xfsprogs btrfs-progs
util-linux attr acl rsync tar jq systemd python3 restic borgbackup
rocksdb-tools man-db"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root, or install them)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
