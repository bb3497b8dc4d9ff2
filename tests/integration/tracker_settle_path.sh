#!/bin/bash
# Settle reports a file under the name it has at settle time: a file renamed
# while covered (here: held open for write across the rename) gets its data
# change record under its new name, also when moved to another directory; a
# file deleted while covered gets one under its last name with reasons
# data,delete; an intent-time name that no longer holds the file gets no
# data record; a file written, hard-linked and deleted by both names before
# it settled settles (the kernel dropped its ignore mark with the last link).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup
mkdir "$TFS/d"
for f in a c e; do echo start >"$TFS/$f"; done
sync
tr_start

# hold FILE: a writer holding FILE open for write (covered from its first
# write on); the coproc's fds go to HOLD_IN/HOLD_OUT.
hold_start() {
	coproc HOLD { exec "$WL" hold "$1"; }
	HPID=$HOLD_PID
	HOLD_OUT=${HOLD[0]} HOLD_IN=${HOLD[1]}
	read -r line <&"$HOLD_OUT" && [ "$line" = held ] || fail "holder of $1 did not start"
}
hold_stop() {
	echo q >&"$HOLD_IN"
	wait "$HPID" || fail "holder failed"
}
has_intent() { tr_feed intents | awk -F'\t' -v p="$1" '$7 == p' | grep -q .; }
data_records() { tr_changes | awk -F'\t' -v p="$1" '$1 == p && $2 ~ /(^|,)data(,|$)/ { print $2 }'; }

hold_start "$TFS/a"
t_wait_for 10 has_intent "$TFS/a" || fail "no intent for a"
mv "$TFS/a" "$TFS/b"
hold_stop

hold_start "$TFS/e"
t_wait_for 10 has_intent "$TFS/e" || fail "no intent for e"
mv "$TFS/e" "$TFS/d/e2"
hold_stop

hold_start "$TFS/c"
t_wait_for 10 has_intent "$TFS/c" || fail "no intent for c"
rm "$TFS/c"
hold_stop

tr_wait_settled
tr_changes >&2
[ "$(data_records "$TFS/b")" = data ] || fail "want one data record for the renamed file b: $(tr_changes)"
[ -z "$(data_records "$TFS/a")" ] || fail "a data record under the old name a: $(tr_changes)"
[ "$(data_records "$TFS/d/e2")" = data ] || fail "want one data record for d/e2: $(tr_changes)"
[ -z "$(data_records "$TFS/e")" ] || fail "a data record under the old name e: $(tr_changes)"
[ -z "$(data_records "$TFS/c")" ] || fail "a data record for the deleted c: $(tr_changes)"
tr_changes | awk -F'\t' -v p="$TFS/c" '$1 == p && $2 == "delete"' | grep -q . || fail "no delete record for c"
# rm x; mkdir x while x is covered: the last record about x is not a delete.
echo x >"$TFS/x"
hold_start "$TFS/x"
t_wait_for 10 has_intent "$TFS/x" || fail "no intent for x"
rm "$TFS/x"
mkdir "$TFS/x"
hold_stop
tr_wait_settled
last=$(tr_changes | awk -F'\t' -v p="$TFS/x" '$1 == p { r = $2 } END { print r }')
[ "$last" = create ] || fail "the last record for x (now a directory) is '$last', want create: $(tr_changes)"
# Written, hard-linked, then deleted by both names before it settled: the
# last unlink (through a name whose dentry we do not hold) drops the inode's
# marks with it; settle must still end it (post record, no data record).
mkdir "$TFS/hl"
echo x >"$TFS/hl/f"; ln "$TFS/hl/f" "$TFS/hl/g"; rm "$TFS/hl/f" "$TFS/hl/g"
tr_wait_settled 10
! grep 'settle: .*hl/f' "$TLOG" || fail "settle complained about the deleted hard-linked file"
[ -z "$(data_records "$TFS/hl/f")$(data_records "$TFS/hl/g")" ] || fail "a data record for the deleted hl/f: $(tr_changes)"
tr_stop
echo PASS
