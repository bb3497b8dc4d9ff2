#!/bin/bash
# A path truncate() raises its pre-content event before it takes write
# access (vfs_truncate: hook, then mnt_want_write, get_write_access,
# break_lease). One that is held after its hook (here: the filesystem is
# frozen, so it waits in mnt_want_write) while the file settles must still
# reach the feed: the settle keeps its read lease as the file's guard, the
# truncate breaks it, and the tracker records a new intent before letting
# go. Without the guard the file settles "unchanged" and the truncate lands
# unseen (was /work/notes/bugs/truncate-path-settled-before-it-lands.sh).
# Also: a write-open of a guarded file costs no lease break (its OPEN_PERM
# intent drops the guard first), a settle round still settles, and a
# guarded file that is deleted is let go (its space freed).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup
head -c 8192 /dev/urandom >"$TFS/f"
echo keep >"$TFS/g"
sync
tr_start
fsfreeze -f "$TFS" || fail "fsfreeze"
t_on_exit "fsfreeze -u $TFS 2>/dev/null"
"$WL" shrink "$TFS/f" & # truncate("f", 100): answered, then waits in mnt_want_write
tpid=$!
has_intent() { tr_feed intents | grep -q "$TFS/f"; }
t_wait_for 10 has_intent || fail "no intent for the truncate"
no_intent() { ! has_intent; }
t_wait_for 10 no_intent || fail "the tracker never settled f" # settled while the truncate waits
fsfreeze -u "$TFS"
wait "$tpid" || fail "the truncate failed"
[ "$(stat -c %s "$TFS/f")" = 100 ] || fail "f is $(stat -c %s "$TFS/f") bytes, want 100"
tr_wait_settled 10
grep -q "guard of $TFS/f broken" "$TLOG" || fail "no guard break logged for f"
tr_feed feed | awk -F'\t' -v p="$TFS/f" '$2 == "change" && $3 == "data" && $7 == p && $8 == 100' |
	grep -q . || { tr_feed feed >&2; fail "the truncate of f is in no data record"; }
# A guarded file written through a new open: an ordinary intent, no break.
cat "$TFS/g" >/dev/null
tr_wait_settled 10
breaks=$(grep -c 'guard of .* broken' "$TLOG")
echo more >>"$TFS/g"
tr_wait_settled 10
[ "$(grep -c 'guard of .* broken' "$TLOG")" = "$breaks" ] || fail "a write-open of a guarded file broke its lease"
tr_feed feed | awk -F'\t' -v p="$TFS/g" '$2 == "change" && $3 == "data" && $7 == p' | grep -q . ||
	fail "no data record for g"
# A guard pins its inode; a file deleted after it settled must be let go
# (else its space stays allocated until the guard is evicted).
head -c 1048576 /dev/urandom >"$TFS/big"
tr_wait_settled 10
rm "$TFS/big"
holds_big() {
	local p
	for p in $TPID $(cat /proc/"$TPID"/task/*/children 2>/dev/null); do
		ls -l /proc/"$p"/fd 2>/dev/null | grep -qF "$TFS/big" && return 0
	done
	return 1
}
not_holding() { ! holds_big; }
t_wait_for 10 not_holding || fail "the tracker still holds the deleted big file open"
tr_stop
echo PASS
