#!/bin/bash
# hsm-journal consumers, ack, trim, cursor --at, changes --coalesce/--deleted/
# --under and status, against journals built by hsmj-fill with known content.
# No fanotify: plain directories under $T.
. "$(dirname "$0")/../lib.sh"
need_root
command -v jq >/dev/null || skip "jq missing"
H=$BIN/hsm-journal
FILL=$HSMJ_BUILD/tests/helpers/hsmj-fill
[ -x "$H" ] || fail "$H not built"
[ -x "$FILL" ] || fail "$FILL not built"
unset HSM_JOURNAL_DIR

run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
expect() {
	[ "$rc" = "$1" ] && return 0
	echo "--- stdout:"; head -c 2000 "$T/out"; echo "--- stderr:"; cat "$T/err"
	fail "$2: exit $rc, expected $1"
}
err_is() {
	[ "$(wc -l <"$T/err")" = 1 ] || { cat "$T/err"; fail "stderr is not one line"; }
	grep -qF -- "$1" "$T/err" || { cat "$T/err"; fail "stderr lacks '$1'"; }
}
out_is() { # exact stdout, lines given as arguments
	printf '%s\n' "$@" >"$T/want"
	diff -u "$T/want" "$T/out" >&2 || fail "${WHAT:-output}"
}
cursor_of_err() { sed -n 's/^cursor: //p' "$T/err"; }
fill() { local j=$1; shift; "$FILL" --journal "$j" "$@" >/dev/null || fail "hsmj-fill $*"; }

# ---- consumers: resume, never ack by themselves, ack only forward ----
J=$T/j
"$H" --journal "$J" init >"$T/id" || fail "init"
ID=$(cat "$T/id")
fill "$J" 'time 1700000000' 'change data /m/a' 'change data /m/b'

note "changes --consumer: a first read starts at the beginning"
run "$H" --journal "$J" changes --consumer nightly; expect 0 "first read"
WHAT="first read" out_is /m/a /m/b
C1=$(cursor_of_err)
[ "$C1" = "hsmj1:$ID:2" ] || fail "cursor $C1"
run "$H" --journal "$J" changes --consumer nightly; expect 0 "second read without ack"
WHAT="changes never acks by itself" out_is /m/a /m/b
run "$H" --journal "$J" consumers --json; expect 0 "consumers before any ack"
[ "$(jq length "$T/out")" = 0 ] || fail "a consumer exists before its first ack: $(cat "$T/out")"

note "ack, then resume after it"
run "$H" --journal "$J" ack --consumer nightly "$C1"; expect 0 "ack"
[ -s "$T/out" ] || [ -s "$T/err" ] && fail "ack printed something"
fill "$J" 'change data /m/c'
run "$H" --journal "$J" changes --consumer nightly; expect 0 "resume"
WHAT="resume after the ack" out_is /m/c
C2=$(cursor_of_err)
run "$H" --journal "$J" changes --consumer nightly --since "$C1"; expect 2 "--since with --consumer"
err_is "--since and --consumer exclude each other"

note "ack moves only forward"
run "$H" --journal "$J" ack --consumer nightly "$C2"; expect 0 "ack forward"
run "$H" --journal "$J" ack --consumer nightly "$C2"; expect 0 "the same ack again"
run "$H" --journal "$J" ack --consumer nightly "$C1"; expect 1 "ack backwards"
err_is "consumer nightly has acknowledged JSN 3; JSN 2 is before it (acks only move forward)"
run "$H" --journal "$J" ack --consumer nightly "hsmj1:$ID:99"; expect 1 "ack beyond the end"
err_is "beyond the end"
"$H" --journal "$T/jother" init >/dev/null || fail "init jother"
run "$H" --journal "$J" ack --consumer nightly "$("$H" --journal "$T/jother" cursor)"
expect 3 "ack of another journal's cursor"
err_is "journal reset: full backup needed"
run "$H" --journal "$J" changes --consumer nightly; expect 0 "nothing new"
[ -s "$T/out" ] && fail "unexpected output: $(cat "$T/out")"
[ "$(cursor_of_err)" = "$C2" ] || fail "cursor after nothing new"
run "$H" --journal "$J" consumers --json; expect 0 "consumers --json"
jq -e --arg c "$C2" '.[0] | .name == "nightly" and .cursor == $c and .acked_jsn == 3
	and .lag_records == 0 and .state == "ok" and .age_seconds >= 0' "$T/out" >/dev/null ||
	{ cat "$T/out"; fail "consumers --json"; }

note "ack and consumers while a writer holds the journal"
t_bg FILLPID "$FILL" --journal "$J" "change data /m/live1" commit "signal $T/ready" \
	"sleep-until $T/go" "change data /m/live2" commit
t_wait_for 30 test -e "$T/ready" || fail "hsmj-fill never got ready"
run "$H" --journal "$J" changes --consumer nightly; expect 0 "changes beside a writer"
WHAT="beside a writer" out_is /m/live1
C3=$(cursor_of_err)
run "$H" --journal "$J" ack --consumer nightly "$C3"; expect 0 "ack beside a writer"
run "$H" --journal "$J" consumers --json; expect 0 "consumers beside a writer"
[ "$(jq -r '.[0].cursor' "$T/out")" = "$C3" ] || fail "ack beside a writer not kept"
run "$H" --journal "$J" trim; expect 1 "trim beside a writer"
err_is "the tracker holds the journal; it trims by itself"
run "$H" --journal "$J" trim --dry-run; expect 0 "trim --dry-run beside a writer"
touch "$T/go"
wait "$FILLPID" || fail "hsmj-fill (writer) failed"
run "$H" --journal "$J" changes --consumer nightly; expect 0 "after the writer"
WHAT="after the writer" out_is /m/live2
run "$H" --journal "$J" consumers remove nightly; expect 0 "consumers remove"
run "$H" --journal "$J" consumers forget nightly; expect 1 "remove twice"
err_is "no consumer nightly"
run "$H" --journal "$J" changes --consumer nightly; expect 0 "a removed consumer starts over"
WHAT="removed consumer" out_is /m/a /m/b /m/c /m/live1 /m/live2

note "a consumer of another journal, a corrupt consumer file"
"$H" --journal "$T/jother" ack --consumer moved "$("$H" --journal "$T/jother" cursor)" || fail "ack in jother"
cp "$T/jother/consumers/moved" "$J/consumers/moved" || fail "copy consumer file"
run "$H" --journal "$J" changes --consumer moved; expect 3 "a consumer whose cursor is of another journal"
err_is "journal reset: full backup needed"
run "$H" --journal "$J" consumers --json; expect 0 "consumers with a reset one"
[ "$(jq -r '.[] | select(.name == "moved") | .state' "$T/out")" = reset ] || fail "state reset: $(cat "$T/out")"
run "$H" --journal "$J" ack --consumer moved "$("$H" --journal "$J" cursor)"; expect 0 "ack after a reset"
run "$H" --journal "$J" changes --consumer moved; expect 0 "after the new ack"
echo garbage >"$J/consumers/broken"
run "$H" --journal "$J" changes --consumer broken; expect 1 "a corrupt consumer file"
err_is "consumer broken: its state file is corrupt"
run "$H" --journal "$J" consumers; expect 1 "listing with a corrupt consumer file"
err_is "a consumer state file is corrupt"
run "$H" --journal "$J" consumers remove broken; expect 0 "remove the corrupt one"
run "$H" --journal "$J" consumers remove moved; expect 0 "remove moved"

# ---- retention with two consumers ----
note "trim: the slowest consumer holds records back"
J2=$T/j2
"$H" --journal "$J2" init >"$T/id2" || fail "init j2"
ID2=$(cat "$T/id2")
fill "$J2" 'time 1700000000' 'change data /t/1' 'change data /t/2' 'change data /t/3' \
	'change data /t/4' 'change data /t/5'
run "$H" --journal "$J2" ack --consumer slow "hsmj1:$ID2:2"; expect 0 "ack slow"
run "$H" --journal "$J2" ack --consumer fast "hsmj1:$ID2:5"; expect 0 "ack fast"
run "$H" --journal "$J2" consumers --json; expect 0 "consumers"
[ "$(jq -c '[.[] | [.name, .lag_records, .state]]' "$T/out")" = '[["fast",0,"ok"],["slow",3,"ok"]]' ] ||
	fail "lag: $(cat "$T/out")"
[ "$(jq -r '.[1].oldest_unread' "$T/out")" = "2023-11-14T22:13:20.000000000Z" ] || fail "oldest unread"
run "$H" --journal "$J2" consumers; expect 0 "consumers table"
grep -qE '^slow +hsmj1:[0-9a-f]{32}:2 +[0-9TZ:-]+ +[0-9a-z]+ +3  ok$' "$T/out" || { cat "$T/out"; fail "consumers table"; }
run "$H" --journal "$J2" status; expect 0 "status"
grep -qE '^consumers: +2$' "$T/out" && grep -qE '^  slow  acked jsn 2 at .* lag 3 records$' "$T/out" ||
	{ cat "$T/out"; fail "status consumer lines"; }
run "$H" --journal "$J2" status --json; expect 0 "status --json"
jq -e '.format == 1 and (.consumers | length) == 2 and .consumers[1].lag_records == 3' "$T/out" \
	>/dev/null || { cat "$T/out"; fail "status --json consumers"; }
run "$H" --journal "$J2" trim --keep 0 --max-age 0 --dry-run; expect 0 "trim --dry-run"
out_is "would trim through JSN 2: 2 feed records"
run "$H" --journal "$J2" changes; expect 0 "a dry run changes nothing"
[ "$(wc -l <"$T/out")" = 5 ] || fail "dry run trimmed: $(cat "$T/out")"
run "$H" --journal "$J2" trim --keep 0 --max-age 0; expect 0 "trim"
out_is "trimmed through JSN 2: 2 feed records"
run "$H" --journal "$J2" changes --consumer slow; expect 0 "slow after the trim it held back"
WHAT="slow still complete" out_is /t/3 /t/4 /t/5
run "$H" --journal "$J2" trim --keep 0 --max-age 0; expect 0 "trim again"
out_is "nothing to trim (trimmed through JSN 2)"

note "trim: a ceiling expires the slow consumer, the fast one goes on"
run "$H" --journal "$J2" trim --max-age 1d; expect 0 "trim past the slow consumer"
out_is "trimmed through JSN 5: 3 feed records" \
	"consumer slow expired (acknowledged JSN 2): its next read needs a full backup"
run "$H" --journal "$J2" changes --consumer slow; expect 3 "slow consumer after the ceiling"
err_is "cursor expired: full backup needed"
[ -s "$T/out" ] && fail "output for an expired consumer"
run "$H" --journal "$J2" changes --consumer slow --format jsonl; expect 3 "expired, jsonl"
run "$H" --journal "$J2" changes --consumer fast; expect 0 "fast consumer after the ceiling"
[ -s "$T/out" ] && fail "fast consumer: $(cat "$T/out")"
fill "$J2" 'change data /t/6'
run "$H" --journal "$J2" changes --consumer fast; expect 0 "fast consumer goes on"
WHAT="fast goes on" out_is /t/6
run "$H" --journal "$J2" consumers --json; expect 0 "consumers after expiry"
[ "$(jq -c '[.[] | [.name, .state]]' "$T/out")" = '[["fast","ok"],["slow","expired"]]' ] ||
	fail "states: $(cat "$T/out")"
run "$H" --journal "$J2" ack --consumer slow "hsmj1:$ID2:2"; expect 3 "ack of an expired cursor"
err_is "cursor expired: full backup needed"
# the slow job takes a full backup from a cursor taken first, then acks it
run "$H" --journal "$J2" cursor; expect 0 "cursor now"
run "$H" --journal "$J2" ack --consumer slow "$(cat "$T/out")"; expect 0 "ack after a full backup"
run "$H" --journal "$J2" changes --consumer slow; expect 0 "slow after its full backup"
note "trim --max-records"
fill "$J2" 'change data /t/7' 'change data /t/8' 'change data /t/9'
run "$H" --journal "$J2" trim --keep 100d --max-age 0 --max-records 2; expect 0 "max-records"
out_is "trimmed through JSN 7: 2 feed records" \
	"consumer fast expired (acknowledged JSN 5): its next read needs a full backup" \
	"consumer slow expired (acknowledged JSN 6): its next read needs a full backup"
run "$H" --journal "$J2" changes; expect 0 "the newest two remain"
WHAT="max-records 2" out_is /t/8 /t/9

# ---- net changes ----
note "changes --coalesce over a scripted history"
J3=$T/j3
"$H" --journal "$J3" init >/dev/null || fail "init j3"
fill "$J3" 'time 1700000000' \
	'change data /m/a' \
	'change rename-from /m/a /m/b' 'change rename-to /m/b /m/a' \
	'change rename-from /m/b /m/c' 'change rename-to /m/c /m/b' \
	'change create /m/tmp' 'change data /m/tmp' 'change delete /m/tmp' \
	'change delete /m/old' \
	'change rename-from /m/d /m/e dir' 'change rename-to /m/e /m/d dir' \
	'change create /m/e/new' \
	'change delete /m/r' 'change create /m/r' \
	'change delete /m/gonedir/f' 'change delete /m/gonedir dir'
run "$H" --journal "$J3" changes --coalesce; expect 0 "coalesce"
# by the JSN of the last record about each path; b may have held a file the
# rename replaced, so it is listed as deleted too
WHAT="coalesced paths" out_is /m/b /m/a /m/c /m/tmp /m/old /m/d /m/e /m/e/new /m/r /m/gonedir/f /m/gonedir
[ "$(cursor_of_err)" = "$("$H" --journal "$J3" cursor)" ] || fail "coalesce cursor"
run "$H" --journal "$J3" changes --coalesce --format jsonl; expect 0 "coalesce jsonl"
head -n -1 "$T/out" | jq -c '[.path, .reasons, .path2]' >"$T/got"
cat >"$T/want" <<'EOF'
["/m/b",["delete"],null]
["/m/a",["delete","rename-from"],"/m/c"]
["/m/c",["data","rename-to"],"/m/a"]
["/m/tmp",["data","create","delete"],null]
["/m/old",["delete"],null]
["/m/d",["delete","rename-from"],"/m/e"]
["/m/e",["rename-to"],"/m/d"]
["/m/e/new",["create"],null]
["/m/r",["create"],null]
["/m/gonedir/f",["delete"],null]
["/m/gonedir",["delete"],null]
EOF
diff -u "$T/want" "$T/got" || fail "coalesced jsonl"
[ "$(sed -n 6p "$T/out" | jq -r .type)" = directory ] || fail "directory type lost"
[ "$(tail -n1 "$T/out" | jq -r .cursor)" = "$("$H" --journal "$J3" cursor)" ] || fail "jsonl cursor"
run "$H" --journal "$J3" changes --coalesce --format table; expect 0 "coalesce table"
grep -qE '^ +5  2023-11-14T22:13:20Z  change  data,rename-to +/m/c <- /m/a$' "$T/out" ||
	{ cat "$T/out"; fail "coalesced table"; }

note "changes --coalesce follows file handles through the journal"
J6=$T/j6
"$H" --journal "$J6" init >/dev/null || fail "init j6"
# the data change names the file by a name the range never saw (the one
# its intent had, say): only the handle ties it to the renamed file. That
# name is listed as changed too: it may be another name of the file (a hard
# link), and copying a name that is gone is harmless
fill "$J6" 'change rename-from /m/p /m/q fh=0a0b' 'change rename-to /m/q /m/p fh=0a0b' \
	'change data /m/intent-name fh=0a0b' 'change data /m/other fh=0c0d'
run "$H" --journal "$J6" changes --coalesce --format jsonl; expect 0 "coalesce by handle"
head -n -1 "$T/out" | jq -c '[.path, .reasons, .path2, .handle.handle]' >"$T/got"
printf '%s\n' '["/m/intent-name",["data"],null,"0a0b"]' \
	'["/m/p",["delete","rename-from"],"/m/q","0a0b"]' '["/m/q",["data","rename-to"],"/m/p","0a0b"]' \
	'["/m/other",["data"],null,"0c0d"]' >"$T/want"
diff -u "$T/want" "$T/got" || fail "coalesced by handle"

note "changes --coalesce: the two names of a hard-linked file move on their own"
J7=$T/j7
"$H" --journal "$J7" init >/dev/null || fail "init j7"
# ln a b before the range; mv a c; mv b d; one more data change via d
fill "$J7" 'change rename-from /m/a /m/c fh=0a0b' 'change rename-to /m/c /m/a fh=0a0b' \
	'change rename-from /m/b /m/d fh=0a0b' 'change rename-to /m/d /m/b fh=0a0b' \
	'change data /m/d fh=0a0b'
run "$H" --journal "$J7" changes --deleted; expect 0 "--deleted, hard link"
WHAT="deleted: both old names" out_is /m/a /m/b
run "$H" --journal "$J7" changes --coalesce --format jsonl; expect 0 "coalesce, hard link"
head -n -1 "$T/out" | jq -c '[.path, .reasons, .path2]' >"$T/got"
printf '%s\n' '["/m/a",["delete","rename-from"],"/m/c"]' '["/m/b",["delete","rename-from"],"/m/d"]' \
	'["/m/c",["data","rename-to"],"/m/a"]' '["/m/d",["data","rename-to"],"/m/b"]' >"$T/want"
diff -u "$T/want" "$T/got" || fail "coalesced hard link"

note "changes --deleted"
run "$H" --journal "$J3" changes --deleted --format paths0; expect 0 "--deleted"
tr '\0' '\n' <"$T/out" >"$T/got"; mv "$T/got" "$T/out"
# gonedir/f goes with gonedir
WHAT="deleted paths" out_is /m/b /m/a /m/tmp /m/old /m/d /m/gonedir
run "$H" --journal "$J3" changes --deleted --coalesce --format jsonl; expect 0 "--deleted jsonl"
[ "$(head -n -1 "$T/out" | jq -r 'select(.reasons | index("delete") | not) | .path')" = "" ] ||
	fail "--deleted listed a path that was not deleted"
C5=$("$H" --journal "$J3" cursor --at @1700000000)
run "$H" --journal "$J3" changes --deleted --since "$C5"; expect 0 "--deleted --since"
WHAT="deleted since the beginning" out_is /m/b /m/a /m/tmp /m/old /m/d /m/gonedir

# ---- --under ----
note "changes --under with markers inside and outside"
J4=$T/j4
"$H" --journal "$J4" init >/dev/null || fail "init j4"
fill "$J4" 'time 1700000000' 'change data /mnt/x/sub/f' 'change data /mnt/x/subway' \
	'change rename-from /mnt/y/g /mnt/x/sub/g' 'rescan overflow /mnt/y' 'change data /mnt/x/other'
run "$H" --journal "$J4" changes --under /mnt/x/sub; expect 0 "--under, marker outside"
WHAT="--under paths" out_is /mnt/x/sub/f /mnt/x/sub/g
[ "$(wc -l <"$T/err")" = 1 ] || fail "a marker outside --under was reported: $(cat "$T/err")"
run "$H" --journal "$J4" changes --under /mnt/x/sub/ --format jsonl; expect 0 "--under jsonl"
[ "$(head -n -1 "$T/out" | jq -c .jsn | tr '\n' ' ')" = "1 3 " ] || fail "--under jsonl: $(cat "$T/out")"
run "$H" --journal "$J4" changes --under /mnt/y; expect 4 "--under with the marker inside"
WHAT="--under /mnt/y" out_is /mnt/y/g
grep -qxF "rescan needed: /mnt/y (overflow) since 2023-11-14T22:13:20Z" "$T/err" || fail "marker line"
run "$H" --journal "$J4" changes --under /mnt/x/sub --coalesce; expect 0 "--under --coalesce"
# g came in from outside: listed at its new name; its old name is outside the tree
WHAT="--under --coalesce" out_is /mnt/x/sub/f /mnt/x/sub/g
C4=$("$H" --journal "$J4" cursor)
fill "$J4" 'rescan overflow /mnt/x' 'change data /mnt/x/sub/h'
run "$H" --journal "$J4" changes --since "$C4" --under /mnt/x/sub; expect 4 "a marker above --under"
WHAT="marker above" out_is /mnt/x/sub/h
grep -qF "rescan needed: /mnt/x (overflow)" "$T/err" || fail "marker above --under not reported"
C6=$("$H" --journal "$J4" cursor)
fill "$J4" 'rescan unclean-stop /mnt/x/sub/deep' 'rescan overflow /mnt/x/subway'
run "$H" --journal "$J4" changes --since "$C6" --under /mnt/x/sub --format paths0; expect 4 "a marker below --under"
[ "$(grep -c '^rescan needed' "$T/err")" = 1 ] && grep -qF "rescan needed: /mnt/x/sub/deep" "$T/err" ||
	{ cat "$T/err"; fail "only the marker below counts"; }
run "$H" --journal "$J4" changes --since "$C6" --under /mnt/x/sub --format jsonl; expect 0 "markers in jsonl"
[ "$(head -n -1 "$T/out" | jq -r .path)" = /mnt/x/sub/deep ] || fail "jsonl markers: $(cat "$T/out")"

note "changes --under: a directory above the tree renamed"
C7=$("$H" --journal "$J4" cursor)
fill "$J4" 'time 1700000300' 'change rename-from /mnt/x /mnt/z dir' 'change rename-to /mnt/z /mnt/x dir'
run "$H" --journal "$J4" changes --since "$C7" --under /mnt/x/sub/; expect 4 "the tree moved away"
[ -s "$T/out" ] && fail "paths printed for a tree that moved: $(cat "$T/out")"
grep -qxF "rescan needed: /mnt/x/sub (moved or replaced) since 2023-11-14T22:18:20Z" "$T/err" ||
	{ cat "$T/err"; fail "no rescan line for the moved tree"; }
run "$H" --journal "$J4" changes --since "$C7" --under /mnt/x/sub --format jsonl; expect 0 "moved tree, jsonl"
[ "$(head -n -1 "$T/out" | wc -l)" = 2 ] || fail "jsonl of the moved tree: $(cat "$T/out")"
run "$H" --journal "$J4" changes --since "$C7" --under /mnt/q; expect 0 "another tree"
[ -s "$T/out" ] && fail "another tree: $(cat "$T/out")"
C8=$("$H" --journal "$J4" cursor)
fill "$J4" 'change create /mnt/w dir' 'change create /mnt/w/f'
run "$H" --journal "$J4" changes --since "$C8" --under /mnt/w; expect 0 "the tree itself created"
WHAT="created tree" out_is /mnt/w /mnt/w/f

# ---- cursor --at ----
note "cursor --at"
J5=$T/j5
"$H" --journal "$J5" init >"$T/id5" || fail "init j5"
ID5=$(cat "$T/id5")
fill "$J5" 'time 1700000000' 'change data /a' 'commit' 'time 1700000100' 'change data /b' 'commit' \
	'time 1700000200' 'change data /c'
run "$H" --journal "$J5" cursor --at 2023-11-14T22:15:00Z; expect 0 "cursor --at RFC 3339"
out_is "hsmj1:$ID5:1"
run "$H" --journal "$J5" changes --since "$(cat "$T/out")"; expect 0 "changes from the time on"
WHAT="changes from T" out_is /b /c
run "$H" --journal "$J5" cursor --at 2023-11-14T23:15:00+01:00; expect 0 "with an offset"
out_is "hsmj1:$ID5:1"
run "$H" --journal "$J5" cursor --at @1700000050; expect 0 "between records"
out_is "hsmj1:$ID5:1"
run "$H" --journal "$J5" cursor --at @1600000000; expect 0 "before everything"
out_is "hsmj1:$ID5:0"
run "$H" --journal "$J5" cursor --at @1800000000; expect 0 "after everything"
out_is "hsmj1:$ID5:3"
run "$H" --journal "$J5" cursor --at 2023-11-14; expect 2 "a date alone"
fill "$J5" 'trim 1'
run "$H" --journal "$J5" cursor --at @1700000050; expect 3 "a time that may be trimmed away"
err_is "cursor expired: full backup needed"
run "$H" --journal "$J5" cursor --at @1700000150; expect 0 "a time after the trimmed records"
out_is "hsmj1:$ID5:2"

note "--help of the new commands"
for cmd in cursor ack consumers trim; do
	run "$H" $cmd --help; expect 0 "$cmd --help"
	grep -q "^Usage: hsm-journal .*$cmd" "$T/out" || fail "$cmd --help: $(head -n1 "$T/out")"
done
echo "PASS: cli_consumers"
