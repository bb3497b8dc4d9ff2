#!/bin/bash
# hsm-journal, the query CLI, against journals built by hsmj-fill with known
# content: every output format, cursors, exit codes, read-only use while a
# writer holds the journal, verify. No fanotify: plain directories under $T.
. "$(dirname "$0")/../lib.sh"
need_root
command -v jq >/dev/null || skip "jq missing"
# scripts/deps.sh installs rocksdb-tools: the corruption check always runs.
command -v ldb >/dev/null || fail "ldb (rocksdb-tools) missing: run scripts/deps.sh"
H=$BIN/hsm-journal
FILL=$HSMJ_BUILD/tests/helpers/hsmj-fill
MAN=$(cd "$(dirname "$0")/../.." && pwd)/docs/hsm-journal.1
[ -x "$H" ] || fail "$H not built"
[ -x "$FILL" ] || fail "$FILL not built"
unset HSM_JOURNAL_DIR

# run CMD...: sets $rc, $T/out, $T/err (never fails the script itself)
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}
# expect RC WHAT: the last run exited RC
expect() {
	[ "$rc" = "$1" ] && return 0
	echo "--- stdout:"; head -c 2000 "$T/out"; echo "--- stderr:"; cat "$T/err"
	fail "$2: exit $rc, expected $1"
}
# err_is TEXT: stderr is exactly one line containing TEXT
err_is() {
	[ "$(wc -l <"$T/err")" = 1 ] || { cat "$T/err"; fail "stderr is not one line"; }
	grep -qF -- "$1" "$T/err" || { cat "$T/err"; fail "stderr lacks '$1'"; }
}
cursor_of_err() { sed -n 's/^cursor: //p' "$T/err"; }

J=$T/j
note "init"
run "$H" --journal "$J" init; expect 0 "init"
ID=$(cat "$T/out")
[[ $ID =~ ^[0-9a-f]{32}$ ]] || fail "init printed '$ID', not a journal ID"
run "$H" --journal "$J" init; expect 1 "init over an existing journal"
err_is "hsm-journal: "

note "fill"
"$FILL" --journal "$J" >"$T/fill1" <<'EOF' || fail "hsmj-fill"
time 1700000000.123456789
epoch-start
fs 1234 ext4 /mnt/x
intent /mnt/x/a pid=42 uid=1000 range=0+4096
commit
post last data
intent /mnt/x/held pid=7 uid=0 range=8192+
change rename-from /mnt/x/b /mnt/x/c
change create "/mnt/x/with space"
change create "/mnt/x/new\nline"
change delete /mnt/x/d size=0
EOF
# JSNs are given in the order records were added to each batch.
grep -q '^change 9 /mnt/x/d$' "$T/fill1" || { cat "$T/fill1"; fail "unexpected JSNs from hsmj-fill"; }

note "changes --format paths (the default)"
run "$H" --journal "$J" changes; expect 0 "changes"
printf '%s\n' /mnt/x/a /mnt/x/b /mnt/x/c "/mnt/x/with space" "/mnt/x/new" "line" /mnt/x/d >"$T/want"
diff -u "$T/want" "$T/out" || fail "paths output"
C1=$(cursor_of_err)
[ "$C1" = "hsmj1:$ID:9" ] || fail "cursor line '$C1', expected hsmj1:$ID:9"
[ "$(wc -l <"$T/err")" = 1 ] || fail "stderr holds more than the cursor"

note "changes --format paths0 | xargs -0"
run "$H" --journal "$J" changes --format paths0; expect 0 "paths0"
[ "$(tr -cd '\0' <"$T/out" | wc -c)" = 6 ] || fail "paths0: expected 6 NUL-terminated paths"
xargs -0 -n1 printf '<%s>\n' <"$T/out" >"$T/got"
printf '<%s>\n' /mnt/x/a /mnt/x/b /mnt/x/c "/mnt/x/with space" "/mnt/x/new
line" /mnt/x/d >"$T/want"
diff -u "$T/want" "$T/got" || fail "paths0 through xargs -0"
xargs -0 -n1 echo <"$T/out" >"$T/got"
printf '%s\n' /mnt/x/a /mnt/x/b /mnt/x/c "/mnt/x/with space" "/mnt/x/new" "line" /mnt/x/d >"$T/want"
diff -u "$T/want" "$T/got" || fail "paths0 through xargs -0 -n1 echo"
[ "$(cursor_of_err)" = "$C1" ] || fail "paths0 cursor"

note "changes --format jsonl"
run "$H" --journal "$J" changes --format jsonl; expect 0 "jsonl"
while IFS= read -r line; do
	jq -e . >/dev/null <<<"$line" || fail "jsonl line does not parse: $line"
done <"$T/out"
[ "$(tail -n1 "$T/out" | jq -r .cursor)" = "$C1" ] || fail "jsonl last line is not the cursor"
[ -s "$T/err" ] && fail "jsonl wrote to stderr: $(cat "$T/err")"
head -n -1 "$T/out" | jq -c '[.jsn, .kind, .reasons, .path, .path2]' >"$T/got"
cat >"$T/want" <<'EOF'
[4,"change",["data"],"/mnt/x/a",null]
[6,"change",["rename-from"],"/mnt/x/b","/mnt/x/c"]
[7,"change",["create"],"/mnt/x/with space",null]
[8,"change",["create"],"/mnt/x/new\nline",null]
[9,"change",["delete"],"/mnt/x/d",null]
EOF
diff -u "$T/want" "$T/got" || fail "jsonl records"
[ "$(head -n1 "$T/out" | jq -r .time)" = "2023-11-14T22:13:20.123456789Z" ] || fail "jsonl time"
[ "$(head -n1 "$T/out" | jq -r .intent)" = 2 ] || fail "jsonl intent reference"
[ "$(sed -n 5p "$T/out" | jq -r .post.size)" = 0 ] || fail "jsonl post-stat"

note "changes --format table"
run "$H" --journal "$J" changes --format table; expect 0 "table"
cat >"$T/want" <<EOF
JSN  TIME                  KIND    WHAT         PATH
  4  2023-11-14T22:13:20Z  change  data         /mnt/x/a
  6  2023-11-14T22:13:20Z  change  rename-from  /mnt/x/b -> /mnt/x/c
  7  2023-11-14T22:13:20Z  change  create       /mnt/x/with space
  8  2023-11-14T22:13:20Z  change  create       /mnt/x/new\\nline
  9  2023-11-14T22:13:20Z  change  delete       /mnt/x/d
cursor: $C1
EOF
diff -u "$T/want" "$T/out" || fail "table output"

note "in-flight"
run "$H" --journal "$J" in-flight; expect 0 "in-flight"
[ "$(cat "$T/out")" = /mnt/x/held ] || fail "in-flight paths: $(cat "$T/out")"
run "$H" --journal "$J" in-flight --format jsonl; expect 0 "in-flight jsonl"
[ "$(jq -c '[.jsn, .path, .pid, .uid, .ranges]' "$T/out")" = '[5,"/mnt/x/held",7,0,[{"offset":8192,"length":0}]]' ] ||
	fail "in-flight jsonl: $(cat "$T/out")"
run "$H" --journal "$J" in-flight --format table; expect 0 "in-flight table"
grep -qE '^ *5  2023-11-14T22:13:20Z  7/0 +8192\+ +/mnt/x/held$' "$T/out" || fail "in-flight table: $(cat "$T/out")"

note "status"
run "$H" --journal "$J" status --json; expect 0 "status --json"
jq -e --arg id "$ID" '.id == $id and .last_jsn == 9 and .in_flight == 1 and .feed_records == 5
	and .epoch.jsn == 1 and .epoch.clean == false and .filesystems[0].mount == "/mnt/x"
	and (.open_markers | length) == 0' "$T/out" >/dev/null || { cat "$T/out"; fail "status --json content"; }
[ "$(jq -r .cursor "$T/out")" = "$C1" ] || fail "status cursor"
run "$H" --journal "$J" status; expect 0 "status"
grep -q "^id: *$ID$" "$T/out" && grep -q '^in flight: *1$' "$T/out" &&
	grep -q 'not clean' "$T/out" || { cat "$T/out"; fail "status text"; }

note "cursor round trip"
run "$H" --journal "$J" changes --since "$C1"; expect 0 "changes --since the end"
[ -s "$T/out" ] && fail "nothing new expected, got: $(cat "$T/out")"
[ "$(cursor_of_err)" = "$C1" ] || fail "cursor moved without new records"
"$FILL" --journal "$J" 'change data /mnt/x/e' 'change attrib /mnt/x/f' >/dev/null || fail "fill 2"
run "$H" --journal "$J" changes --since "$C1"; expect 0 "changes after more fill"
[ "$(cat "$T/out")" = "$(printf '/mnt/x/e\n/mnt/x/f')" ] || fail "only the new records expected: $(cat "$T/out")"
C2=$(cursor_of_err)
[ "$C2" = "hsmj1:$ID:11" ] || fail "new cursor $C2"
run "$H" --journal "$J" changes --since "$C2" --format jsonl; expect 0 "jsonl at the end"
[ "$(cat "$T/out")" = "{\"cursor\":\"$C2\"}" ] || fail "jsonl with nothing new: $(cat "$T/out")"

note "global options: environment, after the command, before it"
HSM_JOURNAL_DIR=$J run "$H" changes --since "$C1"; expect 0 "journal from the environment"
[ "$(cursor_of_err)" = "$C2" ] || fail "env: cursor"
run "$H" changes --journal "$J" --since "$C1"; expect 0 "--journal after the command"
run "$H" -j "$J" changes --since="$C1" -f paths; expect 0 "short options"
run "$H" changes; expect 2 "no journal at all"
err_is "--journal DIR"; grep -q HSM_JOURNAL_DIR "$T/err" || fail "the error names HSM_JOURNAL_DIR"

note "another journal's cursor: exit 3"
run "$H" --journal "$T/j2" init; expect 0 "init j2"
C_OTHER=$("$H" --journal "$T/j2" status --json | jq -r .cursor)
[[ $C_OTHER == hsmj1:* ]] || fail "j2 cursor '$C_OTHER'"
run "$H" --journal "$J" changes --since "$C_OTHER"; expect 3 "cursor of another journal"
err_is "journal reset: full backup needed"
[ -s "$T/out" ] && fail "output despite the reset"

note "a rescan marker in range: exit 4 for path formats"
"$FILL" --journal "$J" 'time 1700000100' 'change data /mnt/x/g' 'rescan overflow /mnt/x since=1700000050' \
	'change data /mnt/x/h' >/dev/null || fail "fill 3"
run "$H" --journal "$J" changes --since "$C2"; expect 4 "marker in range (paths)"
[ "$(cat "$T/out")" = "$(printf '/mnt/x/g\n/mnt/x/h')" ] || fail "paths before and after the marker: $(cat "$T/out")"
grep -qxF "rescan needed: /mnt/x (overflow) since 2023-11-14T22:14:10Z" "$T/err" || { cat "$T/err"; fail "rescan line"; }
C3=$(cursor_of_err)
[ "$C3" = "hsmj1:$ID:14" ] || fail "cursor after a marker: $C3"
run "$H" --journal "$J" changes --since "$C2" --format paths0; expect 4 "marker in range (paths0)"
run "$H" --journal "$J" changes --since "$C2" --format jsonl; expect 0 "marker in range (jsonl)"
jq -s -e '[.[] | select(.kind == "rescan")] | length == 1 and (.[0] | .path == "/mnt/x"
	and .cause == "overflow" and .since == "2023-11-14T22:14:10.000000000Z" and .until == null)' \
	"$T/out" >/dev/null ||
	{ cat "$T/out"; fail "jsonl marker"; }
run "$H" --journal "$J" changes --since "$C3"; expect 0 "past the marker"
run "$H" --journal "$J" status --json; expect 0 "status with a marker"
[ "$(jq -c '[.open_markers[] | [.jsn, .path, .cause]]' "$T/out")" = '[[13,"/mnt/x","overflow"]]' ] ||
	fail "status open markers: $(cat "$T/out")"
# A rescan-done in range does not make the marker count less (a rescan walk
# cannot see deletions); past the marker, its resolution alone is exit 0.
"$FILL" --journal "$J" 'change data,rescan /mnt/x/g2' 'rescan-done 13' >/dev/null || fail "fill 4"
run "$H" --journal "$J" changes --since "$C2"; expect 4 "marker and its rescan-done in range"
grep -qxF "rescan needed: /mnt/x (overflow) since 2023-11-14T22:14:10Z" "$T/err" || fail "rescan line"
run "$H" --journal "$J" changes --since "$C3"; expect 0 "only the resolution in range"
[ "$(cat "$T/out")" = /mnt/x/g2 ] || fail "rescan output: $(cat "$T/out")"
C4=$(cursor_of_err)
run "$H" --journal "$J" status --json; expect 0 "status after rescan-done"
[ "$(jq '.open_markers | length' "$T/out")" = 0 ] || fail "marker still open after rescan-done"

note "usage errors: exit 2"
run "$H" --journal "$J" changes --since bogus; expect 2 "malformed cursor"
err_is "invalid cursor"
run "$H" --journal "$J" changes --since "hsmj1:$ID:007"; expect 2 "cursor with leading zeros"
run "$H" --journal "$J" changes --frobnicate; expect 2 "unknown flag"
err_is "unknown option --frobnicate"
run "$H" --journal "$J" changes --format xml; expect 2 "unknown format"
run "$H" --journal "$J" frob; expect 2 "unknown command"
err_is "unknown command frob (see --help)"
run "$H" --bogus; expect 2 "unknown global option"
run "$H"; expect 2 "no command"
run "$H" --journal "$J" status extra; expect 2 "stray operand"

note "other errors: exit 1, one line"
run "$H" --journal "$J" changes --since "hsmj1:$ID:999"; expect 1 "cursor beyond the end"
err_is "beyond the end"
mkdir "$T/notj"
run "$H" --journal "$T/notj" status; expect 1 "not a journal"
err_is "hsm-journal: $T/notj"
[ -s "$T/out" ] && fail "output for a non-journal"
[ -z "$(ls -A "$T/notj")" ] || fail "reading a non-journal wrote into it: $(ls -A "$T/notj")"
for cmd in changes in-flight verify; do
	run "$H" --journal "$T/missing" $cmd; expect 1 "$cmd on a missing dir"
	err_is "hsm-journal: "
	[ -e "$T/missing" ] && fail "$cmd created the missing journal dir"
done

note "output failures are errors, never a silent success"
"$H" --journal "$J" changes >/dev/full 2>"$T/err"; rc=$?; expect 1 "changes to a full device"
err_is "writing output"
grep -q cursor: "$T/err" && fail "a cursor was given for output that was not written"
"$H" --journal "$J" changes --format jsonl >&- 2>"$T/err"; rc=$?; expect 1 "changes to a closed stdout"
"$H" --journal "$J" status --json >/dev/full 2>"$T/err"; rc=$?; expect 1 "status to a full device"

note "help and version"
run "$H" --version; expect 0 "--version"
[ "$(cat "$T/out")" = "hsm-journal 0.1.0" ] || fail "version: $(cat "$T/out")"
run "$H" --help; expect 0 "--help"
grep -q changes "$T/out" || fail "--help lists no commands"
for cmd in init status changes in-flight verify; do
	run "$H" $cmd --help; expect 0 "$cmd --help"
	grep -q "^Usage: hsm-journal .*$cmd" "$T/out" || fail "$cmd --help: $(head -n1 "$T/out")"
done

note "trimmed cursor: exit 3"
"$FILL" --journal "$J" 'trim 9' >"$T/fill5" || fail "trim"
run "$H" --journal "$J" changes --since "hsmj1:$ID:4"; expect 3 "expired cursor"
err_is "cursor expired: full backup needed"
run "$H" --journal "$J" changes --since "$C1" --format jsonl; expect 0 "cursor at the trim point"

note "read-only use while a writer holds the journal"
t_bg FILLPID "$FILL" --journal "$J" "change data /mnt/x/live1" commit "signal $T/ready" \
	"sleep-until $T/go" "change data /mnt/x/live2" commit
t_wait_for 30 test -e "$T/ready" || fail "hsmj-fill never got ready"
run "$H" --journal "$J" changes --since "$C4"; expect 0 "changes while a writer runs"
[ "$(cat "$T/out")" = /mnt/x/live1 ] || fail "reader sees: $(cat "$T/out")"
C5=$(cursor_of_err)
run "$H" --journal "$J" status --json; expect 0 "status while a writer runs"
run "$H" --journal "$J" verify; expect 0 "verify while a writer runs"
run "$FILL" --journal "$J" "change data /mnt/x/second-writer"; expect 1 "a second writer"
touch "$T/go"
wait "$FILLPID" || fail "hsmj-fill (writer) failed"
run "$H" --journal "$J" changes --since "$C5"; expect 0 "changes after the writer"
[ "$(cat "$T/out")" = /mnt/x/live2 ] || fail "after the writer: $(cat "$T/out")"

note "hard links: a change of a file with names the range does not know"
HL=$T/hl
run "$H" --journal "$HL" init; expect 0 "init (hard links)"
"$FILL" --journal "$HL" >/dev/null <<'EOF' || fail "hsmj-fill (hard links)"
change create /m/s/a fh=01
change create,link /m/o/b fh=01
commit
EOF
hl0=$("$H" --journal "$HL" cursor)
"$FILL" --journal "$HL" >/dev/null <<'EOF' || fail "hsmj-fill (hard links)"
change data /m/s/a fh=01 nlink=2 ino=11
change data /m/s/c fh=02 nlink=2 ino=12
change data /m/o/d fh=03 nlink=3 ino=13
change data /m/s/e fh=04 nlink=1 ino=14
change data,rescan /m/s/f nlink=2 ino=15
change data /m/s/g fh=05 nlink=2 ino=16
change delete /m/o/h fh=05
EOF
for co in "" --coalesce; do
	# a, b: both made in the range; g: h was its other name (unlinked since)
	run "$H" --journal "$HL" changes $co; expect 4 "changes $co over unknown hard links"
	[ "$(grep -c '^rescan needed: other names of ' "$T/err")" = 2 ] || { cat "$T/err"; fail "changes $co: not 2 hard-link lines"; }
	grep -qxF "rescan needed: other names of /m/s/c (hard links: 2 names, 1 in this range; inode 12)" "$T/err" ||
		{ cat "$T/err"; fail "changes $co: no line for c"; }
	grep -qxF "rescan needed: other names of /m/o/d (hard links: 3 names, 1 in this range; inode 13)" "$T/err" ||
		{ cat "$T/err"; fail "changes $co: no line for d"; }
	tail -n 1 "$T/err" | grep -q '^cursor: hsmj1:' || { cat "$T/err"; fail "changes $co: cursor not last"; }
	grep -qxF /m/s/c "$T/out" || fail "changes $co: c not printed"
	# jsonl and table: marked, exit 0 (as for markers)
	run "$H" --journal "$HL" changes $co --format jsonl; expect 0 "changes $co --format jsonl over unknown hard links"
	got=$(jq -r 'select(.other_names_unknown) | "\(.path) \(.nlink)"' "$T/out" | sort | tr '\n' ' ')
	[ "$got" = "/m/o/d 3 /m/s/c 2 " ] || { cat "$T/out"; fail "changes $co jsonl: marked '$got'"; }
	run "$H" --journal "$HL" changes $co --format table; expect 0 "changes $co --format table"
	grep -q '(2 links, other names unknown) */m/s/c$' "$T/out" || { cat "$T/out"; fail "changes $co table: c not marked"; }
done
# since the cursor, a's other name b is not in the range
run "$H" --journal "$HL" changes --since "$hl0" --coalesce; expect 4 "changes --since over unknown hard links"
grep -qxF "rescan needed: other names of /m/s/a (hard links: 2 names, 1 in this range; inode 11)" "$T/err" ||
	{ cat "$T/err"; fail "no line for a since the cursor"; }
# --under: names outside the tree count as known (a's b in /m/o); an unknown
# name may be anywhere, so d (outside the tree) is still reported
run "$H" --journal "$HL" changes --coalesce --under /m/s; expect 4 "changes --under over unknown hard links"
grep -q 'other names of /m/s/a' "$T/err" && { cat "$T/err"; fail "--under: a's other name is known"; }
grep -q 'other names of /m/o/d' "$T/err" || { cat "$T/err"; fail "--under: d's unknown names may be below /m/s"; }
grep -qxF /m/o/d "$T/out" && fail "--under printed /m/o/d"
# --deleted lists no changed file: no hard-link lines
run "$H" --journal "$HL" changes --deleted; expect 0 "changes --deleted over unknown hard links"
grep -q 'other names' "$T/err" && { cat "$T/err"; fail "--deleted printed hard-link lines"; }

note "verify"
run "$H" --journal "$J" verify; expect 0 "verify a clean journal"
grep -qE '^[0-9]+ records, 0 corrupt$' "$T/out" || fail "verify summary: $(cat "$T/out")"
{
	# journal.h offers no way to store a record that does not decode; RocksDB's
	# own tool writes one (no writer holds the journal now).
	ldb --db="$J/db" --column_family=feed put --key_hex --value_hex 0x0000000000000004 0xDEADBEEF \
		>/dev/null || fail "ldb put"
	run "$H" --journal "$J" verify; expect 1 "verify a corrupt journal"
	grep -qxF "corrupt: feed 0000000000000004: record does not decode" "$T/out" ||
		{ cat "$T/out"; fail "verify names the corrupt key"; }
	grep -qE '^[0-9]+ records, 1 corrupt$' "$T/out" || fail "verify summary: $(cat "$T/out")"
	run "$H" --journal "$J" changes --since "$C1" --format jsonl; expect 0 "the corrupt record is before the range"
	run "$H" --journal "$J" changes; expect 1 "reading over a corrupt record"
	err_is "corrupt"
	run "$H" --journal "$J" changes --coalesce; expect 1 "coalescing over a corrupt record"
	err_is "corrupt"
}

# The man page's rsync recipe is run by cli_rsync.sh.
if [ -f "$MAN" ] && command -v man >/dev/null; then
	note "man page"
	MANWIDTH=80 man -l "$MAN" >"$T/man" 2>"$T/manerr" || fail "man -l $MAN"
	for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS "EXIT STATUS" ENVIRONMENT EXAMPLES "SEE ALSO"; do
		grep -q "^$s" "$T/man" || fail "man page lacks $s"
	done
fi
echo "PASS: cli"
