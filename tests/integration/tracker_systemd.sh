#!/bin/bash
# The example units (hsm-recover.service before hsm-tracker.service) pass
# `systemd-analyze verify` together, and the daemon speaks the sd_notify
# protocol: READY=1 once the marks are in place (a write right after it is
# tracked), STATUS= with counters, WATCHDOG=1 when asked (from the
# supervisor, which SIGKILLs and restarts a worker that stopped making
# progress), STOPPING=1 at SIGTERM.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
tr_setup

if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/unit"
	# verify wants ExecStart to exist: point it at this build.
	for u in hsm-tracker hsm-recover; do
		sed -e "s|/usr/local/bin/hsm-tracker|$BIN/hsm-tracker|" \
			-e "s|/usr/local/bin/hsm-recover|$BIN/hsm-recover|" \
			"$here/docs/systemd/$u.service" >"$T/unit/$u.service"
	done
	out=$(cd "$T/unit" && systemd-analyze verify --man=no hsm-recover.service hsm-tracker.service 2>&1) ||
		fail "systemd-analyze verify: $out"
	# verify only warns about bad values: any output is a problem.
	[ -z "$out" ] || fail "systemd-analyze verify complains: $out"
	grep -q '^Type=notify$' "$T/unit/hsm-tracker.service" || fail "the unit is not Type=notify"
	grep -q '^NotifyAccess=all$' "$T/unit/hsm-tracker.service" ||
		fail "the worker sends READY=1: the unit needs NotifyAccess=all"
	grep -q '^After=hsm-recover.service$' "$T/unit/hsm-tracker.service" ||
		fail "the tracker unit is not ordered after hsm-recover.service"
	grep -q '^Before=hsm-tracker.service$' "$T/unit/hsm-recover.service" ||
		fail "hsm-recover.service is not ordered before the tracker"
	grep -q '^Type=oneshot$' "$T/unit/hsm-recover.service" || fail "hsm-recover.service is not oneshot"
	note "systemd-analyze verify: clean"
else
	echo "NOTE: systemd-analyze is not installed: the unit file was NOT verified" >&2
fi

head -c 4096 /dev/urandom >"$TFS/f"
t_bg LPID sh -c 'exec "$1" "$2" >"$3"' sh "$HELPERS/tracker-notify-listen" "$T/notify.sock" "$T/notify.out"
t_wait_for 10 test -S "$T/notify.sock" || fail "notify listener did not start"
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000 tr_start
# tr_start waited for the "ready" log line, which follows READY=1.
t_wait_for 10 grep -q '^READY=1' "$T/notify.out" || fail "no READY=1"
"$WL" write "$TFS/f" || fail "write"
t_wait_for 10 grep -q '^WATCHDOG=1' "$T/notify.out" || fail "no WATCHDOG=1 with WATCHDOG_USEC set"
has_status() { grep '^STATUS=' "$T/notify.out" | grep -q 'intents [1-9].*settled [1-9].*changes [1-9]'; }
t_wait_for 20 has_status || { cat "$T/notify.out"; fail "STATUS= never showed the intent, settle and change"; }
# A worker that stops making progress (SIGSTOP) is killed by the supervisor
# after WATCHDOG_USEC and replaced; the supervisor kept pinging meanwhile.
wpid=$(cat "/proc/$TPID/task/$TPID/children"); wpid=$(echo $wpid)
[ -n "$wpid" ] || fail "no worker"
kill -STOP "$wpid"
two_ready() { [ "$(grep -c ': ready:' "$TLOG")" -ge 2 ]; }
t_wait_for 20 two_ready || { cat "$TLOG"; fail "the stuck worker was not replaced"; }
grep -q "supervisor: worker $wpid made no progress" "$TLOG" || { cat "$TLOG"; fail "no watchdog kill logged"; }
[ ! -d "/proc/$wpid" ] || [ "$(awk '{ print $3 }' "/proc/$wpid/stat")" = Z ] || fail "the stuck worker still runs"
pings=$(grep -c '^WATCHDOG=1' "$T/notify.out")
more_pings() { [ "$(grep -c '^WATCHDOG=1' "$T/notify.out")" -gt "$pings" ]; }
t_wait_for 10 more_pings || fail "no WATCHDOG=1 after the restart"
"$WL" write "$TFS/f" || fail "write after the watchdog restart"
tr_stop
t_wait_for 10 grep -q '^STOPPING=1' "$T/notify.out" || fail "no STOPPING=1"
note "$(grep '^STATUS=' "$T/notify.out" | tail -n1)"
