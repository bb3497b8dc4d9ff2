#!/bin/bash
# The supervisor in fail-open mode and at its restart limit.
# (a) --fail-mode open: the events a SIGKILLed worker had read are allowed by
#     the supervisor; the restarted worker's start leaves an unclean-stop
#     rescan marker that covers them, dated before they were allowed.
# (b) A worker that keeps dying: after 5 restarts in 60 s the supervisor
#     gives up (exit 1, logged), its groups close, writes no longer wait, and
#     the next start marks the crash.
# (c) The window that remains: the supervisor SIGKILLed (its worker dies of
#     PR_SET_PDEATHSIG) while writers wait: the kernel lets them through at
#     the last close of the group, unrecorded; the next start's unclean-stop
#     marker starts before them.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
command -v fsfreeze >/dev/null || skip "fsfreeze missing"
tr_setup
N=6
for i in $(seq $N); do head -c 8192 /dev/urandom >"$TFS/f$i"; done
sync
worker_pid() { local p; p=$(cat "/proc/$TPID/task/$TPID/children" 2>/dev/null); echo $p; }
readies() { [ "$(grep -c ': ready:' "$TLOG")" -ge "$1" ]; }
unclean_markers() { tr_feed feed | awk -F'\t' -v p="$TFS" '$2 == "rescan" && $5 == "unclean-stop" && $7 == p' | wc -l; }

# ---- (a)
tr_start --fail-mode open --heartbeat 600 --settle-delay 600
wpid=$(worker_pid)
before=$(date +%s.%N)
fsfreeze -f "$T/jfs" || fail "fsfreeze"
t_on_exit "fsfreeze -u $T/jfs"
declare -a W
for i in $(seq $N); do
	t_bg "W[$i]" sh -c 'exec "$1" write "$2" 2>"$3"' sh "$WL" "$TFS/f$i" "$T/w$i.err"
done
read_some() { ls -l "/proc/$wpid/fd" 2>/dev/null | grep -q " $TFS/f"; }
t_wait_for 20 read_some || fail "the worker read no event"
kill -KILL "$wpid"
fsfreeze -u "$T/jfs" || fail "fsfreeze -u"
t_wait_for 30 readies 2 || { cat "$TLOG"; fail "the worker was not restarted"; }
for i in $(seq $N); do
	wait "${W[$i]}" || fail "writer $i failed in fail-open mode: $(cat "$T/w$i.err")"
done
n=$(sed -n 's/.*; \([0-9]*\) permission events it had read answered with allow (fail-open).*/\1/p' "$TLOG")
[ -n "$n" ] && [ "$n" -ge 1 ] || { cat "$TLOG"; fail "the supervisor did not allow the orphaned events"; }
[ "$(unclean_markers)" = 1 ] || fail "want one unclean-stop marker after the crash: $(tr_feed feed)"
note "fail-open: $n orphaned events allowed"
# The marker starts at the last heartbeat, before the writers began.
msince=$("$BIN/hsm-journal" --journal "$J" changes --format jsonl 2>/dev/null |
	jq -r 'select(.kind == "rescan" and .cause == "unclean-stop") | .since' | head -n1)
[ -n "$msince" ] || fail "cannot read the marker's since"
msec=$(date -d "$msince" +%s.%N) || fail "bad since '$msince'"
awk -v a="$msec" -v b="$before" 'BEGIN { exit !(a <= b) }' ||
	fail "the unclean-stop marker starts at $msince, after the writers began ($before)"
tr_stop

# ---- (b)
tr_start
for k in 1 2 3 4 5 6; do
	wpid=$(worker_pid)
	[ -n "$wpid" ] || { cat "$TLOG"; fail "no worker before kill $k"; }
	kill -KILL "$wpid"
	[ $k = 6 ] && break
	t_wait_for 30 readies $((k + 1)) || { cat "$TLOG"; fail "no restart after kill $k"; }
done
rc=0
t_wait_for 20 eval '! kill -0 $TPID 2>/dev/null' || fail "the supervisor did not give up after 6 crashes"
wait "$TPID" || rc=$?
TPID=
[ $rc = 1 ] || fail "the supervisor exited $rc after giving up, want 1"
grep -q 'supervisor: GIVING UP after 5 worker restarts' "$TLOG" || { cat "$TLOG"; fail "giving up was not logged"; }
timeout 10 "$WL" write "$TFS/f1" || fail "a write after the supervisor gave up hangs or fails"
n0=$(unclean_markers)
tr_start
[ "$(unclean_markers)" = $((n0 + 1)) ] || fail "no unclean-stop marker for the last crash: $(tr_feed feed)"

# ---- (c)
tr_stop
tr_start --heartbeat 600 --settle-delay 600
wpid=$(worker_pid)
before=$(date +%s.%N)
fsfreeze -f "$T/jfs" || fail "fsfreeze"
for i in $(seq $N); do
	t_bg "W[$i]" sh -c 'exec "$1" write "$2" 2>"$3"' sh "$WL" "$TFS/f$i" "$T/w$i.err"
done
t_wait_for 20 read_some || fail "the worker read no event"
kill -KILL "$TPID"
wait "$TPID" 2>/dev/null
TPID=
fsfreeze -u "$T/jfs" || fail "fsfreeze -u"
for i in $(seq $N); do
	wait "${W[$i]}" || fail "writer $i failed after the supervisor died: $(cat "$T/w$i.err")"
done
n0=$(unclean_markers)
tr_start
[ "$(unclean_markers)" = $((n0 + 1)) ] || fail "no unclean-stop marker after the supervisor died: $(tr_feed feed)"
msince=$("$BIN/hsm-journal" --journal "$J" changes --format jsonl 2>/dev/null |
	jq -r 'select(.kind == "rescan" and .cause == "unclean-stop") | .since' | tail -n1)
msec=$(date -d "$msince" +%s.%N) || fail "bad since '$msince'"
awk -v a="$msec" -v b="$before" 'BEGIN { exit !(a <= b) }' ||
	fail "the marker starts at $msince, after the unrecorded writes began ($before)"
tr_stop
echo PASS
