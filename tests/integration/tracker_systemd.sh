#!/bin/bash
# The example unit passes `systemd-analyze verify`, and the daemon speaks the
# sd_notify protocol: READY=1 once the marks are in place (a write right
# after it is tracked), STATUS= with counters, WATCHDOG=1 when asked,
# STOPPING=1 at SIGTERM.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
tr_setup

if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/unit"
	# verify wants ExecStart to exist: point it at this build.
	sed "s|/usr/local/bin/hsm-tracker|$BIN/hsm-tracker|" \
		"$here/docs/systemd/hsm-tracker.service" >"$T/unit/hsm-tracker.service"
	out=$(systemd-analyze verify --man=no "$T/unit/hsm-tracker.service" 2>&1) ||
		fail "systemd-analyze verify: $out"
	# verify only warns about bad values: any output is a problem.
	[ -z "$out" ] || fail "systemd-analyze verify complains: $out"
	grep -q '^Type=notify$' "$T/unit/hsm-tracker.service" || fail "the unit is not Type=notify"
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
tr_stop
t_wait_for 10 grep -q '^STOPPING=1' "$T/notify.out" || fail "no STOPPING=1"
note "$(grep '^STATUS=' "$T/notify.out" | tail -n1)"
