#!/bin/bash
# The rsync recipe of hsm-journal(1) over a real tracker feed: hsm-tracker on
# a loop-mounted ext4, a workload of writes, renames of files and
# directories, deletes, a delete+recreate, a rename over an existing file,
# chmod and a hard link; then `changes --coalesce` and `--deleted` are
# checked against what the workload did, and the recipe's copy must equal
# the tracked tree. A second round deletes a whole pre-existing tree.
. "$(dirname "$0")/../lib.sh"
need_root
command -v rsync >/dev/null || skip "rsync missing"
command -v jq >/dev/null || skip "jq missing"
H=$BIN/hsm-journal
MAN=$(cd "$(dirname "$0")/../.." && pwd)/docs/hsm-journal.1
[ -x "$H" ] || fail "$H not built"
[ -x "$BIN/hsm-tracker" ] || skip "hsm-tracker not built"

t_mkfs tfs ext4 128M
t_mkfs jfs ext4 128M
S=$T/tfs/data D=$T/dst J=$T/jfs/journal
mkdir -p "$T/bin" "$T/tmp" "$D"
ln -s "$H" "$T/bin/hsm-journal"
export PATH=$T/bin:$PATH HSM_JOURNAL_DIR=$J
sed -n '/^\.\\" recipe-begin/,/^\.\\" recipe-end/p' "$MAN" | sed '1d;$d' |
	sed -e 's/\\-/-/g' -e 's/\\e/\\/g' -e "s|/tmp/|$T/tmp/|g" \
	    -e "s|^src=/srv/data dst=/backup/data c=offsite\$|src=$S dst=$D c=offsite|" >"$T/recipe.sh"
grep -q "^src=$S dst=$D c=offsite\$" "$T/recipe.sh" || fail "recipe not found in $MAN"
recipe() { sh "$T/recipe.sh" >"$T/recipe.out" 2>&1 || { cat "$T/recipe.out"; return 1; }; }
same_tree() {
	diff -r "$S" "$D" >&2 || fail "$1: contents differ"
	# types and modes of all, mtimes of files (directory sizes depend on the filesystem)
	(cd "$S" && find . \( -type f -printf '%y %m %T@ %p\n' \) -o -printf '%y %m %p\n' | sort) >"$T/s.list"
	(cd "$D" && find . \( -type f -printf '%y %m %T@ %p\n' \) -o -printf '%y %m %p\n' | sort) >"$T/d.list"
	diff -u "$T/s.list" "$T/d.list" >&2 || fail "$1: types, modes or mtimes differ"
}
settled() { [ -z "$("$H" in-flight)" ]; }

mkdir -p "$S/dir1/sub" "$S/keep" "$S/old"
echo a >"$S/a"; echo b >"$S/b"; echo x >"$S/dir1/x"; echo y >"$S/dir1/sub/y"; echo f >"$S/keep/f"
echo e >"$S/e"; echo c2 >"$S/c2"; echo x >"$S/x"; echo o >"$S/old/o"; mkdir "$S/old/deeper"; echo p >"$S/old/deeper/p"

t_bg TPID "$BIN/hsm-tracker" --journal "$J" --watch "$T/tfs" --settle-delay 0.2 --heartbeat 0.5 2>"$T/tracker.log"
t_wait_for 20 grep -q ': ready:' "$T/tracker.log" || { cat "$T/tracker.log"; fail "hsm-tracker not ready"; }

note "first run (consumer made), then the full copy"
recipe || fail "first run"
rsync -a "$S/" "$D/"

note "workload"
echo more >>"$S/a"
mv "$S/b" "$S/c"
mv "$S/dir1" "$S/dir2"
echo z >"$S/dir2/z"
echo y2 >>"$S/dir2/sub/y"
rm "$S/keep/f"
mkdir "$S/new"; echo sp >"$S/new/sp ace"
echo t >"$S/tmp"; rm "$S/tmp"
rm "$S/x"; mkdir "$S/x"; echo i >"$S/x/inner"
mv "$S/c2" "$S/e"
chmod 600 "$S/dir2/x"
ln "$S/a" "$S/alink"
t_wait_for 30 settled || fail "still in flight: $("$H" in-flight)"

"$H" changes --consumer offsite --coalesce --under "$S" >"$T/coalesced" 2>"$T/err"
rc=$?
[ $rc = 0 ] || { cat "$T/err"; fail "changes --coalesce exited $rc (a marker?)"; }
"$H" changes --consumer offsite --deleted --under "$S" 2>/dev/null | sed "s|^$S/||" | sort >"$T/deleted"
printf '%s\n' b c2 dir1 keep/f tmp >"$T/want"
diff -u "$T/want" "$T/deleted" || fail "--deleted over the real feed"
sed "s|^$S/||" "$T/coalesced" | sort >"$T/got"
for p in a alink c dir2 dir2/sub/y dir2/x dir2/z e new "new/sp ace" x x/inner b c2 dir1 keep/f; do
	grep -qxF -- "$p" "$T/got" || { cat "$T/got"; fail "--coalesce lacks $p"; }
done
grep -qxF tmp "$T/got" || fail "--coalesce lacks tmp, created and deleted (a live backup may have copied it)"
[ "$(grep -c . "$T/got")" = "$(sort -u "$T/got" | grep -c .)" ] || fail "--coalesce lists a path twice"

note "the recipe"
recipe || fail "incremental run"
same_tree "incremental run"
[ "$("$H" consumers --json | jq -r '.[0].cursor')" = "$(sed -n 's/^cursor: //p' "$T/err")" ] ||
	fail "the consumer was not acked at the end of the range"

note "second round: a whole pre-existing tree deleted, more renames"
rm -r "$S/old"
mv "$S/dir2" "$S/dir3"; mv "$S/dir3/sub/y" "$S/dir3/y"
echo n >"$S/new/n"
t_wait_for 30 settled || fail "still in flight"
recipe || fail "second run"
same_tree "second run"

note "third round: a hard-linked file (a, alink, linked before the range) written through one name"
echo again >>"$S/alink"
t_wait_for 30 settled || fail "still in flight"
: >"$S/sentinel"
in_feed() { "$H" changes --consumer offsite 2>/dev/null | grep -qxF "$S/sentinel"; }
t_wait_for 10 in_feed || fail "sentinel not journaled"
"$H" changes --consumer offsite --coalesce --under "$S" >"$T/hl.out" 2>"$T/hl.err"
rc=$?
[ $rc = 4 ] || { cat "$T/hl.out" "$T/hl.err"; fail "a write through one of two names: exit $rc, not 4"; }
# the tracker says the link count (post stat) and the handle joins nothing else
grep -qE "^rescan needed: other names of $S/(a|alink) \(hard links: 2 names, 1 in this range; inode $(stat -c %i "$S/a")\)\$" \
	"$T/hl.err" || { cat "$T/hl.err"; fail "no hard-link line for a/alink"; }
[ "$(grep -cxE "$S/(a|alink)" "$T/hl.out")" = 1 ] || { cat "$T/hl.out"; fail "not exactly one name of a/alink in the list"; }
recipe || fail "third run"
same_tree "third run (both names hold the new content)"

kill -TERM "$TPID"; wait "$TPID" || fail "hsm-tracker exited with $? at SIGTERM"
echo "PASS: cli_tracker"
