#!/usr/bin/env bash
# Builds the f2bp2p Debian 13 package from this tree: `make deb` runs this.
#   OUT=DIR (default build/deb) receives f2bp2p_VERSION_ARCH.deb and the .buildinfo/.changes.
# On Debian 13 it runs dpkg-buildpackage directly (build dependencies must be installed); anywhere
# else it builds in a cached Debian 13 root, so the package is made with Debian 13's debhelper and
# nodejs. node_modules comes from this tree (npm install runs here first when it is missing): the
# package build itself is offline.
set -euo pipefail
cd "$(dirname "$0")/.."
. packaging/lib.sh

out=$(realpath -m "${OUT:-build/deb}")
[ -x node_modules/.bin/tsc ] || npm install --no-audit --no-fund

work=$(mktemp -d /var/tmp/f2bp2p-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The tree as git sees it (tracked and new files, nothing ignored) plus node_modules.
copy_source() {
	mkdir -p "$1"
	{ git ls-files -co --exclude-standard -z; printf 'node_modules\0'; } |
		tar --null -T - -cf - | tar -C "$1" -xf -
}

if grep -qx 'VERSION_CODENAME=trixie' /etc/os-release; then
	copy_source "$work/f2bp2p"
	(cd "$work/f2bp2p" && dpkg-buildpackage -us -uc -b)
	built=$work
else
	need_root
	root=$(unpack_root "$work")
	copy_source "$root/build/f2bp2p"
	log "building in the Debian 13 root"
	unshare --mount --pid --fork --mount-proc="$root/proc" \
		chroot "$root" sh -c 'cd /build/f2bp2p && dpkg-buildpackage -us -uc -b'
	built=$root/build
fi
mkdir -p "$out"
rm -f "$out"/f2bp2p_*
cp "$built"/f2bp2p_*.deb "$built"/f2bp2p_*.buildinfo "$built"/f2bp2p_*.changes "$out"/
ls "$out"/f2bp2p_*.deb
