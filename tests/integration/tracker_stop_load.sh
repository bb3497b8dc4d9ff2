#!/bin/bash
# SIGTERM under load: writers keep creating and appending while the tracker
# stops. It must exit 0 within seconds (settling everything without a
# writer), the writers must not hang, nothing may be left in flight but
# files still held, and the next start must write a downtime marker.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup
for i in $(seq 0 7); do echo "$i" >"$TFS/a$i"; done
sync
tr_start
mkdir "$TFS/new"
writer() { # id
	local end=$((SECONDS + 4)) n=0
	while [ $SECONDS -lt $end ]; do
		"$WL" append "$TFS/a$((RANDOM % 8))" || echo "writer $1: append failed" >&2
		"$WL" create "$TFS/new/w$1.$n" || echo "writer $1: create failed" >&2
		n=$((n + 1))
	done
}
pids=()
for w in 1 2 3 4; do writer "$w" & pids+=($!); done
t_wait_for 10 test -e "$TFS/new/w4.5" || fail "writers did not get going"
start=$SECONDS
kill -TERM "$TPID"
timeout 30 tail --pid="$TPID" -f /dev/null || fail "the tracker did not stop within 30 s under load"
rc=0
wait "$TPID" || rc=$?
[ "$rc" = 0 ] || { tail "$TLOG"; fail "exit status $rc"; }
note "stopped in $((SECONDS - start)) s under load"
for p in "${pids[@]}"; do
	timeout 30 tail --pid="$p" -f /dev/null || fail "a writer hung"
done
[ "$(tr_in_flight_count)" = 0 ] || { tr_feed intents; fail "intents left in flight after a clean stop under load"; }
tr_feed epochs | tail -n1 | grep -q clean-stop || fail "no clean-stop"
tr_start
tr_feed feed | awk -F'\t' '$2 == "rescan" && $5 == "downtime"' | grep -q . || fail "no downtime marker"
tr_stop
