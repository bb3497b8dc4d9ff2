#!/bin/bash
# hsm-recover against what a real hsm-tracker leaves behind when SIGKILLed:
# its intents (real handles, pre-stats with generations) resolve to changed,
# gone or unchanged as the files say; the unclean epoch gets its marker; a
# running tracker makes hsm-recover exit 1 (journal held); and --dry-run,
# which works beside it, never waits on the tracker's pre-content group even
# when nobody answers it (SIGSTOPped tracker): O_PATH opens raise no event.
. "$(dirname "$0")/../lib.sh"
need_root
H=$HSMJ_BUILD/tests/helpers
[ -x "$BIN/hsm-tracker" ] || skip "hsm-tracker not built"
for p in "$BIN/hsm-recover" "$H/recover-dump"; do [ -x "$p" ] || fail "$p not built"; done

t_mkfs tfs ext4 256M
t_mkfs jdev ext4 256M
TFS=$T/tfs
J=$T/jdev/j
TLOG=$T/tracker.log
dump() { "$H/recover-dump" --journal "$J"; }
in_flight() { dump | awk '$1 == "in_flight" { print $2 }'; }
recovered() { dump | awk -v p="$1" '$1 == "feed" && $3 == "change" && $4 ~ /recovered/ && $NF == p { print $4 }'; }

for f in w1 w2 w3 w4 r1 r2 u1 u2; do head -c 10000 /dev/urandom >"$TFS/$f"; done
sync

# A long settle delay: what it touches stays in flight until the kill.
# --no-supervise: one process, so that SIGSTOP stops the one that answers
# and SIGKILL leaves the journal free when wait returns (with a supervisor,
# $TPID is the supervisor: its worker keeps answering while it is stopped,
# and dies of PR_SET_PDEATHSIG only after wait returned, racing
# hsm-recover for the journal lock). A real tracker's SIGKILLed state is
# the same either way: the supervisor does not write to the journal.
# --reads intent: the files only read must be in flight too (recovery
# proves them unchanged).
t_bg TPID "$BIN/hsm-tracker" --journal "$J" --watch "$TFS" --settle-delay 600 --heartbeat 0.5 \
	--reads intent --no-supervise -v 2>>"$TLOG"
ready() { grep -q ': ready:' "$TLOG"; }
t_wait_for 20 ready || { cat "$TLOG"; fail "hsm-tracker not ready"; }

for f in w1 w2 w3 w4; do echo more >>"$TFS/$f"; done
cat "$TFS/r1" "$TFS/r2" >/dev/null
rm "$TFS/w4"
six() { [ "$(in_flight)" = 6 ]; }
t_wait_for 20 six || { dump; fail "expected 6 intents in flight"; }

# While the tracker runs: hsm-recover refuses (exit 1); --dry-run works.
"$BIN/hsm-recover" --journal "$J" >"$T/busy.out" 2>&1
rc=$?
[ $rc = 1 ] || { cat "$T/busy.out"; fail "hsm-recover beside a running tracker exited $rc, expected 1"; }
grep -q "another writer holds the journal" "$T/busy.out" || fail "EBUSY not explained"

# Nobody answers the pre-content group now: a real open of a tracked file
# would hang. --dry-run stats every intent's file and must not.
kill -STOP "$TPID"
# The control: a plain open of an uncovered tracked file does wait.
timeout 2 cat "$TFS/u1" >/dev/null 2>&1
crc=$?
timeout 20 "$BIN/hsm-recover" --journal "$J" --dry-run -v >"$T/dry.out" 2>&1
rc=$?
kill -CONT "$TPID"
[ $crc = 124 ] || fail "control: a plain read did not wait on the stopped tracker (rc $crc)"
[ $rc = 124 ] && fail "--dry-run hung on the stopped tracker's pre-content group"
[ $rc = 0 ] || { cat "$T/dry.out"; fail "--dry-run beside the tracker exited $rc"; }
grep -q "would have recovered 6 intents: 3 changed, 2 unchanged, 1 gone" "$T/dry.out" ||
	{ cat "$T/dry.out"; fail "--dry-run summary"; }

kill -KILL "$TPID"
wait "$TPID" 2>/dev/null

"$BIN/hsm-recover" --journal "$J" -v >"$T/run.out" 2>&1 || { cat "$T/run.out"; fail "hsm-recover"; }
cat "$T/run.out"
grep -q "recovered 6 intents: 3 changed, 2 unchanged, 1 gone, 0 unverifiable; markers: 1 written" "$T/run.out" ||
	fail "unexpected summary"
[ "$(in_flight)" = 0 ] || fail "intents left in flight"
for f in w1 w2 w3; do [ "$(recovered "$TFS/$f")" = "reasons=data,recovered" ] || fail "$f not recovered as changed"; done
[ "$(recovered "$TFS/w4")" = "reasons=delete,recovered" ] || fail "w4 not recovered as deleted"
for f in r1 r2 u1 u2; do [ -z "$(recovered "$TFS/$f")" ] || fail "$f reported though unchanged"; done
dump | grep -q "^marker [0-9]* unclean-stop .* $TFS\$" || fail "no unclean-stop marker"

# The walk closes the marker and reports the files changed near the crash.
"$BIN/hsm-recover" --journal "$J" --rescan auto >"$T/walk.out" 2>&1 || { cat "$T/walk.out"; fail "rescan"; }
grep -q "markers: 0 written, 1 resolved, 0 open" "$T/walk.out" || { cat "$T/walk.out"; fail "marker not resolved"; }
echo PASS
