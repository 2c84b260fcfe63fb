# Shared by the packaging scripts: the cached Debian 13 root and systemd-nspawn. Sourced, not run.
# Everything here needs root (mmdebstrap, chroot, nspawn).

CACHE_DIR=${F2BP2P_CACHE_DIR:-/var/cache/f2bp2p-ci}
NSPAWN_DIR="$CACHE_DIR/nspawn"

# One Debian 13 root serves the package build (debhelper, lintian, nodejs), piuparts (its base
# must already hold systemd, nodejs and ca-certificates, or piuparts blames systemd's own files
# on the package) and the booted-container tests (fail2ban, nftables, sshd, logrotate).
TRIXIE_PACKAGES=systemd,systemd-sysv,dbus,nodejs,ca-certificates,fail2ban,python3-systemd,nftables,logrotate,procps,iproute2,openssh-server,openssh-client,debhelper,lintian,binutils,build-essential

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Prints the path of the Debian 13 root tarball, building it (about 90 s) when the cache has none
# for this package list or the cached one is older than a week (security updates).
trixie_tarball() {
	local key tarball
	key=$(printf '%s' "$TRIXIE_PACKAGES" | sha256sum | cut -c1-12)
	tarball="$CACHE_DIR/trixie-$key.tar"
	mkdir -p "$CACHE_DIR"
	if [ ! -s "$tarball" ] || [ -n "$(find "$tarball" -mtime +7)" ]; then
		log "building the Debian 13 root $tarball"
		rm -f "$CACHE_DIR"/trixie-*.tar
		mmdebstrap --quiet --format=tar --variant=minbase --include="$TRIXIE_PACKAGES" trixie "$tarball.tmp" >&2
		mv "$tarball.tmp" "$tarball"
	fi
	printf '%s\n' "$tarball"
}

# Unpacks the cached root into a new folder under $1 and prints its path.
unpack_root() {
	local dir
	dir=$(mktemp -d "$1/root.XXXXXX")
	tar -C "$dir" -xf "$(trixie_tarball)"
	printf '%s\n' "$dir"
}

# Prints the command that runs systemd-nspawn. Installing systemd-container would upgrade the
# host's systemd packages, so its binary is unpacked into the cache and run from there.
nspawn_cmd() {
	if command -v systemd-nspawn >/dev/null 2>&1; then
		echo systemd-nspawn
		return
	fi
	if [ ! -x "$NSPAWN_DIR/usr/bin/systemd-nspawn" ]; then
		log "unpacking systemd-nspawn into $NSPAWN_DIR"
		local tmp
		tmp=$(mktemp -d)
		(cd "$tmp" && apt-get download systemd-container libsystemd-shared >&2)
		mkdir -p "$NSPAWN_DIR"
		for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$NSPAWN_DIR"; done
		rm -rf "$tmp"
	fi
	local libdir
	libdir=$(dirname "$(find "$NSPAWN_DIR" -name 'libsystemd-shared-*.so' | head -n1)")
	echo "env LD_LIBRARY_PATH=$libdir $NSPAWN_DIR/usr/bin/systemd-nspawn"
}

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "$0: needs root (it unpacks a Debian 13 root and runs it)" >&2
		exit 1
	fi
}

# apt-get install on the host, only what is missing.
need_host_packages() {
	local missing=()
	for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	if [ "${#missing[@]}" -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}
