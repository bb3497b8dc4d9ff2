#!/bin/bash
# The replay on each filesystem type hsm-journal tracks (ext4, xfs, btrfs,
# each where its mkfs is installed): handles of that filesystem open, the
# outcomes are right, the walk covers exactly the filesystem; and a
# filesystem mounted somewhere else after the crash is found with
# --mount FSID=PATH, its stored paths translated to the new place; a
# changed file moved to another directory, whose name nothing can tell on
# a cold cache, is recorded at its old path plus an "unresolved" marker; a
# btrfs subvolume (its own device number) is neither "another filesystem"
# to the path check nor a mount point to the walk.
. "$(dirname "$0")/../lib.sh"
need_root
H=$HSMJ_BUILD/tests/helpers
for p in "$BIN/hsm-recover" "$H/recover-mkintent" "$H/recover-dump"; do
	[ -x "$p" ] || fail "$p not built"
done
t_mkfs jdev ext4 256M
dump() { "$H/recover-dump" --journal "$1"; }
recovered() { dump "$1" | awk -v p="$2" '$1 == "feed" && $3 == "change" && $4 ~ /recovered/ && $NF == p { sub(/^reasons=/, "", $4); print $4 }'; }

tested=()
for fstype in ext4 xfs btrfs; do
	if ! command -v "mkfs.$fstype" >/dev/null; then
		echo "NOTE: mkfs.$fstype missing: $fstype NOT tested" >&2
		continue
	fi
	t_mkfs "t$fstype" "$fstype" 320M
	M=$T/t$fstype
	J=$T/jdev/j-$fstype
	mkdir "$M/d" "$M/d2"
	for f in keep mod del moved far; do head -c 5000 /dev/urandom >"$M/d/$f"; done
	# btrfs: a file in a subvolume (a device number of its own, same mount).
	extra= nchanged=3 nintents=5
	if [ "$fstype" = btrfs ] && command -v btrfs >/dev/null; then
		btrfs -q subvolume create "$M/sv" >/dev/null || fail "btrfs subvolume create"
		echo sub >"$M/sv/f"; echo sub >"$M/sv/g"; mkdir "$M/sv/h"
		extra="$M/sv/f $M/sv/g" nchanged=5 nintents=7
	fi
	"$H/recover-mkintent" --journal "$J" --create --register "$M" --epoch-start \
		"$M/d/keep" "$M/d/mod" "$M/d/del" "$M/d/moved" "$M/d/far" $extra >"$T/mk.out" ||
		fail "$fstype: recover-mkintent"
	fsid=$(awk '$1 == "fs" { print $2 }' "$T/mk.out")
	echo more >>"$M/d/mod"
	rm "$M/d/del"
	mv "$M/d/moved" "$M/d/moved2"
	echo more >>"$M/d/far"
	mv "$M/d/far" "$M/d2/far"
	if [ -n "$extra" ]; then
		echo more >>"$M/sv/f"
		# Changed and moved away inside the subvolume: its marker must be
		# the tracked filesystem's (closed by the walk), not the subvolume's.
		echo more >>"$M/sv/g"; mv "$M/sv/g" "$M/sv/h/g"
	fi

	# Mounted somewhere else now: the recorded path is an empty directory.
	mkdir "$T/elsewhere-$fstype"
	umount "$M" || fail "$fstype: umount"
	mount "$(eval echo "\$t${fstype}_DEV")" "$T/elsewhere-$fstype" || fail "$fstype: remount"
	t_on_exit "umount -l $T/elsewhere-$fstype"
	N=$T/elsewhere-$fstype
	"$BIN/hsm-recover" --journal "$J" --dry-run >"$T/nomount.out" 2>&1 || fail "$fstype: dry-run"
	grep -q "$nintents unverifiable" "$T/nomount.out" || { cat "$T/nomount.out"; fail "$fstype: not mounted at the recorded path, yet checked"; }

	"$BIN/hsm-recover" --journal "$J" --mount "$fsid=$N" --rescan full -v >"$T/$fstype.out" 2>&1 ||
		{ cat "$T/$fstype.out"; fail "$fstype: hsm-recover"; }
	cat "$T/$fstype.out"
	# keep is untouched, but the filesystem was mounted again since its
	# intent: an equal stat is no proof then (a power cut can keep data made
	# durable by fdatasync with the old timestamps), so it counts as changed.
	grep -q "recovered $nintents intents: $nchanged changed, 0 unchanged, 1 gone, 1 unverifiable; markers: 2 written, 2 resolved, 0 open" \
		"$T/$fstype.out" ||
		fail "$fstype: unexpected outcomes"
	grep -q "keep: unverifiable via handle" "$T/$fstype.out" || fail "$fstype: the handle did not open"
	[ "$(recovered "$J" "$N/d/mod")" = "data,recovered" ] || fail "$fstype: mod not recorded at its new place"
	[ "$(recovered "$J" "$N/d/moved2")" = "data,recovered" ] || fail "$fstype: moved2 not recorded"
	[ "$(recovered "$J" "$N/d/del")" = "delete,recovered" ] || fail "$fstype: del not recorded as deleted"
	[ "$(recovered "$J" "$N/d/keep")" = "data,recovered" ] || fail "$fstype: keep not recorded (remounted: no proof)"
	[ "$(recovered "$J" "$N/d/far")" = "data,recovered" ] || fail "$fstype: far not recorded at its old path"
	dump "$J" | grep -q "^feed [0-9]* rescan reasons=- cause=unresolved .* $N\$" ||
		fail "$fstype: no unresolved marker for the file that moved away"
	if [ -n "$extra" ]; then
		[ "$(recovered "$J" "$N/sv/f")" = "data,recovered" ] || fail "$fstype: the subvolume's file not recorded"
	fi
	# No mounts inside: the walk sees what find sees (subvolumes included,
	# which find -xdev would leave out).
	walked=$(dump "$J" | awk '$1 == "feed" && $3 == "change" && $4 ~ /rescan/' | wc -l)
	want=$(find "$N" | wc -l)
	[ "$walked" = "$want" ] || fail "$fstype: the full walk reported $walked entries, find sees $want"
	tested+=("$fstype")
done
note "tested: ${tested[*]}"
echo PASS
