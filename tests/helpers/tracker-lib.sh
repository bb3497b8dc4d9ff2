# Shared by tests/integration/tracker_*.sh (source after tests/lib.sh).
#   tr_setup [TFS_SIZE] [JFS_SIZE]   loop TFS at $TFS (ext4, or $TR_FSTYPE), journal
#                                    ext4 at $T/jfs, journal dir $J
#   tr_start [tracker args...]       start hsm-tracker, wait for its "ready" line
#   tr_stop                          SIGTERM, wait, expect exit 0
#   tr_feed feed|intents|epochs|markers    records, tab-separated (tracker-feed)
#   tr_wait_settled [SECS]           until nothing is in flight
HELPERS=$HSMJ_BUILD/tests/helpers
WL=$HELPERS/workload-ops
TPID=

tr_setup() {
	need_root
	[ -x "$BIN/hsm-tracker" ] || fail "build first: $BIN/hsm-tracker missing"
	[ -x "$WL" ] || fail "build first: $WL missing"
	local size=${1:-256M}
	[ "${TR_FSTYPE:-ext4}" = ext4 ] || size=512M # xfs wants >= 300M
	t_mkfs tfs "${TR_FSTYPE:-ext4}" "$size"
	t_mkfs jfs ext4 "${2:-256M}"
	TFS=$T/tfs
	J=$T/jfs/journal
	TLOG=$T/tracker.log
}

tr_start() {
	: >"$TLOG"
	t_bg TPID "$BIN/hsm-tracker" --journal "$J" --watch "$TFS" --settle-delay 0.2 \
		--heartbeat 0.5 -v "$@" 2>>"$TLOG"
	local i
	for ((i = 0; i < 400; i++)); do
		grep -q ': ready:' "$TLOG" && return 0
		kill -0 "$TPID" 2>/dev/null || { cat "$TLOG" >&2; fail "hsm-tracker exited during start"; }
		sleep 0.05
	done
	cat "$TLOG" >&2
	fail "hsm-tracker not ready after 20 s"
}

tr_stop() {
	local rc=0
	kill -TERM "$TPID"
	wait "$TPID" || rc=$?
	[ "$rc" = 0 ] || { cat "$TLOG" >&2; fail "hsm-tracker exited with $rc at SIGTERM"; }
	TPID=
}

tr_feed() { "$HELPERS/tracker-feed" "$J" "$1"; }

tr_in_flight_count() { tr_feed intents | wc -l; }

_tr_none_in_flight() { [ "$(tr_in_flight_count)" = 0 ]; }

tr_wait_settled() {
	t_wait_for "${1:-20}" _tr_none_in_flight ||
		{ tr_feed intents >&2; fail "intents still in flight after ${1:-20} s"; }
}

# tr_changes: "path<TAB>reasons" of the change records, in feed order.
tr_changes() { tr_feed feed | awk -F'\t' '$2 == "change" { print $7 "\t" $3 }'; }

# tr_alive: the tracker still runs; else fail naming the cause.
tr_alive() {
	kill -0 "$TPID" 2>/dev/null && return 0
	tail -n 20 "$TLOG" >&2
	if grep -q 'Assertion.*failed' "$TLOG"; then
		fail "hsm-tracker aborted inside RocksDB (an info LOG write after a device error trips an assertion in librocksdb); the group fd closed, so writes now pass UNRECORDED"
	fi
	fail "hsm-tracker died"
}
