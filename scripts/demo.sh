#!/bin/bash
# make demo: the main job on an embedded default. Two loop images under
# build/demo/ (a tracked ext4 and the journal's own ext4), the tracker, a
# sample workload, a full rsync copy, incremental copies driven by the change
# feed alone, a SIGKILL of the tracker mid-workload, recovery, and a check
# that the copy equals the source. Everything it makes is removed at the end.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=${HSMJ_BIN:-$top/build/bin}
D=$top/build/demo
[ "$(id -u)" = 0 ] || { echo "demo: needs root (loop devices, fanotify)" >&2; exit 1; }
for p in hsm-tracker hsm-journal hsm-recover; do
	[ -x "$BIN/$p" ] || { echo "demo: $BIN/$p is missing (run make)" >&2; exit 1; }
done

TFS=$D/tfs JMNT=$D/journal J=$D/journal/hsm COPY=$D/copy
loops=() mounts=() tracker=""
cleanup() {
	set +e
	[ -n "$tracker" ] && kill -TERM "$tracker" 2>/dev/null && wait "$tracker" 2>/dev/null
	for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done
	for l in "${loops[@]}"; do losetup -d "$l"; done
	rm -rf "$D"
}
trap cleanup EXIT
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

rm -rf "$D"; mkdir -p "$TFS" "$JMNT" "$COPY"
mkimg() { # image mountpoint size
	truncate -s "$3" "$1"
	mkfs.ext4 -q -F "$1"
	local dev; dev=$(losetup --find --show "$1"); loops+=("$dev")
	mount "$dev" "$2"; mounts+=("$2")
}
say "making two loop-mounted ext4 images: the tracked filesystem and the journal's own device"
mkimg "$D/tfs.img" "$TFS" 256M
mkimg "$D/journal.img" "$JMNT" 128M
"$BIN/hsm-journal" --journal "$J" init

start_tracker() {
	: >"$D/tracker.log"
	"$BIN/hsm-tracker" --journal "$J" --watch "$TFS" --settle-delay 0.5 2>>"$D/tracker.log" &
	tracker=$!
	# The tracker says ": ready:" once its marks are in place (and READY=1 to systemd).
	for _ in $(seq 400); do
		grep -q ': ready:' "$D/tracker.log" && return 0
		kill -0 "$tracker" 2>/dev/null || break
		sleep 0.05
	done
	echo "demo: tracker did not become ready; its log:" >&2; cat "$D/tracker.log" >&2; exit 1
}
# Wait until the feed holds everything done so far: nothing in flight (every
# written file settled) and a heartbeat after now (namespace records are
# drained before each heartbeat).
caught_up() { # t0
	local st inflight live
	st=$("$BIN/hsm-journal" --journal "$J" status --json) || return 1
	inflight=$(jq -r .in_flight <<<"$st"); live=$(jq -r .epoch.last_live <<<"$st")
	[ "$inflight" = 0 ] && awk -v a="$(date -d "$live" +%s.%N)" -v b="$1" 'BEGIN { exit !(a > b) }'
}
wait_caught_up() {
	local t0; t0=$(date +%s.%N)
	for _ in $(seq 600); do caught_up "$t0" && return 0; sleep 0.05; done
	echo "demo: the tracker did not catch up within 30 s" >&2; exit 1
}
stop_tracker() { kill -TERM "$tracker"; wait "$tracker" || true; tracker=""; }

# A sample workload: a small project tree, edits, renames, deletes, chmods.
workload() { # round
	local r=$1 i
	mkdir -p "$TFS/src/lib" "$TFS/docs" "$TFS/data"
	for i in $(seq 1 40); do printf 'file %d round %d\n' "$i" "$r" >"$TFS/src/f$i.c"; done
	for i in $(seq 1 10); do head -c $((i * 3000)) /dev/urandom >"$TFS/data/blob$i"; done
	echo "notes $r" >>"$TFS/docs/NOTES"
	[ "$r" -gt 1 ] && {
		mv "$TFS/src/f1.c" "$TFS/src/lib/moved$r.c"
		rm -f "$TFS/data/blob2"
		chmod 600 "$TFS/docs/NOTES"
		dd if=/dev/urandom of="$TFS/data/blob3" bs=4k count=1 seek=1 conv=notrunc status=none
		[ -d "$TFS/old" ] && mv "$TFS/old" "$TFS/old$r"
		mkdir -p "$TFS/old" && echo x >"$TFS/old/x"
	}
	return 0
}

# Copy what the feed names since a cursor; prints the new cursor.
incremental() { # cursor -> new cursor on stdout
	local since=$1 list=$D/list0 err=$D/changes.err rc=0
	"$BIN/hsm-journal" --journal "$J" changes --since "$since" --format paths0 >"$list" 2>"$err" || rc=$?
	if [ $rc = 4 ]; then
		# The feed says some window may be missing: rescan what it names.
		echo "    feed holds a rescan marker: $(grep -m1 'rescan needed' "$err")" >&2
		rsync -a --delete "$TFS/" "$COPY/"
	elif [ $rc != 0 ]; then
		cat "$err" >&2; exit 1
	fi
	local n=0 copied=0 deleted=0 p rel
	: >"$D/present0"
	while IFS= read -r -d '' p; do
		n=$((n + 1))
		rel=${p#"$TFS"/}
		[ "$rel" = "$p" ] && continue
		if [ -e "$p" ] || [ -L "$p" ]; then
			printf '%s\0' "$rel" >>"$D/present0"; copied=$((copied + 1))
		else
			rm -rf -- "${COPY:?}/$rel"; deleted=$((deleted + 1))
		fi
	done <"$list"
	# -r: a renamed directory arrives whole; --relative keeps the tree shape.
	[ -s "$D/present0" ] && rsync -a -r --from0 --files-from="$D/present0" "$TFS/" "$COPY/"
	echo "    feed named $n paths: $copied copied, $deleted deleted" >&2
	sed -n 's/^cursor: //p' "$err" | tail -n1
}

verified=0
verify_copy() { # what; exits the demo on any difference
	local diffs
	diffs=$(rsync -anc --delete --itemize-changes "$TFS/" "$COPY/" | grep -v '^\.d' || true)
	if [ -n "$diffs" ]; then
		echo "demo: the copy differs from the source ($1):" >&2; echo "$diffs" >&2; exit 1
	fi
	verified=$((verified + 1))
	echo "    copy verified ($1)"
}

say "starting hsm-tracker"
start_tracker
workload 1
say "full copy with rsync, then taking a cursor"
wait_caught_up
cursor=$("$BIN/hsm-journal" --journal "$J" changes --format paths0 2>&1 >/dev/null | sed -n 's/^cursor: //p')
rsync -a --delete "$TFS/" "$COPY/"
verify_copy "full copy"

say "round 2 of the workload, then an incremental copy from the feed alone"
workload 2
wait_caught_up
cursor=$(incremental "$cursor")
verify_copy "incremental from the feed"

say "round 3: the tracker is killed with SIGKILL in the middle of the workload"
( workload 3 ) & wl=$!
sleep 0.2
kill -KILL "$tracker"; wait "$tracker" 2>/dev/null || true; tracker=""
wait $wl
say "recovery: in-flight intents and the unclean stop"
"$BIN/hsm-recover" --journal "$J" --rescan auto | tee "$D/recover.out" | sed 's/^/    /'
start_tracker
wait_caught_up
cursor=$(incremental "$cursor")
verify_copy "incremental from the feed after the crash"
stop_tracker

say "report"
feed=$("$BIN/hsm-journal" --journal "$J" changes --format jsonl | head -n -1)
printf '    change records in the feed:   %s (%s data, %s namespace)\n' \
	"$(jq -s '[.[] | select(.kind == "change")] | length' <<<"$feed")" \
	"$(jq -s '[.[] | select(.kind == "change" and (.reasons | index("data")))] | length' <<<"$feed")" \
	"$(jq -s '[.[] | select(.kind == "change" and (.reasons | index("data") | not))] | length' <<<"$feed")"
printf '    rescan markers:               %s\n' "$(jq -s '[.[] | select(.kind == "rescan")] | length' <<<"$feed")"
printf '    in flight at the crash:       %s\n' "$(sed -n 's/^recovered \([0-9]*\) intents: \(.*\); markers.*/\1 (\2)/p' "$D/recover.out")"
printf '    copies verified equal:        %s of 3 (full, incremental, incremental after the crash)\n' "$verified"
echo "demo: the copy made from the change feed (plus the rescan it asked for after the crash) equals the source"
