#!/usr/bin/env bash
# The package on a Debian 13 machine booted with systemd as PID 1 (systemd-nspawn --boot, with a
# private network: nothing leaves the container, and its firewall changes stay inside it).
#   F2BP2P_DEB=build/deb/f2bp2p_VERSION_ARCH.deb bash packaging/container-test.sh
# Every wait is for a state (systemctl is-system-running --wait, a socket that answers, a ban that
# fail2ban reports) with a deadline, never a fixed sleep. Prints one line per check and
# "container: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
. packaging/lib.sh
need_root
deb=$(realpath "${F2BP2P_DEB:?set F2BP2P_DEB to the package to test}")

work=$(mktemp -d /var/tmp/f2bp2p-ct.XXXXXX)
nspawn_pid=
cleanup() {
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		kill -TERM "$nspawn_pid" 2>/dev/null || true # nspawn asks the container's systemd to power off
		timeout 60 tail --pid="$nspawn_pid" -f /dev/null || kill -KILL "$nspawn_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

root=$(unpack_root "$work")
cp "$deb" "$root/root/f2bp2p.deb"
# The container's own name, so f2bp2p's first-install keygen has something to call the node.
echo f2bp2p-ct >"$root/etc/hostname"

nspawn=$(nspawn_cmd)
# shellcheck disable=SC2086 # nspawn_cmd prints a command with its environment
$nspawn --quiet --register=no --keep-unit --private-network --boot -D "$root" \
	>"$work/console.log" 2>&1 </dev/null &
nspawn_pid=$!

# The container's PID 1 is the systemd process among nspawn's descendants.
leader=
deadline=$((SECONDS + 60))
while [ -z "$leader" ]; do
	for pid in $(pgrep -P "$nspawn_pid" 2>/dev/null; pgrep -P "$(pgrep -P "$nspawn_pid" | head -n1)" 2>/dev/null); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ] && leader=$pid
	done
	if [ -z "$leader" ]; then
		kill -0 "$nspawn_pid" 2>/dev/null || { cat "$work/console.log"; echo "systemd-nspawn exited" >&2; exit 1; }
		[ $SECONDS -lt $deadline ] || { cat "$work/console.log"; echo "no systemd in the container" >&2; exit 1; }
		sleep 0.1
	fi
done

ct() { nsenter -t "$leader" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }
sh_ct() { ct sh -ec "$1"; }

# Booted: systemd's own socket answers, and is-system-running --wait returns once start-up is over.
state=
deadline=$((SECONDS + 120))
until state=$(nsenter -t "$leader" -a systemctl is-system-running --wait 2>/dev/null) || [ -n "$state" ]; do
	[ $SECONDS -lt $deadline ] || { cat "$work/console.log"; echo "the container did not boot" >&2; exit 1; }
	sleep 0.2
done
if [ "$state" != running ]; then
	echo "container state: $state" >&2
	ct systemctl --failed --no-pager >&2 || true
fi

passed=0
failed=0
# check NAME CMD...: runs CMD in a subshell with errexit in force (a check function stops at its
# first failing command; inside `if` bash would ignore errexit), counts and prints the result.
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
	else
		failed=$((failed + 1))
		echo "not ok - $name"
		sed 's/^/    /' "$work/check.out"
	fi
}

# Polls CMD (run in the container) until it succeeds, for at most $1 seconds.
await() {
	local seconds=$1
	shift
	local deadline=$((SECONDS + seconds))
	until ct "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			echo "gave up after ${seconds}s waiting for: $*"
			ct "$@" || true
			return 1
		fi
		sleep 0.2
	done
}

unit_prop() { ct systemctl show -P "$1" f2bp2p.service; }

# --- first install --------------------------------------------------------------------------
install_fresh() {
	ct env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /root/f2bp2p.deb
	sh_ct 'test "$(stat -c "%U %G %a" /etc/f2bp2p/keys/node.key)" = "f2bp2p f2bp2p 600"'
	sh_ct 'test "$(stat -c "%U %a" /etc/f2bp2p/keys)" = "f2bp2p 700"'
	sh_ct 'grep -q "^#name: alpha" /etc/f2bp2p/f2bp2p.yaml'
	sh_ct 'test -f /var/log/f2bp2p/bans.log'
}
check "apt install on a fresh machine: keys owned by f2bp2p, a commented config, an empty bans log" install_fresh

skipped_unconfigured() {
	# postinst started the unit; ExecCondition found no name: it is skipped, not failed.
	test "$(unit_prop ActiveState)" = inactive
	test "$(unit_prop Result)" = exec-condition || { unit_prop Result; return 1; }
	! ct systemctl is-failed --quiet f2bp2p.service
}
check "an unconfigured unit is skipped, not failed" skipped_unconfigured

# --- configure and start the packaged node ("alpha") ------------------------------------------
sh_ct 'sed -i "s|^#name: alpha|name: alpha|; s|^#listen: .*|listen: tcp://127.0.0.1:7711|" /etc/f2bp2p/f2bp2p.yaml'

node_ready() { await 60 f2bp2p status; }
starts_configured() {
	ct f2bp2p check
	ct systemctl start f2bp2p.service
	node_ready
}
check "configured, the service starts and its control socket answers root" starts_configured

runs_unprivileged() {
	local pid
	pid=$(unit_prop MainPID)
	test "$pid" -gt 0
	# MainPID is the node itself (ExecStart execs node through the /bin/sh wrapper).
	ct sh -ec "
		grep -q '^Uid:.*\\b$(ct id -u f2bp2p)\\b' /proc/$pid/status
		grep -Eq '^CapEff:\\s+0+$' /proc/$pid/status
		grep -Eq '^CapPrm:\\s+0+$' /proc/$pid/status
		grep -Eq '^CapBnd:\\s+0+$' /proc/$pid/status
		grep -Eq '^NoNewPrivs:\\s+1$' /proc/$pid/status
		test \"\$(stat -c '%U %G %a' /run/f2bp2p/control.sock)\" = 'f2bp2p f2bp2p 660'
		# LimitNOFILE=65536, or as high as this container's own hard limit lets systemd go.
		hard=\$(awk '/^Max open files/ { print \$5 }' /proc/1/limits)
		want=\$(( hard < 65536 ? hard : 65536 ))
		grep -Eq \"^Max open files +\$want +\$want \" /proc/$pid/limits
		test \"\$(systemctl show -P MemoryMax f2bp2p)\" = 1073741824
	" || { ct grep -E '^(Uid|Cap|NoNewPrivs)' "/proc/$pid/status"; ct grep 'open files' "/proc/$pid/limits"; return 1; }
}
check "the service runs as f2bp2p with no capabilities" runs_unprivileged

root_report() {
	local out
	out=$(ct f2bp2p report 203.0.113.10 --jail manual)
	[ "$out" = "203.0.113.10: accepted, score 100, banned here" ] || { echo "$out"; return 1; }
	ct grep -q ' BAN 203.0.113.10 score=100 ' /var/log/f2bp2p/bans.log
}
check "root's f2bp2p report reaches the daemon" root_report

# --- fail2ban wired the packaged way ----------------------------------------------------------
fail2ban_jail() {
	ct fail2ban-client reload
	await 30 sh -c 'fail2ban-client status f2bp2p | grep -q "File list:.*/var/log/f2bp2p/bans.log"'
}
check "fail2ban takes on the packaged f2bp2p jail" fail2ban_jail

# --- a friend ("bravo", a second node in the container) -----------------------------------------
setup_bravo() {
	sh_ct '
		mkdir -p /srv/bravo/friends.d
		cat >/srv/bravo/f2bp2p.yaml <<EOF
name: bravo
listen: tcp://127.0.0.1:7712
bans_log: /srv/bravo/bans.log
control_socket: /srv/bravo/control.sock
state_dir: /srv/bravo/state
EOF
		f2bp2p -c /srv/bravo/f2bp2p.yaml keygen --name bravo --endpoint tcp://127.0.0.1:7712 >/dev/null
		f2bp2p friend-block >/srv/bravo/friends.d/alpha.yaml
		f2bp2p -c /srv/bravo/f2bp2p.yaml friend-block >/etc/f2bp2p/friends.d/bravo.yaml
		systemd-run --unit=bravo --quiet f2bp2p -c /srv/bravo/f2bp2p.yaml run
	'
	await 60 f2bp2p -c /srv/bravo/f2bp2p.yaml status
	# alpha takes bravo on by reload, without a restart.
	local pid
	pid=$(unit_prop MainPID)
	ct systemctl reload f2bp2p.service
	await 30 sh -c 'f2bp2p status -o json | grep -A3 "\"bravo\"" | grep -q "\"connected\": true"'
	test "$(unit_prop MainPID)" = "$pid"
}
check "systemctl reload takes on a friend added to friends.d (same process)" setup_bravo

relayed_ban() {
	ct f2bp2p -c /srv/bravo/f2bp2p.yaml report 203.0.113.20 --jail sshd
	await 30 grep -q ' BAN 203.0.113.20 score=80 ' /var/log/f2bp2p/bans.log
	await 30 sh -c 'test "$(fail2ban-client get f2bp2p banned 203.0.113.20)" = 1'
	# fail2ban may count the ban a moment before its nftables action has run.
	await 30 sh -c 'nft list ruleset | grep -q 203.0.113.20' 
}
check "a friend's report is relayed, and the real fail2ban f2bp2p jail bans it (nftables)" relayed_ban

ignore_lifts_ban() {
	ct f2bp2p -c /srv/bravo/f2bp2p.yaml report 203.0.113.25 --jail sshd
	await 30 sh -c 'test "$(fail2ban-client get f2bp2p banned 203.0.113.25)" = 1'
	sh_ct 'cp /etc/f2bp2p/f2bp2p.yaml /root/before-ignore.yaml && printf "ignore:\n  - 203.0.113.25\n" >>/etc/f2bp2p/f2bp2p.yaml'
	# Only the path unit may start the unban service here.
	ct systemctl stop f2bp2p-unban.timer
	ct systemctl reload f2bp2p.service
	await 30 grep -q ' UNBAN 203.0.113.25 reason=ignore-list$' /var/log/f2bp2p/bans.log
	# f2bp2p-unban.path saw the line; f2bp2p-unban.service (root) had fail2ban unban the address.
	await 30 sh -c 'test "$(fail2ban-client get f2bp2p banned 203.0.113.25)" = 0'
	await 30 sh -c '! nft list ruleset | grep -q 203.0.113.25'
	ct systemctl is-enabled --quiet f2bp2p-unban.path
	ct systemctl is-enabled --quiet f2bp2p-unban.timer
	ct systemctl start f2bp2p-unban.timer
	sh_ct 'cp /root/before-ignore.yaml /etc/f2bp2p/f2bp2p.yaml'
	ct systemctl reload f2bp2p.service
}
check "ignore + reload lifts the ban: UNBAN line, f2bp2p-unban.path has fail2ban unban it (nftables)" ignore_lifts_ban

sshd_action() {
	sh_ct 'cp /etc/fail2ban/jail.d/f2bp2p-report.local.example /etc/fail2ban/jail.d/f2bp2p-report.local'
	# fail2ban 1.1 adds an action to a running jail only with reload --restart (docs/fail2ban.md).
	ct fail2ban-client reload --restart sshd
	await 30 sh -c 'fail2ban-client get sshd actions | grep -q f2bp2p'
	ct fail2ban-client set sshd banip 198.51.100.30
	await 30 grep -q ' BAN 198.51.100.30 score=100 ' /var/log/f2bp2p/bans.log
	ct f2bp2p status --ip 198.51.100.30 | grep -q 'score 100'
	# ... and on to bravo, at bravo's trust in alpha.
	await 30 grep -q ' BAN 198.51.100.30 score=80 ' /srv/bravo/bans.log
}
check "an sshd ban goes through the packaged action to the daemon and on to the friend" sshd_action

socket_permissions() {
	sh_ct '
		useradd --create-home admin && usermod -aG f2bp2p admin
		useradd --create-home other
	'
	ct runuser -u admin -- f2bp2p status >/dev/null
	local out
	if out=$(ct runuser -u other -- f2bp2p status 2>&1); then
		echo "other user got: $out"
		return 1
	fi
	echo "$out" | grep -q "permission denied" || { echo "$out"; return 1; }
	if echo "$out" | grep -q "is 'f2bp2p run'"; then return 1; fi
	if out=$(ct runuser -u other -- f2bp2p report 203.0.113.99 2>&1); then return 1; fi
	echo "$out" | grep -q "permission denied" || { echo "$out"; return 1; }
}
check "group f2bp2p member may run status; another user gets 'permission denied'" socket_permissions

reopened_count() { ct journalctl -u f2bp2p --no-pager -q -o cat --grep 'bans log reopened' | wc -l; }
logrotate_reload() {
	local before
	before=$(reopened_count)
	ct logrotate --force /etc/logrotate.d/f2bp2p
	ct test -s /var/log/f2bp2p/bans.log.1
	sh_ct 'test "$(stat -c "%U %a" /var/log/f2bp2p/bans.log)" = "f2bp2p 640"'
	# postrotate's reload only signals the node: wait until it has reopened the log.
	await 30 sh -c "test \$(journalctl -u f2bp2p --no-pager -q -o cat --grep 'bans log reopened' | wc -l) -gt $before"
	ct f2bp2p report 203.0.113.40
	ct grep -q ' BAN 203.0.113.40 ' /var/log/f2bp2p/bans.log
	if ct grep -q ' BAN 203.0.113.40 ' /var/log/f2bp2p/bans.log.1; then return 1; fi
	await 30 sh -c 'test "$(fail2ban-client get f2bp2p banned 203.0.113.40)" = 1'
}
check "logrotate, then reload: new lines go to the new bans log and fail2ban bans them" logrotate_reload

bad_reload_keeps_running() {
	local pid
	pid=$(unit_prop MainPID)
	sh_ct 'cp /etc/f2bp2p/f2bp2p.yaml /root/good.yaml && echo "threshold: lots" >>/etc/f2bp2p/f2bp2p.yaml'
	ct systemctl reload f2bp2p.service
	await 30 journalctl -u f2bp2p --grep 'reload refused' --no-pager -q
	test "$(unit_prop ActiveState)" = active
	test "$(unit_prop MainPID)" = "$pid"
	ct f2bp2p report 203.0.113.41 | grep -q accepted
}
check "a bad config on reload keeps the running one and says so" bad_reload_keeps_running

bad_config_no_restart_loop() {
	local restarts_before restarts_after state started=0 logged=0 cursor
	restarts_before=$(unit_prop NRestarts)
	cursor=$(ct journalctl -u f2bp2p -n 0 --show-cursor -q | sed -n 's/^-- cursor: //p')
	ct systemctl restart f2bp2p.service || started=$?
	# A unit waiting to restart is "activating (auto-restart)"; "failed" means no restart is coming.
	await 30 sh -c 'test "$(systemctl show -P ActiveState f2bp2p)" = failed' || true
	state=$(unit_prop ActiveState)/$(unit_prop Result)
	restarts_after=$(unit_prop NRestarts)
	# journald takes the check's output from a stream: wait for it, from this start on.
	await 30 env CURSOR="$cursor" sh -c 'journalctl -u f2bp2p --no-pager -q --after-cursor="$CURSOR" |
		grep -q "f2bp2p.yaml: threshold: expected a whole number"' || logged=1
	# Put the good config back before judging, so that the checks after this one start clean.
	sh_ct 'cp /root/good.yaml /etc/f2bp2p/f2bp2p.yaml'
	ct systemctl reset-failed f2bp2p.service
	ct systemctl start f2bp2p.service
	node_ready
	[ "$started" -ne 0 ] || { echo "systemctl restart succeeded with a bad config"; return 1; }
	[ "$state" = failed/exit-code ] || { echo "state: $state"; return 1; }
	[ "$restarts_after" = "$restarts_before" ] || { echo "restarted: $restarts_before -> $restarts_after"; return 1; }
	[ "$logged" -eq 0 ] || { echo "the journal does not show the problem"; return 1; }
}
check "a bad config at start fails once (exit 2) without a restart loop" bad_config_no_restart_loop

restart_keeps_state() {
	ct systemctl restart f2bp2p.service
	node_ready
	ct f2bp2p status --ip 203.0.113.20 | grep -q 'score 80 (threshold 80), banned'
}
check "restart keeps the node's state" restart_keeps_state

# fail2ban's action while the service is down: root's report is queued in the spool, and the
# service (running as f2bp2p) takes it in, bans it and removes the file once it runs again.
report_while_stopped() {
	local out
	ct systemctl stop f2bp2p.service
	out=$(ct f2bp2p report 203.0.113.30 --jail sshd)
	echo "$out" | grep -q '^203\.0\.113\.30: queued in /var/lib/f2bp2p/spool/' || { echo "$out"; return 1; }
	ct systemctl start f2bp2p.service
	node_ready
	await 30 grep -q ' BAN 203.0.113.30 score=100 ' /var/log/f2bp2p/bans.log
	await 30 sh -c '! ls /var/lib/f2bp2p/spool/*.report'
}
check "a report while the service is stopped is queued, then taken in and banned by the service" report_while_stopped

root_commands_leave_readable_files() {
	local out
	if out=$(ct f2bp2p run 2>&1); then return 1; fi
	echo "$out" | grep -q 'belongs to f2bp2p.*runuser -u f2bp2p -- f2bp2p run' || { echo "$out"; return 1; }
	ct f2bp2p keygen --name alpha --endpoint tcp://127.0.0.1:7711 --force >/dev/null
	sh_ct 'test "$(stat -c "%U %a" /etc/f2bp2p/keys/node.key)" = "f2bp2p 600"'
	ct systemctl restart f2bp2p.service
	node_ready
}
check "root's run refuses with what to run instead; root's keygen leaves keys the service reads" root_commands_leave_readable_files

upgrade_keeps_everything() {
	# The same package as version +1: a real upgrade through the maintainer scripts.
	local up=$work/upgrade
	dpkg-deb -R "$deb" "$up"
	sed -i 's/^Version: \(.*\)$/Version: \1+1/' "$up/DEBIAN/control"
	dpkg-deb -b "$up" "$root/root/f2bp2p-up.deb" >/dev/null
	sh_ct 'echo "# edited by the admin" >>/etc/f2bp2p/f2bp2p.yaml
		sha256sum /etc/f2bp2p/f2bp2p.yaml /etc/f2bp2p/keys/node.key /etc/f2bp2p/friends.d/bravo.yaml >/root/before.sum'
	ct env DEBIAN_FRONTEND=noninteractive apt-get install -y /root/f2bp2p-up.deb </dev/null
	ct sha256sum -c --quiet /root/before.sum
	node_ready
	ct f2bp2p status --ip 203.0.113.20 | grep -q 'banned'
}
check "an upgrade keeps keys, friends, state and the edited config" upgrade_keeps_everything

remove_then_purge() {
	ct env DEBIAN_FRONTEND=noninteractive apt-get remove -y f2bp2p
	ct test -s /etc/f2bp2p/keys/node.key
	ct test -d /var/lib/f2bp2p
	ct env DEBIAN_FRONTEND=noninteractive apt-get purge -y f2bp2p
	local left
	left=$(ct sh -c 'ls -d /etc/f2bp2p /var/lib/f2bp2p /var/log/f2bp2p /run/f2bp2p /usr/lib/f2bp2p \
		/etc/fail2ban/jail.d/f2bp2p.conf /etc/fail2ban/action.d/f2bp2p.conf /etc/fail2ban/filter.d/f2bp2p.conf \
		/etc/fail2ban/jail.d/f2bp2p-auth.conf /etc/fail2ban/filter.d/f2bp2p-auth.conf \
		/etc/logrotate.d/f2bp2p /etc/systemd/system/multi-user.target.wants/f2bp2p.service 2>/dev/null' || true)
	[ -z "$left" ] || { echo "left after purge: $left"; return 1; }
	# The admin's own fail2ban file stays.
	ct test -f /etc/fail2ban/jail.d/f2bp2p-report.local
}
check "remove keeps keys and state; purge leaves nothing of the package's, and the admin's .local" remove_then_purge

echo "container: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
