#!/bin/bash
# Files already open for write, or mapped shared+writable, when the tracker
# starts never raise events through those opens: the start finds them in
# /proc, records their intents (with the holder's pid) before READY, keeps
# them in flight while they are held (reporting changes as still-open), and
# settles them with a data change once the holders let go. A file held
# read-only gets no intent.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup
echo start >"$TFS/held"
head -c 8192 /dev/zero >"$TFS/mapped"
echo ro >"$TFS/ro"
sync

coproc H1 { exec "$WL" hold "$TFS/held"; }
h1=$H1_PID
read -r l1 <&"${H1[0]}" && [ "$l1" = held ] || fail "holder 1 did not start"
coproc H2 { exec "$WL" hold-mmap "$TFS/mapped"; }
h2=$H2_PID
read -r l2 <&"${H2[0]}" && [ "$l2" = held ] || fail "holder 2 did not start"
exec 8<"$TFS/ro"

tr_start
intents=$(tr_feed intents)
echo "$intents" | awk -F'\t' -v p="$TFS/held" -v pid="$h1" '$7 == p && $6 == pid' | grep -q . ||
	fail "no intent for the file held open for write by $h1: $intents"
echo "$intents" | awk -F'\t' -v p="$TFS/mapped" -v pid="$h2" '$7 == p && $6 == pid' | grep -q . ||
	fail "no intent for the file mapped writable by $h2: $intents"
echo "$intents" | grep -q "$TFS/ro" && fail "a file held read-only got an intent"

# Writes through the old fd and the old mapping raise no events; settle
# sees them by stat and, since the holders remain, says "still open".
echo w >&"${H1[1]}"; read -r l1 <&"${H1[0]}"
echo w >&"${H2[1]}"; read -r l2 <&"${H2[0]}"
[ "$l1 $l2" = "wrote wrote" ] || fail "holders did not write"
still_open() {
	tr_changes | grep -q "^$TFS/held	data,still-open" &&
		tr_changes | grep -q "^$TFS/mapped	data,still-open"
}
t_wait_for 20 still_open || { tr_changes; fail "no still-open change records"; }
[ "$(tr_in_flight_count)" = 2 ] || fail "the held files must stay in flight"

echo q >&"${H1[1]}"
echo q >&"${H2[1]}"
wait "$h1" "$h2" 2>/dev/null
tr_wait_settled
n=$(tr_changes | grep -c -e "^$TFS/held	data$" -e "^$TFS/mapped	data$")
[ "$n" = 2 ] || { tr_changes; fail "want a final data change for both files"; }
tr_changes | grep -q "^$TFS/ro	" && fail "the read-only file has a change record"
tr_stop
