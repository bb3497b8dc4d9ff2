#!/bin/bash
# The rsync recipe of hsm-journal(1) (EXAMPLES), run as written there: the
# text between the recipe-begin and recipe-end comments, with its src, dst
# and /tmp paths pointed at directories under $T. Real file operations on
# the source, the records a tracker would write for them by hsmj-fill, and
# after each run the copy must equal the source (contents, types, modes).
. "$(dirname "$0")/../lib.sh"
need_root
command -v rsync >/dev/null || skip "rsync missing"
command -v jq >/dev/null || skip "jq missing"
H=$BIN/hsm-journal
FILL=$HSMJ_BUILD/tests/helpers/hsmj-fill
MAN=$(cd "$(dirname "$0")/../.." && pwd)/docs/hsm-journal.1
[ -x "$H" ] || fail "$H not built"
[ -x "$FILL" ] || fail "$FILL not built"

S=$T/src D=$T/dst JR=$T/jr
mkdir -p "$T/bin" "$T/tmp"
ln -s "$H" "$T/bin/hsm-journal"
# rsync, but first (once) $T/hook if there is one: a change of the tree
# after the recipe took its list and cursor, as in a live tree
cat >"$T/bin/rsync" <<EOF
#!/bin/sh
if [ -e "$T/hook" ]; then sh "$T/hook" || exit 99; rm -f "$T/hook"; fi
exec $(command -v rsync) "\$@"
EOF
chmod +x "$T/bin/rsync"
export PATH=$T/bin:$PATH HSM_JOURNAL_DIR=$JR

# the recipe, unescaped from roff
sed -n '/^\.\\" recipe-begin/,/^\.\\" recipe-end/p' "$MAN" | sed '1d;$d' |
	sed -e 's/\\-/-/g' -e 's/\\e/\\/g' -e "s|/tmp/|$T/tmp/|g" \
	    -e "s|^src=/srv/data dst=/backup/data c=offsite\$|src=$S dst=$D c=offsite|" >"$T/recipe.sh"
grep -q "^src=$S dst=$D c=offsite\$" "$T/recipe.sh" || { cat "$T/recipe.sh"; fail "recipe not found in $MAN"; }
grep -q -- '--consumer $c --coalesce' "$T/recipe.sh" && grep -q -- '--deleted' "$T/recipe.sh" &&
	grep -q -- '--format paths0' "$T/recipe.sh" && grep -q '^hsm-journal ack --consumer' "$T/recipe.sh" ||
	fail "the recipe lost --coalesce, --deleted, paths0 or its ack"

recipe() { sh "$T/recipe.sh" >"$T/recipe.out" 2>&1 || { cat "$T/recipe.out"; return 1; }; }
# contents, and type + mode + size of every entry
same_tree() {
	diff -r "$S" "$D" >&2 || fail "$1: contents differ"
	(cd "$S" && find . -printf '%y %m %s %p\n' | sort) >"$T/s.list"
	(cd "$D" && find . -printf '%y %m %s %p\n' | sort) >"$T/d.list"
	diff -u "$T/s.list" "$T/d.list" >&2 || fail "$1: types, modes or sizes differ"
}
acked() { "$H" consumers --json | jq -r '.[] | select(.name == "offsite") | .cursor'; }
fill() { "$FILL" --journal "$JR" "$@" >/dev/null || fail "hsmj-fill $*"; }

"$H" init >/dev/null || fail "init"
mkdir -p "$S/dir1/sub" "$S/gone" "$S/keep" "$D"
echo a >"$S/a"; echo b >"$S/b"; echo x >"$S/dir1/x"; echo y >"$S/dir1/sub/y"
echo f >"$S/gone/f"; echo x >"$S/x"; echo e >"$S/e"; echo c2 >"$S/c2"; echo k >"$S/keep/k"

note "first run: nothing in the feed, the consumer is made; then the full copy"
recipe || fail "first run"
[ "$(acked)" = "$("$H" cursor)" ] || fail "first run did not ack the end"
rsync -a "$S/" "$D/"

note "a history of changes, as the tracker would journal it"
echo more >>"$S/a";                   fill "change data $S/a"
mv "$S/b" "$S/c";                     fill "change rename-from $S/b $S/c" "change rename-to $S/c $S/b"
mv "$S/dir1" "$S/dir2";               fill "change rename-from $S/dir1 $S/dir2 dir" "change rename-to $S/dir2 $S/dir1 dir"
echo z >"$S/dir2/z";                  fill "change create $S/dir2/z"
echo y2 >>"$S/dir2/sub/y";            fill "change data $S/dir2/sub/y"
rm -r "$S/gone";                      fill "change delete $S/gone/f" "change delete $S/gone dir"
mkdir "$S/new";                       fill "change create $S/new dir"
echo sp >"$S/new/sp ace";             fill "change create \"$S/new/sp ace\""
echo nl >"$S/new/n"$'\n'"l";          fill "change create \"$S/new/n\\nl\""
echo t >"$S/tmp"; rm "$S/tmp";        fill "change create $S/tmp" "change delete $S/tmp"
rm "$S/x"; mkdir "$S/x"; echo i >"$S/x/inner"
fill "change delete $S/x" "change create $S/x dir" "change create $S/x/inner"
mv "$S/c2" "$S/e";                    fill "change rename-from $S/c2 $S/e" "change rename-to $S/e $S/c2"
chmod 600 "$S/keep/k";                fill "change attrib $S/keep/k"
# outside the copied tree: never touches it
fill "change data $T/elsewhere/file" "change delete $T/elsewhere/old"
recipe || fail "incremental run"
same_tree "incremental run"
[ "$(acked)" = "$("$H" cursor)" ] || fail "the incremental run did not ack the end"

note "a failed run does not ack"
BEFORE=$(acked)
echo again >>"$S/a";                  fill "change data $S/a"
mv "$D" "$D.away"; echo "not a directory" >"$D"
sh "$T/recipe.sh" >/dev/null 2>&1 && fail "the recipe succeeded into a file"
[ "$(acked)" = "$BEFORE" ] || fail "a failed run moved the consumer"
rm "$D"; mv "$D.away" "$D"
recipe || fail "run after the failure"
same_tree "run after a failure"

note "a rescan marker inside the tree, and one above it"
echo u >"$S/dir2/unjournaled"
fill "rescan overflow $S/dir2"
recipe || fail "run with a marker"
same_tree "run with a marker inside"
echo v >"$S/keep/unjournaled2"; rm "$S/c"
fill "rescan unclean-stop $T"
recipe || fail "run with a marker above the tree"
same_tree "run with a marker above"

note "a marker for a directory that is gone since"
mkdir "$S/short"; echo s >"$S/short/lived"
fill "rescan overflow $S/short"
rm -r "$S/short"
recipe || fail "run with a marker for a vanished directory"
same_tree "run with a marker for a vanished directory"

note "a name inside a directory made and removed in the range"
echo h >"$S/h0"; echo h1 >"$S/h1";   fill "change create $S/h0" "change create $S/h1"
recipe || fail "run before the short-lived directory"
mkdir "$S/n"; mv "$S/h0" "$S/n/h0"; mv "$S/n/h0" "$S/h2"; rmdir "$S/n"
fill "change create $S/n dir" "change rename-from $S/h0 $S/n/h0" "change rename-to $S/n/h0 $S/h0" \
	"change rename-from $S/n/h0 $S/h2" "change rename-to $S/h2 $S/n/h0" "change delete $S/n dir"
"$H" changes --consumer offsite --deleted --under "$S" >"$T/deleted" 2>/dev/null || fail "--deleted"
# n too: a run reading the live tree may have copied it (then h0 with it)
[ "$(cat "$T/deleted" | tr '\n' ' ')" = "$S/h0 $S/n " ] || fail "--deleted lists other than h0 and n: $(cat "$T/deleted")"
recipe || fail "run after the short-lived directory"
same_tree "run after the short-lived directory"
[ "$(acked)" = "$("$H" cursor)" ] || fail "the run after the short-lived directory did not ack"

note "the tree changes while the recipe runs: names made after its cursor, removed before the next run"
mkdir "$S/lb"; echo a >"$S/lb/a";   fill "change create $S/lb dir" "change create $S/lb/a"
cat >"$T/hook" <<EOF
echo n >"$S/lb/n"; mkdir "$S/lb/sd"; echo f >"$S/lb/sd/f"
"$FILL" --journal "$JR" "change create $S/lb/n" "change create $S/lb/sd dir" "change create $S/lb/sd/f" >/dev/null
EOF
recipe || fail "run while the tree changes"
[ ! -e "$T/hook" ] || fail "the hook did not run"
[ -f "$D/lb/n" ] && [ -f "$D/lb/sd/f" ] || fail "lb copied without the names made meanwhile: the test proves nothing"
rm "$S/lb/n"; rm -r "$S/lb/sd"
fill "change delete $S/lb/n" "change delete $S/lb/sd/f" "change delete $S/lb/sd dir"
"$H" changes --consumer offsite --deleted --under "$S" >"$T/deleted" 2>/dev/null || fail "--deleted"
[ "$(sort "$T/deleted" | tr '\n' ' ')" = "$S/lb/n $S/lb/sd " ] || fail "--deleted lists other than lb/n and lb/sd: $(cat "$T/deleted")"
recipe || fail "run after the names made meanwhile are gone"
same_tree "run after the names made meanwhile are gone"
[ "$(acked)" = "$("$H" cursor)" ] || fail "the run after the live change did not ack"

note "a name made and removed in the range whose parent the far side lacks (made in the same range)"
mkdir "$S/np"; mkdir "$S/np/q"; rmdir "$S/np/q"
fill "change create $S/np dir" "change create $S/np/q dir" "change delete $S/np/q dir"
recipe || fail "run with a short-lived name below a new directory"
same_tree "run with a short-lived name below a new directory"
[ "$(acked)" = "$("$H" cursor)" ] || fail "the run with a short-lived name below a new directory did not ack"

note "a directory replaced by a file (rm -r x; echo >x)"
mkdir "$S/rd"; echo a >"$S/rd/a"; fill "change create $S/rd dir" "change create $S/rd/a"
recipe || fail "run before the directory was replaced"
rm -r "$S/rd"; echo file >"$S/rd"
fill "change delete $S/rd/a" "change delete $S/rd dir" "change create $S/rd"
"$H" changes --consumer offsite --deleted --under "$S" >"$T/deleted" 2>/dev/null || fail "--deleted"
grep -q "$S/rd/a" "$T/deleted" && fail "--deleted lists rd/a below the file rd (rsync would exit 23 on ENOTDIR)"
recipe || fail "run after the directory became a file"
same_tree "run after the directory became a file"
[ "$(acked)" = "$("$H" cursor)" ] || fail "the run after the directory became a file did not ack"

note "the journal lags: a deleted name whose directory is gone, its rmdir not yet journaled"
mkdir "$S/lag"; echo l >"$S/lag/f";   fill "change create $S/lag dir" "change create $S/lag/f"
recipe || fail "run before the lag"
[ -f "$D/lag/f" ] || fail "lag/f not copied"
rm -r "$S/lag"; rm "$S/h1";          fill "change delete $S/lag/f" "change delete $S/h1"
recipe || fail "run with a deleted name whose parent is gone (rsync exit 24)"
[ "$(acked)" = "$("$H" cursor)" ] || fail "the run with the lag did not ack"
[ ! -e "$D/h1" ] || fail "the other deletions of that run were not made"
fill "change delete $S/lag dir"
recipe || fail "run after the lag"
same_tree "run after the lag"

note "a hard-linked file written through one name: the other name is copied too"
echo one >"$S/hl1"; ln "$S/hl1" "$S/keep/hl2"
fill "change create $S/hl1 fh=0a" "change create,link $S/keep/hl2 fh=0a"
recipe || fail "run before the hard-link write"
[ "$(cat "$D/keep/hl2")" = one ] || fail "hl2 not copied"
echo two >>"$S/hl1"                   # keep/hl2 holds it too
fill "change data $S/hl1 fh=0a nlink=2 ino=$(stat -c %i "$S/hl1")"
"$H" changes --consumer offsite --coalesce --under "$S" >"$T/hl.out" 2>"$T/hl.err"; rc=$?
[ $rc = 4 ] || { cat "$T/hl.err"; fail "a change of a file with an unknown name: exit $rc, not 4"; }
grep -qxF "rescan needed: other names of $S/hl1 (hard links: 2 names, 1 in this range; inode $(stat -c %i "$S/hl1"))" \
	"$T/hl.err" || { cat "$T/hl.err"; fail "no hard-link line"; }
grep -qxF "$S/keep/hl2" "$T/hl.out" && fail "hl2 is in the list: the test proves nothing"
recipe || fail "run after the hard-link write"
[ "$(cat "$D/hl1" | tr '\n' ' ')" = "one two " ] || fail "hl1 on the far side: $(cat "$D/hl1")"
[ "$(cat "$D/keep/hl2" | tr '\n' ' ')" = "one two " ] || fail "hl2 on the far side kept the old content: $(cat "$D/keep/hl2")"
same_tree "run after the hard-link write"
[ "$(acked)" = "$("$H" cursor)" ] || fail "the hard-link run did not ack"
echo three >>"$S/keep/hl2"            # a record without the inode number
fill "change data $S/keep/hl2 fh=0a nlink=2"
recipe || fail "run after a hard-link write without an inode"
[ "$(tail -n 1 "$D/hl1")" = three ] || fail "hl1 kept the old content (inode unknown)"
same_tree "run after a hard-link write without an inode"

note "an expired consumer: full copy"
echo w >"$S/w"; fill "change create $S/w"
rm "$S/e"; fill "change delete $S/e"
"$H" trim --keep 0 --max-age 0 --max-records 1 >"$T/trim.out" || fail "trim"
grep -q "consumer offsite expired" "$T/trim.out" || { cat "$T/trim.out"; fail "offsite did not expire"; }
"$H" changes --consumer offsite >/dev/null 2>&1; [ $? = 3 ] || fail "expired consumer: not exit 3"
recipe || fail "run after expiry"
same_tree "full copy after expiry"
"$H" consumers --json | jq -e '.[0].state == "ok" and .[0].lag_records == 0' >/dev/null ||
	fail "consumer after the full copy: $("$H" consumers --json)"
echo "PASS: cli_rsync"
