#!/bin/bash
# Epochs: a clean stop then a start gives a downtime rescan marker for the
# watched filesystem; a killed tracker gives an unclean-stop marker at the
# next start, and the start says how many intents are left in flight.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup
echo a >"$TFS/held"

tr_start
tr_stop
tr_feed epochs | awk -F'\t' '{ print $2 }' | tr '\n' ' ' | grep -q '^epoch-start clean-stop $' ||
	fail "want epoch-start, clean-stop: $(tr_feed epochs)"
tr_feed feed | grep -q rescan && fail "a first start must not write a rescan marker"

tr_start
tr_feed feed | awk -F'\t' -v p="$TFS" '$2 == "rescan" && $5 == "downtime" && $7 == p' | grep -q . ||
	fail "no downtime marker after a clean stop: $(tr_feed feed)"
# A writer holds a file open: it stays in flight; then the tracker dies.
coproc HOLD { exec "$WL" hold "$TFS/held"; }
hpid=$HOLD_PID
read -r line <&"${HOLD[0]}" && [ "$line" = held ] || fail "holder did not start"
has_intent() { tr_feed intents | grep -q "$TFS/held"; }
t_wait_for 10 has_intent || fail "no intent for the held file"
kill -KILL "$TPID"
wait "$TPID" 2>/dev/null
echo q >&"${HOLD[1]}"
wait "$hpid" || fail "the holder failed after the tracker died"

tr_start
tr_feed feed | awk -F'\t' -v p="$TFS" '$2 == "rescan" && $5 == "unclean-stop" && $7 == p' | grep -q . ||
	fail "no unclean-stop marker after a kill: $(tr_feed feed)"
grep -q '1 intents are in flight from earlier epochs: `hsm-recover` must resolve them' "$TLOG" ||
	{ cat "$TLOG"; fail "the start did not warn about the intent left in flight"; }
tr_stop
n=$(tr_feed epochs | grep -c epoch-start)
[ "$n" = 3 ] || fail "want 3 epochs, got $n"
