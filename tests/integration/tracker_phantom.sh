#!/bin/bash
# Intents of a commit that reported failure can still reach the journal (a
# failed fdatasync proves nothing: the jbd2 transaction may have landed, or
# the pages stay cached and the reopen replays the WAL). They are nobody's:
# the access was denied and the tracker does not cover the file. The
# tracker must find them after its first successful commit (their JSNs lie
# between its last good commit and that one) and resolve them itself: no
# intent stays in flight after the journal is back, without a restart.
# How: the journal's loop device fails under writers (fault-loopdev: every
# bio EIO) and comes back under the writers, repaired if ext4 aborted,
# ROUNDS times. A failed batch reaches the disk only in some faults (about
# one in three in fault_journal_*.sh), so a run without one proves nothing:
# the log line counted per round says whether it happened.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
FW=$HELPERS/fault-work FL=$HELPERS/fault-loopdev
[ -x "$FW" ] && [ -x "$FL" ] || fail "build first: $FW or $FL missing"
tr_setup
NW=4 PER=400 ROUNDS=${ROUNDS:-3}
mkdir "$TFS/w"
"$FW" prepare "$TFS/w" $((ROUNDS * NW * PER + NW * 10)) || fail "prepare"
t_on_exit "$FL $jfs_DEV restore"
tr_start
lines() { cat "$@" 2>/dev/null | wc -l; }
denied_in() { grep -c -e $'\topen:' -e $'\ttruncate:' "$1" 2>/dev/null; }
all_denied() { local w; for w in $(seq 1 $NW); do [ "$(denied_in "$T/$1.r$w")" -ge 3 ] || return 1; done; }
some_ok() { local w; for w in $(seq 1 $NW); do [ "$(lines "$T/$1.r$w")" -ge 5 ] || return 1; done; }
wpids=()
writers() { # PHASE FIRST COUNT
	local w wp
	wpids=()
	for w in $(seq 1 $NW); do
		t_bg wp "$FW" run --id "$w" --dir "$TFS/w" --first $(($2 + (w - 1) * $3)) --count "$3" \
			--create-every 5 --report "$T/$1.r$w" --max-seconds 50 --pace-ms 5 \
			--stop-file "$T/$1.stop" >"$T/$1.w$w.out"
		wpids+=("$wp")
	done
}
wait_writers() {
	local p
	for p in "${wpids[@]}"; do
		timeout 20 tail --pid="$p" -f /dev/null || fail "a writer hung (pid $p)"
		wait "$p"
	done
}
resolved=0
for r in $(seq 1 $ROUNDS); do
	writers r$r $(((r - 1) * NW * PER)) $PER
	t_wait_for 20 some_ok r$r || fail "round $r: the writers did not get going"
	"$FL" "$jfs_DEV" fail || fail "fail the journal's loop device"
	t_wait_for 20 all_denied r$r || { tail -n 20 "$TLOG"; fail "round $r: writers not denied"; }
	# Back while the writers go on: commits race the device's return.
	"$FL" "$jfs_DEV" restore || fail "restore the journal's loop device"
	before=$(lines "$T"/r$r.r*)
	more() { [ "$(lines "$T"/r$r.r*)" -ge $((before + 40)) ]; }
	t_wait_for 20 more
	touch "$T/r$r.stop"
	wait_writers
	if grep -q "^$jfs_DEV $T/jfs .*emergency_ro" /proc/mounts; then
		t_wait_for 10 umount "$T/jfs" || fail "cannot unmount the failed journal fs"
		e2fsck -fy "$jfs_DEV" >"$T/fsck.out" 2>&1
		[ $? -le 1 ] || { cat "$T/fsck.out"; fail "e2fsck"; }
		mount "$jfs_DEV" "$T/jfs" || fail "mount the repaired journal fs"
	fi
	# One write makes the tracker commit (and reopen the journal).
	t_wait_for 20 sh -c "echo x >>'$TFS/after$r'" || fail "round $r: writes still fail after the repair"
	tr_alive
	tr_wait_settled 20
	n=$(grep -c 'intents of failed commits reached the journal after all' "$TLOG")
	note "round $r: in flight 0 after the journal came back; phantom resolutions logged so far: $n"
done
grep 'intents of failed commits' "$TLOG"
grep -q 'started after a crash' "$TLOG" && fail "the worker crashed during a fault"
tr_stop
echo PASS
