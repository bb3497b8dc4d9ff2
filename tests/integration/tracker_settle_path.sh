#!/bin/bash
# Settle reports a file under the name it has at settle time: a file renamed
# while covered (here: held open for write across the rename) gets its data
# change record under its new name, also when moved to another directory; a
# file deleted while covered gets one under its last name with reasons
# data,delete; an intent-time name that no longer holds the file gets no
# data record; a file written, hard-linked and deleted by both names before
# it settled settles (the kernel dropped its ignore mark with the last link);
# no record names "PATH (deleted)" (an fd's unlinked alias of a file that
# still has another name): the data and attrib records name the other name,
# (found in a known directory, through the handle when it was made or
# moved since, else by a bounded walk of the mount: also with link count 1
# and the handle naming the unlinked alias), or, when it cannot be found,
# an unresolved rescan marker stands instead; data records carry post.nlink.
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
# A file with two names written through an fd opened as one of them, after
# that name was replaced by a rename: the fd's link text is "f (deleted)".
# The data record must name the other name (g), never "... (deleted)"; the
# link-count ATTRIB record of the rename too, also with g's dentry out of
# the cache (cold lookup: the kernel may hand back only the unlinked alias).
mkdir "$TFS/dl"
echo one >"$TFS/dl/f"; ln "$TFS/dl/f" "$TFS/dl/g"; echo other >"$TFS/dl/other"
tr_wait_settled 10
exec 3>>"$TFS/dl/f"
echo two >&3
sync; echo 2 >/proc/sys/vm/drop_caches
mv "$TFS/dl/other" "$TFS/dl/f"
echo three >&3
exec 3>&-
tr_wait_settled 10
! tr_changes | grep -F ' (deleted)' || fail "a record names a ' (deleted)' path: $(tr_changes)"
[ "$(data_records "$TFS/dl/g")" = data ] || fail "want a data record for g: $(tr_changes)"
tr_changes | awk -F'\t' -v p="$TFS/dl/g" '$1 == p && $2 == "attrib"' | grep -q . ||
	fail "no attrib record for g (its link count changed): $(tr_changes)"
# The other name is in another directory the tracker never knew the file
# in: the bounded walk of the mount finds it, so a data record for u2/g
# (never one for u1/f, which is another file now) and no marker.
mkdir "$TFS/u1" "$TFS/u2"
echo one >"$TFS/u1/f"; ln "$TFS/u1/f" "$TFS/u2/g"; echo other >"$TFS/u1/other"
tr_wait_settled 10
mark=$(tr_feed feed | tail -n 1 | cut -f1)
since_mark() { tr_feed feed | awk -F'\t' -v m="$mark" '$1 > m && $2 == "change" { print $7 "\t" $3 }'; }
exec 3>>"$TFS/u1/f"
mv "$TFS/u1/other" "$TFS/u1/f"
echo two >&3
exec 3>&-
tr_wait_settled 10
! tr_changes | grep -F ' (deleted)' || fail "a record names a ' (deleted)' path: $(tr_changes)"
since_mark >&2
! since_mark | grep -q "^$TFS/u1/f	data" || fail "a data record names u1/f, which is another file now: $(since_mark)"
since_mark | grep -q "^$TFS/u2/g	data" || fail "no data record for u2/g: $(since_mark) $(tr_feed markers)"
! tr_feed feed | awk -F'\t' -v m="$mark" '$1 > m && $5 == "unresolved"' | grep -q . ||
	fail "an unresolved marker although u2/g could be named: $(tr_feed markers)"
# Link count 1 at settle, the live name in a directory the tracker never
# knew the file in, and the handle no help: written through the newer link
# (d2/g), which is then removed. The kernel keeps the unlinked alias first
# in the inode's alias list, so open_by_handle_at names "d2/g (deleted)";
# only the walk finds q1/f. Seen in backup_rsync's workload (link, append,
# unlink) as needless whole-mount markers.
mkdir "$TFS/q1" "$TFS/q2"
echo one >"$TFS/q1/f"; ln "$TFS/q1/f" "$TFS/q2/g"
tr_wait_settled 10
mark=$(tr_feed feed | tail -n 1 | cut -f1)
exec 3>>"$TFS/q2/g"
echo two >&3
rm "$TFS/q2/g"
echo three >&3
exec 3>&-
tr_wait_settled 10
since_mark >&2
! tr_changes | grep -F ' (deleted)' || fail "a record names a ' (deleted)' path: $(tr_changes)"
since_mark | grep -q "^$TFS/q1/f	data" || fail "no data record for q1/f (link count 1): $(since_mark) $(tr_feed markers)"
! tr_feed feed | awk -F'\t' -v m="$mark" '$1 > m && $5 == "unresolved"' | grep -q . ||
	fail "an unresolved marker although q1/f is the file's only name: $(tr_feed markers)"
! grep -F "$TFS/q2/g: its other name cannot be found" "$TLOG" || fail "settle could not name q2/g's file"
# The other name is made after the fd was opened (ln) and then moved to a
# directory the tracker never knew the file in: the kernel's newest alias
# (by handle) names it, so a data record for d2/g and no marker.
mkdir "$TFS/m"
echo one >"$TFS/m/f"; echo other >"$TFS/m/other"
tr_wait_settled 10
mark=$(tr_feed feed | tail -n 1 | cut -f1)
echo more >>"$TFS/m/f"
ln "$TFS/m/f" "$TFS/m/g"
mv "$TFS/m/other" "$TFS/m/f"
echo again >>"$TFS/m/g"
mkdir "$TFS/m/d2"; mv "$TFS/m/g" "$TFS/m/d2/g"
tr_wait_settled 10
since_mark | grep -q "^$TFS/m/d2/g	data" || fail "no data record for m/d2/g: $(since_mark)"
! tr_feed feed | awk -F'\t' -v m="$mark" '$1 > m && $5 == "unresolved"' | grep -q . ||
	fail "an unresolved marker although m/d2/g could be named: $(tr_feed markers)"
# Data records carry the post stat's link count (a consumer treats nlink > 1
# as "other names unknown"): every one has post.nlink, and a file written
# with two names says 2.
echo a >"$TFS/n1"; ln "$TFS/n1" "$TFS/n2"
tr_wait_settled 10
echo more >>"$TFS/n1"
tr_wait_settled 10
HJ() { "$BIN/hsm-journal" --journal "$J" "$@"; }
datas=$(HJ changes --format jsonl 2>/dev/null | jq -c 'select(.kind == "change" and (.reasons | index("data")))')
[ -n "$datas" ] || fail "no data records in jsonl"
echo "$datas" | jq -e 'select(.post.nlink == null)' >/dev/null && fail "a data record without post.nlink: $datas"
echo "$datas" | jq -e --arg p "$TFS/n1" 'select(.path == $p and .post.nlink == 2)' >/dev/null ||
	fail "the data record of n1 (two names) does not say nlink 2: $datas"
tr_stop
echo PASS
