#!/usr/bin/env bash
# The package's tests (`make package-test`; CI runs this from .ci/run as root):
#   1. build the package from this tree (packaging/build-deb.sh);
#   2. lintian --pedantic: no tag except the overrides in debian/f2bp2p.lintian-overrides;
#   3. systemd-analyze verify prints nothing; systemd-analyze security exposure at most 1.5;
#   4. piuparts: install, remove, purge in a clean Debian 13 chroot;
#   5. packaging/container-test.sh: the package in a Debian 13 container booted with systemd.
# Stages 2-3 use Debian 13's own lintian and systemd; all of them share one cached Debian 13 root.
set -euo pipefail
cd "$(dirname "$0")/.."
. packaging/lib.sh
need_root
need_host_packages mmdebstrap piuparts
export LC_ALL=C.UTF-8 SYSTEMD_COLORS=0 SYSTEMD_URLIFY=0

t0=$(date +%s)
work=$(mktemp -d /var/tmp/f2bp2p-pkgtest.XXXXXX)
cleanup() { umount -R "$work"/root.*/proc 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

bash packaging/build-deb.sh >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
deb=$(ls build/deb/f2bp2p_*.deb)
log "built $deb in $(($(date +%s) - t0)) s"

passed=0
failed=0
# check NAME CMD...: runs CMD in a subshell with errexit in force (inside `if` bash would ignore
# it), counts and prints the result.
check() {
	local name=$1 rc
	shift
	set +e
	(
		set -e
		"$@"
	) >"$work/check.out" 2>&1
	rc=$?
	set -e
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok - $name"
		sed 's/^/    /' "$work/check.out"
	else
		failed=$((failed + 1))
		echo "not ok - $name"
		sed 's/^/    /' "$work/check.out"
	fi
}

root=$(unpack_root "$work")
cp "$deb" "$root/tmp/"
in_root() { unshare --mount --pid --fork --mount-proc="$root/proc" chroot "$root" "$@"; }

lintian_clean() {
	local out
	local out rc=0
	# As an ordinary user: lintian warns about running as root.
	out=$(in_root runuser -u nobody -- lintian --pedantic --fail-on=error,warning,info,pedantic \
		"/tmp/$(basename "$deb")" 2>&1) || rc=$?
	[ -z "$out" ] || echo "$out"
	[ -z "$out" ] && [ "$rc" -eq 0 ]
}
check "lintian --pedantic: no tag but the justified overrides" lintian_clean

in_root dpkg -i "/tmp/$(basename "$deb")" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; exit 1; }
verify_quiet() {
	local out
	out=$(in_root systemd-analyze verify /usr/lib/systemd/system/f2bp2p.service \
		/usr/lib/systemd/system/f2bp2p-unban.service /usr/lib/systemd/system/f2bp2p-unban.path \
		/usr/lib/systemd/system/f2bp2p-unban.timer 2>&1)
	[ -z "$out" ] || { echo "$out"; return 1; }
}
check "systemd-analyze verify f2bp2p.service and the f2bp2p-unban units prints nothing" verify_quiet

exposure() {
	local out
	out=$(in_root systemd-analyze security --offline=true --threshold=15 --no-pager f2bp2p.service 2>&1) || {
		echo "$out"
		return 1
	}
	echo "$out" | tail -n1
	# The threshold is in tenths of the 0-10 scale printed: exposure at most 1.5.
	echo "$out" | tail -n1 | grep -Eq 'exposure level for f2bp2p.service: (0\.[0-9]|1\.[0-5]) '
}
check "systemd-analyze security: exposure at most 1.5" exposure

piuparts_passes() {
	# piuparts wants a gzipped base tarball; it copies an unpacked root just as well.
	# Ignored: what piuparts' own run of the package's logrotate file leaves, logrotate's state
	# (the status file records the log it rotated) and debconf's scratch folder.
	piuparts --existing-chroot="$(unpack_root "$work")" --distribution=trixie \
		--mirror="http://deb.debian.org/debian main" \
		--ignore=/var/lib/logrotate/status --ignore=/var/cache/debconf/tmp.ci/ \
		--tmpdir="$work" "$deb" >"$work/piuparts.log" 2>&1 || {
		tail -n 60 "$work/piuparts.log"
		return 1
	}
}
check "piuparts: install, remove and purge in a clean Debian 13 chroot" piuparts_passes

F2BP2P_DEB=$deb bash packaging/container-test.sh && container=0 || container=$?

log "package stage took $(($(date +%s) - t0)) s"
echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$container" -eq 0 ]
