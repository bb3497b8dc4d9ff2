#!/bin/bash
# The supervisor keeps the pre-content group open while its worker dies.
# (a) The worker is SIGKILLed while writers wait on events it has read (the
#     journal is frozen, so its intent commit hangs): every writer either
#     fails with EIO (answered by the supervisor) or completes with its change
#     in the feed; no file changes without a record; the supervisor restarts
#     the worker, which runs hsm-recover, and later writes are tracked.
# (b) The worker is SIGKILLed while it covers files (ignore marks), one of
#     them held open for write: after the restart a write to the other raises
#     a new intent (the new worker flushed the dead one's ignore marks), and
#     the held one is in flight again (the /proc scan) with its later write
#     in the feed.
# SIGTERM to the supervisor then stops everything with exit 0.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
command -v fsfreeze >/dev/null || skip "fsfreeze missing"
tr_setup
N=8
for i in $(seq $N); do head -c 8192 /dev/urandom >"$TFS/f$i"; done
echo start >"$TFS/h"
echo start >"$TFS/h2"
sync
declare -a SUM
for i in $(seq $N); do SUM[$i]=$(md5sum <"$TFS/f$i"); done
worker_pid() { local p; p=$(cat "/proc/$TPID/task/$TPID/children" 2>/dev/null); echo $p; }
ready_count() { grep -c ': ready:' "$TLOG"; }
readies() { [ "$(ready_count)" -ge "$1" ]; }

# No timer commits (heartbeat, settle) while the journal is frozen: the
# worker must be stuck in the commit of the writers' intents.
tr_start --heartbeat 600 --settle-delay 600
wpid=$(worker_pid)
[ -n "$wpid" ] || fail "no worker"

# ---- (a)
fsfreeze -f "$T/jfs" || fail "fsfreeze"
t_on_exit "fsfreeze -u $T/jfs"
declare -a W
for i in $(seq $N); do
	t_bg "W[$i]" sh -c 'exec "$1" write "$2" 2>"$3"' sh "$WL" "$TFS/f$i" "$T/w$i.err"
done
held_by_worker() { ls -l "/proc/$wpid/fd" 2>/dev/null | grep -c " $TFS/f"; }
read_some() { [ "$(held_by_worker)" -ge 1 ]; }
t_wait_for 20 read_some || fail "the worker read no event"
for i in $(seq $N); do
	kill -0 "${W[$i]}" 2>/dev/null || fail "writer $i finished while the journal was frozen"
done
note "worker $wpid holds $(held_by_worker) event fds; SIGKILL"
kill -KILL "$wpid"
# It sits in a write to the frozen journal device: it dies once thawed.
fsfreeze -u "$T/jfs" || fail "fsfreeze -u"
t_wait_for 30 readies 2 || { cat "$TLOG"; fail "the worker was not restarted"; }
denied=0 done_ok=0 ok_files=()
for i in $(seq $N); do
	rc=0
	wait "${W[$i]}" || rc=$?
	if [ $rc = 0 ]; then
		done_ok=$((done_ok + 1)); ok_files+=("$TFS/f$i")
	elif grep -q 'errno=EIO' "$T/w$i.err"; then
		denied=$((denied + 1))
	else
		fail "writer $i: rc $rc: $(cat "$T/w$i.err")"
	fi
done
note "writers: $denied failed with EIO, $done_ok completed"
answered=$(sed -n 's/.*supervisor: the worker was killed by signal 9.*; \([0-9]*\) permission events it had read answered with EIO.*/\1/p' "$TLOG")
[ -n "$answered" ] || { cat "$TLOG"; fail "the supervisor did not report the orphaned events"; }
[ "$denied" -ge 1 ] || fail "no writer got EIO: the dead worker's read events were not answered by the supervisor"
[ "$denied" = "$answered" ] || fail "$denied writers failed with EIO, the supervisor answered $answered"
grep -q 'recovered [0-9]* intents' "$TLOG" || fail "the restarted worker did not run hsm-recover"
# A denied write changed nothing; a completed one changed its file.
for i in $(seq $N); do
	now=$(md5sum <"$TFS/f$i")
	if grep -q 'errno=EIO' "$T/w$i.err" 2>/dev/null; then
		[ "$now" = "${SUM[$i]}" ] || fail "f$i changed although its write failed with EIO"
	else
		[ "$now" != "${SUM[$i]}" ] || fail "f$i did not change although its write completed"
	fi
done
cp "$TLOG" "$T/a.log"

# ---- (b)
# h2 is written and closed: covered (ignore mark) and in flight until the
# kill (settle delay 600 s). h is held open for write across the kill.
"$WL" write "$TFS/h2" || fail "write h2"
coproc HOLD { exec "$WL" hold "$TFS/h"; }
HPID=$HOLD_PID HOLD_OUT=${HOLD[0]} HOLD_IN=${HOLD[1]}
read -r line <&"$HOLD_OUT" && [ "$line" = held ] || fail "holder did not start"
intent_jsns() { tr_feed intents | awk -F'\t' -v p="$1" '$7 == p { print $1 }' | tr '\n' ' '; }
n_intents() { tr_feed intents | awk -F'\t' -v p="$1" '$7 == p' | wc -l; }
has_n() { [ "$(n_intents "$1")" = "$2" ]; }
t_wait_for 10 has_n "$TFS/h" 1 || fail "no intent for the held file"
t_wait_for 10 has_n "$TFS/h2" 1 || fail "no intent for h2"
old_h=$(intent_jsns "$TFS/h")
wpid=$(worker_pid)
kill -KILL "$wpid"
t_wait_for 30 readies 3 || { cat "$TLOG"; fail "the worker was not restarted after (b)"; }
# The restart's recovery resolved both intents; the held file, still open for
# write, got a new one from the /proc scan. Recovery ran before the new
# worker read the group: had it opened h or h2 for real (not O_PATH), its
# open would have waited for an answer nobody gives, and the restart hung.
[ "$(n_intents "$TFS/h2")" = 0 ] || fail "h2's intent is still in flight after the restart's recovery"
[ "$(n_intents "$TFS/h")" = 1 ] && [ "$(intent_jsns "$TFS/h")" != "$old_h" ] ||
	fail "the held file: want one new intent after the restart, have '$(intent_jsns "$TFS/h")' (before: '$old_h')"
# The dead worker's ignore mark on h2 is gone: its next write raises a new intent.
"$WL" write "$TFS/h2" || fail "rewrite h2"
t_wait_for 10 has_n "$TFS/h2" 1 || { cat "$TLOG"; fail "a write to a file the dead worker covered raised no new intent (ignore mark not flushed)"; }
echo w >&"$HOLD_IN"
read -r line <&"$HOLD_OUT" && [ "$line" = wrote ] || fail "the held file's write failed"
echo q >&"$HOLD_IN"
wait "$HPID" || fail "holder failed"

# Later writes are tracked: a denied file written again, and a new one.
for i in $(seq $N); do
	grep -q 'errno=EIO' "$T/w$i.err" 2>/dev/null && { "$WL" write "$TFS/f$i" || fail "rewrite f$i"; again=$TFS/f$i; break; }
done
"$WL" create "$TFS/new" || fail "create"
tr_stop
data_for() { tr_changes | awk -F'\t' -v p="$1" '$1 == p && $2 ~ /(^|,)data(,|$)/' | grep -q .; }
for f in "${ok_files[@]}"; do data_for "$f" || fail "$f was written but is not in the feed: $(tr_changes)"; done
data_for "$again" || fail "a write after the restart is not in the feed"
data_for "$TFS/new" || fail "a file created after the restart is not in the feed"
for f in h h2; do
	n=$(tr_changes | awk -F'\t' -v p="$TFS/$f" '$1 == p && $2 == "data"' | wc -l)
	[ "$n" = 1 ] || fail "want one data record for $f's write after the restart: $(tr_changes)"
done
markers=$(tr_feed feed | awk -F'\t' -v p="$TFS" '$2 == "rescan" && $5 == "unclean-stop" && $7 == p' | wc -l)
[ "$markers" = 2 ] || fail "want one unclean-stop marker per worker crash (2), got $markers"
echo PASS
