#!/bin/bash
# Epochs: a clean stop then a start gives a downtime rescan marker for the
# watched filesystem; a killed tracker (supervisor and worker) gives exactly
# one unclean-stop marker at the next start, which runs hsm-recover for the
# intent left in flight; when hsm-recover ran first (at boot), the start
# writes no second marker for the same crash.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup
echo a >"$TFS/held"

tr_start
tr_stop
tr_feed epochs | awk -F'\t' '{ print $2 }' | tr '\n' ' ' | grep -q '^epoch-start clean-stop $' ||
	fail "want epoch-start, clean-stop: $(tr_feed epochs)"
tr_feed feed | grep -q rescan && fail "a first start must not write a rescan marker"

worker_pid() { local p; p=$(cat "/proc/$TPID/task/$TPID/children" 2>/dev/null); echo $p; }
tr_start
tr_feed feed | awk -F'\t' -v p="$TFS" '$2 == "rescan" && $5 == "downtime" && $7 == p' | grep -q . ||
	fail "no downtime marker after a clean stop: $(tr_feed feed)"
# A writer holds a file open: it stays in flight; then the tracker dies
# (SIGKILL to the supervisor: its worker must die with it).
coproc HOLD { exec "$WL" hold "$TFS/held"; }
hpid=$HOLD_PID
read -r line <&"${HOLD[0]}" && [ "$line" = held ] || fail "holder did not start"
has_intent() { tr_feed intents | grep -q "$TFS/held"; }
t_wait_for 10 has_intent || fail "no intent for the held file"
wpid=$(worker_pid)
[ -n "$wpid" ] || fail "the supervisor has no worker"
kill -KILL "$TPID"
wait "$TPID" 2>/dev/null
worker_gone() { [ ! -d "/proc/$wpid" ]; }
t_wait_for 5 worker_gone || fail "the worker $wpid outlived its SIGKILLed supervisor"
echo q >&"${HOLD[1]}"
wait "$hpid" || fail "the holder failed after the tracker died"

unclean_markers() { tr_feed feed | awk -F'\t' -v p="$TFS" '$2 == "rescan" && $5 == "unclean-stop" && $7 == p' | wc -l; }
tr_start
[ "$(unclean_markers)" = 1 ] || fail "want one unclean-stop marker after a kill: $(tr_feed feed)"
grep -q 'recovered 1 intents: 1 changed' "$TLOG" ||
	{ cat "$TLOG"; fail "the start did not run hsm-recover for the intent left in flight"; }
[ "$(tr_in_flight_count)" = 0 ] || fail "intents left in flight after the start's recovery"
tr_stop
n=$(tr_feed epochs | grep -c epoch-start)
[ "$n" = 3 ] || fail "want 3 epochs, got $n"

# Crash again (both processes), then hsm-recover at "boot", then the tracker:
# exactly one more unclean-stop marker (hsm-recover's), none from the start.
tr_start
wpid=$(worker_pid)
kill -KILL "$wpid" "$TPID"
wait "$TPID" 2>/dev/null
t_wait_for 5 worker_gone || fail "the worker $wpid survived SIGKILL"
"$BIN/hsm-recover" --journal "$J" >"$T/boot.out" 2>&1 || { cat "$T/boot.out"; fail "hsm-recover at boot"; }
grep -q 'markers: 1 written' "$T/boot.out" || { cat "$T/boot.out"; fail "hsm-recover wrote no marker"; }
[ "$(unclean_markers)" = 2 ] || fail "want 2 unclean-stop markers after hsm-recover: $(tr_feed feed)"
tr_start
[ "$(unclean_markers)" = 2 ] || fail "the start duplicated hsm-recover's unclean-stop marker: $(tr_feed feed)"
grep -q '0 rescan markers written from its last heartbeat, 1 already there' "$TLOG" ||
	{ cat "$TLOG"; fail "the start did not say the marker was already there"; }
# A walk closes the marker; the next crash+start still writes one (a closed
# marker of an older crash does not count).
tr_stop
tr_start
wpid=$(worker_pid)
kill -KILL "$TPID"
wait "$TPID" 2>/dev/null
t_wait_for 5 worker_gone || fail "the worker $wpid outlived its SIGKILLed supervisor"
"$BIN/hsm-recover" --journal "$J" --rescan auto >"$T/walk.out" 2>&1 || { cat "$T/walk.out"; fail "hsm-recover --rescan auto"; }
tr_start
[ "$(unclean_markers)" = 3 ] || fail "want 3 unclean-stop markers (one per crash): $(tr_feed feed)"

# Without a usable hsm-recover the start goes on and writes the crash's
# marker itself; the intent left in flight stays for a later hsm-recover.
coproc HOLD { exec "$WL" hold "$TFS/held"; }
hpid=$HOLD_PID
read -r line <&"${HOLD[0]}" && [ "$line" = held ] || fail "holder did not start"
t_wait_for 10 has_intent || fail "no intent for the held file"
kill -KILL "$TPID"
wait "$TPID" 2>/dev/null
echo q >&"${HOLD[1]}"
wait "$hpid" || fail "the holder failed after the tracker died"
tr_start --recover-path /nonexistent/hsm-recover
grep -q 'recovery exited with 127: starting anyway' "$TLOG" || { cat "$TLOG"; fail "a missing hsm-recover was not reported"; }
[ "$(unclean_markers)" = 4 ] || fail "the start did not write the marker recovery could not: $(tr_feed feed)"
grep -q '1 intents are in flight from earlier epochs' "$TLOG" || { cat "$TLOG"; fail "no warning about the intent left in flight"; }
tr_stop
echo PASS
