#!/bin/bash
# A full coverage table settles its oldest entries that have no writer to
# make room (bounded resources): with --max-covered 3 and a long settle
# delay, nine written files never leave more than 3 intents in flight, the
# evicted ones reach the feed at once, a file held open for write is never
# evicted, and the stop settles the rest.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup
for i in 1 2 3 4 5 6 7 8; do echo "$i" >"$TFS/f$i"; done
echo held >"$TFS/held"
sync
tr_start --max-covered 3 --settle-delay 3600
coproc H { exec "$WL" hold "$TFS/held"; }
hpid=$H_PID
read -r l <&"${H[0]}" && [ "$l" = held ] || fail "holder did not start"
for i in 1 2 3 4 5 6 7 8; do
	"$WL" append "$TFS/f$i" || fail "append f$i"
	n=$(tr_in_flight_count)
	[ "$n" -le 3 ] || { tr_feed intents; fail "$n intents in flight with --max-covered 3"; }
done
tr_feed intents | grep -q "$TFS/held" || fail "the held file was evicted"
# f1..f6 had to go (the held file and two others stay); each evicted file
# that was written has its change record already.
n=$(tr_changes | grep -c "	data$")
[ "$n" -ge 6 ] || { tr_changes; fail "want >= 6 data changes from eviction, got $n"; }
echo q >&"${H[1]}"
wait "$hpid" 2>/dev/null
tr_stop
n=$(tr_changes | grep -c "	data$")
[ "$n" = 9 ] || { tr_changes; fail "want 9 data changes after the stop, got $n"; }
[ "$(tr_in_flight_count)" = 0 ] || fail "intents left in flight after the stop"
