#!/bin/bash
# The notification group (tracker/notify.c) through tests/helpers/notify-probe:
# namespace and attribute operations on a loop-mounted filesystem must come
# out of the journal as exactly the expected change records (paths, reasons,
# flags), a queue overflow as a rescan marker, an unresolvable directory as
# an "unresolved" rescan marker. ext4, then xfs and btrfs when their mkfs is
# installed. The journal lives on its own loop-mounted ext4.
. "$(dirname "$0")/../lib.sh"
need_root
PROBE=$HSMJ_BUILD/tests/helpers/notify-probe
[ -x "$PROBE" ] || fail "$PROBE is not built"
command -v setfattr >/dev/null || skip "setfattr missing (package attr)"
MAXQ=/proc/sys/fs/fanotify/max_queued_events
probe_args=()

# run_phase NAME MOUNT JDIR HOLD SETUP_FN WORKLOAD_FN: the probe journals
# what WORKLOAD_FN does on MOUNT (SETUP_FN runs before the probe starts).
# HOLD=1: the probe reads nothing until the workload is over, so all of it
# arrives in one buffer. Leaves the dump in $T/NAME.tsv, paths with MOUNT
# replaced by "M".
run_phase() {
	local name=$1 mnt=$2 jdir=$3 hold=$4 setup=$5 work=$6 probe_pid rc args=()
	note "phase $name"
	rm -f "$T/$name.ready" "$T/$name.go"
	"$setup" "$mnt" || fail "$name: setup"
	[ "$hold" = 1 ] && args=(--hold "$T/$name.go")
	args+=(${probe_args[@]+"${probe_args[@]}"})
	t_bg probe_pid "$PROBE" run --journal "$jdir" --watch "$mnt" --ready "$T/$name.ready" "${args[@]}"
	t_wait_for 10 test -e "$T/$name.ready" || fail "$name: probe not ready"
	[ -n "${after_ready:-}" ] && "$after_ready"
	"$work" "$mnt" || fail "$name: workload"
	touch "$T/$name.go"
	kill -TERM "$probe_pid"
	wait "$probe_pid"
	rc=$?
	[ $rc = 0 ] || fail "$name: probe exited $rc"
	"$PROBE" dump --journal "$jdir" >"$T/$name.raw" || fail "$name: dump"
	sed "s#$mnt#M#g" "$T/$name.raw" >"$T/$name.tsv"
	sed 's/^/#   /' "$T/$name.tsv"
}

# The first five columns: kind, reasons/cause, flags, path, path2.
records() { cut -f1-5 "$T/$1.tsv"; }

expect_exact() { # NAME: the records must be exactly stdin, in order
	local want=$T/$1.want
	tr '|' '\t' >"$want"
	diff -u "$want" <(records "$1") >&2 || fail "$1: records differ from the expected ones (-want +got)"
}

# expect_in_order NAME: each line of stdin appears, in this order, among the
# records (others may come between). "create,link" also matches "create":
# a reader that keeps up may see the link's two events in two reads.
expect_in_order() {
	local name=$1 line got=() i=0
	mapfile -t got < <(records "$name")
	while IFS= read -r line; do
		line=${line//|/$'\t'}
		local alt=${line/create,link/create}
		while [ $i -lt ${#got[@]} ] && [ "${got[$i]}" != "$line" ] && [ "${got[$i]}" != "$alt" ]; do
			i=$((i + 1))
		done
		[ $i -lt ${#got[@]} ] || fail "$name: missing or out of order: $line"
		i=$((i + 1))
	done
}

# ---- the namespace and attribute workload: one object per operation, so
# that the kernel has nothing to merge ----
setup_ops() {
	local m=$1
	mkdir "$m/rmdir_me" "$m/rendir_me" "$m/chmod_dir" &&
	: >"$m/rendir_me/inner" && : >"$m/unlink_me" && : >"$m/rename_me" &&
	: >"$m/link_src" && : >"$m/chmod_me" && : >"$m/chown_me" &&
	: >"$m/touch_me" && : >"$m/xattr_me"
}
ops() {
	local m=$1
	: >"$m/created" &&
	mkdir "$m/newdir" &&
	rmdir "$m/rmdir_me" &&
	rm "$m/unlink_me" &&
	mv "$m/rename_me" "$m/renamed" &&
	mv "$m/rendir_me" "$m/rendir_done" &&
	touch -d 2001-02-03 "$m/rendir_done/inner" &&
	ln "$m/link_src" "$m/newdir/hardlink" &&
	ln -s link_src "$m/sym" &&
	chmod 600 "$m/chmod_me" &&
	chown 1:2 "$m/chown_me" &&
	touch -d 2001-02-03 "$m/touch_me" &&
	setfattr -n user.hsmj -v 1 "$m/xattr_me" &&
	chmod 700 "$m/chmod_dir"
}
cleanup_ops() { # back to an empty filesystem for the next phase
	find "$1" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {} +
}
OPS_WANT='change|create|-|M/created|-
change|create|dir|M/newdir|-
change|delete|dir|M/rmdir_me|-
change|delete|-|M/unlink_me|-
change|rename-from|-|M/rename_me|M/renamed
change|rename-to|-|M/renamed|M/rename_me
change|rename-from|dir|M/rendir_me|M/rendir_done
change|rename-to|dir|M/rendir_done|M/rendir_me
change|attrib|-|M/rendir_done/inner|-
change|create,link|-|M/newdir/hardlink|-
change|create|symlink|M/sym|-
change|attrib|-|M/chmod_me|-
change|attrib|-|M/chown_me|-
change|attrib|-|M/touch_me|-
change|attrib|-|M/xattr_me|-
change|attrib|dir|M/chmod_dir|-'

# ---- a tree made and removed between two reads: resolved from the cache ----
setup_none() { :; }
tree_ops() {
	local m=$1
	mkdir -p "$m/tmptree/a" && : >"$m/tmptree/a/f" && rm -rf "$m/tmptree"
}

# ---- directories renamed while events inside them wait in the queue: each
# directory is named as it is when the buffer is handled, never by a stale
# cached path ----
setup_chain() { mkdir -p "$1/p/q" && : >"$1/p/q/x"; }
chain_ops() {
	local m=$1
	touch "$m/p/q/x" && mv "$m/p" "$m/p2" && touch "$m/p2/q/x" &&
	mv "$m/p2/q" "$m/q2" && touch "$m/q2/x" && mkdir "$m/p" && : >"$m/p/new" &&
	mkdir "$m/s" "$m/s/t" && mv "$m/s" "$m/s2" && : >"$m/s2/t/y"
}
CHAIN_WANT='change|attrib|-|M/q2/x|-
change|rename-from|dir|M/p|M/p2
change|rename-to|dir|M/p2|M/p
change|attrib|-|M/q2/x|-
change|rename-from|dir|M/p2/q|M/q2
change|rename-to|dir|M/q2|M/p2/q
change|attrib|-|M/q2/x|-
change|create|dir|M/p|-
change|create|-|M/p/new|-
change|create|dir|M/s|-
change|create|dir|M/s/t|-
change|rename-from|dir|M/s|M/s2
change|rename-to|dir|M/s2|M/s
change|create|-|M/s2/t/y|-'

# ---- objects gone before the buffer is read: renames over a file and over
# an empty directory, a directory changed then removed. Their ATTRIB events
# name nothing that exists any more; they must not turn into markers ----
setup_self() {
	mkdir "$1/vA" "$1/vB" "$1/cd" && : >"$1/fA" && : >"$1/fB"
}
self_ops() {
	local m=$1
	mv -T "$m/vA" "$m/vB" && mv "$m/fA" "$m/fB" && chmod 700 "$m/cd" && rmdir "$m/cd"
}
SELF_WANT='change|rename-from|dir|M/vA|M/vB
change|rename-to|dir|M/vB|M/vA
change|rename-from|-|M/fA|M/fB
change|rename-to|-|M/fB|M/fA
change|delete|dir|M/cd|-'

# ---- one name of two unlinked, and a file's last name: the surviving name
# gets ATTRIB (link count, ctime), the file whose last name went only its
# DELETE (its ATTRIB|DELETE_SELF needs no lookup) ----
setup_partial() { : >"$1/two" && ln "$1/two" "$1/other" && : >"$1/one"; }
partial_ops() { rm "$1/two" "$1/one"; }
PARTIAL_WANT='change|delete|-|M/two|-
change|delete|-|M/one|-
change|attrib|-|M/other|-'

# ---- a tree that existed before the group and is gone before it is read:
# each directory is named from its own DELETE|ONDIR, queued after the
# events inside it (read ahead from the queue when needed) ----
setup_gone() { mkdir -p "$1/gone/sub" && : >"$1/gone/sub/f"; }
gone_ops() { rm -rf "$1/gone"; }

# make_old_tree MOUNT TOP NFILES: 3 levels below TOP with files at each
# level (NFILES of them in the deepest directories), and the list of what
# is there, "dir|-" TAB path with MOUNT as "M", in $T/TOP.list.
make_old_tree() {
	local m=$1 top=$2 n=$3 a b
	mkdir "$m/$top" && : >"$m/$top/f0" && : >"$m/$top/f1" || return 1
	for a in l1a l1b l1c; do
		mkdir "$m/$top/$a" && : >"$m/$top/$a/g" || return 1
		for b in l2a l2b; do
			mkdir -p "$m/$top/$a/$b/l3" && : >"$m/$top/$a/$b/h" &&
				(cd "$m/$top/$a/$b/l3" && seq -f "file%g" "$n" | xargs touch) || return 1
		done
	done
	mkdir "$m/$top/l1c/empty" || return 1
	find "$m/$top" -printf '%y\t%p\n' | sed -e "s#\t$m#\tM#" -e 's/^d\t/dir\t/' -e 's/^f\t/-\t/' |
		sort >"$T/$top.list"
}
# Drop the caches: the removed tree's directories are not in any cache of
# the group either way (it starts after them), this makes them cold on disk too.
cold() { sync && echo 3 >/proc/sys/vm/drop_caches; }

# expect_deleted NAME LIST: the records are exactly one DELETE per entry of
# LIST (flags and full path) and nothing else, no marker; and each comes
# before the DELETE of the directory it was in (the feed stays causal).
expect_deleted() {
	local name=$1 list=$2
	grep "^rescan" "$T/$name.tsv" && fail "$name: unexpected rescan marker"
	diff -u <(awk -F'\t' '{ print "change\tdelete\t" $1 "\t" $2 "\t-" }' "$list" | sort) \
		<(records "$name" | sort) >&2 || fail "$name: delete records differ from the tree (-want +got)"
	records "$name" | awk -F'\t' '
		{ pos[$4] = NR; p[NR] = $4 }
		END {
			for (i = 1; i <= NR; i++) {
				d = p[i]; sub(/\/[^\/]*$/, "", d)
				if ((d in pos) && pos[d] < i) { print "after its directory: " p[i]; bad = 1 }
			}
			exit bad
		}' >&2 || fail "$name: a delete comes after its directory's"
	note "$name: $(wc -l <"$list") deletes named, no marker"
}

setup_oldtree() { make_old_tree "$1" old 3 && cold; }
oldtree_ops() { rm -r "$1/old"; }

# ---- an old tree renamed (and a directory inside it), then removed ----
setup_oldrename() {
	make_old_tree "$1" old 2 && cold &&
	sed -e 's#\tM/old#\tM/old2#' -e 's#^\(.*\tM/old2/\)l1a#\1l1x#' "$T/old.list" >"$T/oldrename.list"
}
oldrename_ops() {
	local m=$1
	mv "$m/old" "$m/old2" && mv "$m/old2/l1a" "$m/old2/l1x" && rm -r "$m/old2"
}
OLDRENAME_WANT='change|rename-from|dir|M/old|M/old2
change|rename-to|dir|M/old2|M/old
change|rename-from|dir|M/old2/l1a|M/old2/l1x
change|rename-to|dir|M/old2/l1x|M/old2/l1a'

# ---- an old directory emptied, then a directory renamed over it: the
# victim has no DELETE of its own; it is named from the rename ----
setup_victim() { mkdir -p "$1/vold/sub" "$1/vnew" && : >"$1/vold/f" && : >"$1/vnew/g" && cold; }
victim_ops() {
	local m=$1
	rm "$m/vold/f" && rmdir "$m/vold/sub" && mv -T "$m/vnew" "$m/vold"
}
VICTIM_WANT='change|delete|-|M/vold/f|-
change|delete|dir|M/vold/sub|-
change|rename-from|dir|M/vnew|M/vold
change|rename-to|dir|M/vold|M/vnew'

# ---- one task makes a directory, a file in it, and removes both: the
# kernel merges the rmdir into the mkdir's queued event, which comes first;
# in 1 KiB reads the file's event is read in a later call, and is named
# from what the earlier call saw ----
merged_ops() { "$PROBE" tmpdir --mount "$1"; }

# ---- what still cannot be named: the rmdirs of an old tree lost to an
# overflow (a queue of 64 events, 300 unlinks while nobody reads). The
# files' DELETEs name a directory that is gone and whose removal is not in
# the queue: one unresolved marker, then the overflow marker ----
setup_lost() { mkdir -p "$1/lost/sub" && (cd "$1/lost/sub" && seq -f "f%g" 300 | xargs touch) && cold; }
lost_ops() { rm -r "$1/lost"; }

# ---- overflow: a queue of 64 events and 300 creates while nobody reads ----
OLD_MAXQ=
lower_maxq() { OLD_MAXQ=$(cat $MAXQ); t_on_exit "echo $OLD_MAXQ > $MAXQ"; echo 64 >$MAXQ; }
restore_maxq() { echo "$OLD_MAXQ" >$MAXQ; } # the group keeps the value it started with
overflow_ops() {
	local m=$1 i
	date +%s%N >"$T/overflow.t0"
	mkdir "$m/many" && for i in $(seq 300); do : >"$m/many/f$i" || return 1; done
}

check_fs() {
	local fs=$1 m j
	t_mkfs "tfs_$fs" "$fs" 512M
	t_mkfs "jdev_$fs" ext4 256M
	m=$T/tfs_$fs
	j=$T/jdev_$fs

	"$PROBE" opath-check --mount "$m" || fail "$fs: O_PATH open by handle raised an event"

	run_phase "$fs-held" "$m" "$j/held" 1 setup_ops ops
	expect_exact "$fs-held" <<<"$OPS_WANT"
	# The feed reads back through the query CLI too (when it is built).
	if [ -x "$BIN/hsm-journal" ]; then
		"$BIN/hsm-journal" --journal "$j/held" changes --format jsonl >"$T/$fs-held.jsonl" ||
			fail "$fs-held: hsm-journal changes exited $?"
		grep -q "\"path\":\"$m/newdir/hardlink\"" "$T/$fs-held.jsonl" ||
			fail "$fs-held: hsm-journal changes does not list the hard link"
		note "$fs-held: hsm-journal changes --format jsonl: $(grep -c '"kind":"change"' "$T/$fs-held.jsonl") change records"
	else
		note "hsm-journal not built: the feed is not read through the CLI"
	fi
	cleanup_ops "$m"

	run_phase "$fs-live" "$m" "$j/live" 0 setup_ops ops
	expect_in_order "$fs-live" <<<"$OPS_WANT"
	grep -q "^rescan" "$T/$fs-live.tsv" && fail "$fs-live: unexpected rescan marker"
	cleanup_ops "$m"

	run_phase "$fs-tree" "$m" "$j/tree" 1 setup_none tree_ops
	grep -q "^rescan" "$T/$fs-tree.tsv" && fail "$fs-tree: a tree made while watched did not resolve"
	expect_in_order "$fs-tree" <<'EOF'
change|create|dir|M/tmptree|-
change|create|dir|M/tmptree/a|-
EOF
	local p
	for p in M/tmptree M/tmptree/a M/tmptree/a/f; do
		records "$fs-tree" | awk -F'\t' -v p="$p" '$4 == p && $2 ~ /create/ { c = 1 } $4 == p && $2 ~ /delete/ { d = 1 } END { exit !(c && d) }' ||
			fail "$fs-tree: no create and delete for $p"
	done
	cleanup_ops "$m"

	run_phase "$fs-chain" "$m" "$j/chain" 1 setup_chain chain_ops
	expect_exact "$fs-chain" <<<"$CHAIN_WANT"
	cleanup_ops "$m"

	run_phase "$fs-self" "$m" "$j/self" 1 setup_self self_ops
	expect_exact "$fs-self" <<<"$SELF_WANT"
	cleanup_ops "$m"

	run_phase "$fs-partial" "$m" "$j/partial" 1 setup_partial partial_ops
	expect_exact "$fs-partial" <<<"$PARTIAL_WANT"
	cleanup_ops "$m"

	run_phase "$fs-gone" "$m" "$j/gone" 1 setup_gone gone_ops
	expect_exact "$fs-gone" <<'EOF'
change|delete|-|M/gone/sub/f|-
change|delete|dir|M/gone/sub|-
change|delete|dir|M/gone|-
EOF
	if [ -x "$BIN/hsm-journal" ]; then
		local rc=0
		"$BIN/hsm-journal" --journal "$j/gone" changes --format paths >/dev/null 2>&1 || rc=$?
		[ $rc = 0 ] || fail "$fs-gone: hsm-journal changes exited $rc, want 0 (no marker)"
	fi
	cleanup_ops "$m"

	# The same with an old tree of 3 levels, files at each level: held (one
	# read), in 1 KiB reads (the rest read ahead), and read while it goes.
	local mode
	for mode in held split live; do
		local hold=1
		[ $mode = live ] && hold=0
		[ $mode = split ] && probe_args=(--read-size 1024)
		run_phase "$fs-oldtree-$mode" "$m" "$j/oldtree-$mode" $hold setup_oldtree oldtree_ops >/dev/null
		probe_args=()
		expect_deleted "$fs-oldtree-$mode" "$T/old.list"
		cleanup_ops "$m"
	done
	# A bigger one, while it goes and held (NOTIFY_BIG_FILES per deepest
	# directory: 6 of them; held, 2 events per file must fit in the queue).
	for mode in live held; do
		local hold=1 t0
		[ $mode = live ] && hold=0
		setup_big() { make_old_tree "$1" old "${NOTIFY_BIG_FILES:-150}" && cold; }
		run_phase "$fs-big-$mode" "$m" "$j/big-$mode" $hold setup_big oldtree_ops >/dev/null
		expect_deleted "$fs-big-$mode" "$T/old.list"
		cleanup_ops "$m"
	done

	run_phase "$fs-oldrename" "$m" "$j/oldrename" 1 setup_oldrename oldrename_ops >/dev/null
	expect_in_order "$fs-oldrename" <<<"$OLDRENAME_WANT"
	head -4 "$T/$fs-oldrename.tsv" | cut -f1-5 | diff - <(tr '|' '\t' <<<"$OLDRENAME_WANT") >&2 ||
		fail "$fs-oldrename: the renames do not come first"
	sed -i 1,4d "$T/$fs-oldrename.tsv"
	expect_deleted "$fs-oldrename" "$T/oldrename.list"
	cleanup_ops "$m"

	probe_args=(--read-size 1024)
	run_phase "$fs-merged" "$m" "$j/merged" 1 setup_none merged_ops
	probe_args=()
	{
		echo 'change|create,delete|dir|M/tmpd|-'
		for i in $(seq 40); do echo "change|create|-|M/pad$i|-"; done
		echo 'change|create,delete|-|M/tmpd/f|-'
	} | expect_exact "$fs-merged"
	cleanup_ops "$m"

	run_phase "$fs-victim" "$m" "$j/victim" 1 setup_victim victim_ops
	expect_exact "$fs-victim" <<<"$VICTIM_WANT"
	cleanup_ops "$m"

	after_ready=restore_maxq
	lower_maxq
	run_phase "$fs-lost" "$m" "$j/lost" 1 setup_lost lost_ops
	after_ready=
	expect_exact "$fs-lost" <<'EOF'
rescan|unresolved|-|M|-
rescan|overflow|-|M|-
EOF
	cleanup_ops "$m"

	# Small reads: the overflow record comes several reads after the loss,
	# and the marker must still reach back to before the workload.
	after_ready=restore_maxq probe_args=(--read-size 1024)
	lower_maxq
	run_phase "$fs-overflow" "$m" "$j/overflow" 1 setup_none overflow_ops
	after_ready= probe_args=()
	local markers changes since until
	markers=$(grep -c "^rescan	overflow	-	M	-	" "$T/$fs-overflow.tsv")
	changes=$(grep -c "^change" "$T/$fs-overflow.tsv")
	[ "$markers" = 1 ] || fail "$fs-overflow: $markers overflow markers, want 1"
	[ "$changes" -ge 1 ] && [ "$changes" -le 64 ] || fail "$fs-overflow: $changes change records for a queue of 64"
	read -r since until < <(grep "^rescan" "$T/$fs-overflow.tsv" | cut -f6-7 | tr '\t' ' ')
	[ "$since" -gt 0 ] && [ "$since" -le "$until" ] || fail "$fs-overflow: marker window $since..$until"
	[ "$since" -le "$(cat "$T/overflow.t0")" ] || fail "$fs-overflow: marker starts after the workload began"
	note "$fs: overflow after $changes records, marker window $(( (until - since) / 1000000 )) ms"
	cleanup_ops "$m"
}

check_fs ext4
if command -v mkfs.xfs >/dev/null; then check_fs xfs; else note "mkfs.xfs missing: xfs not checked"; fi
if command -v mkfs.btrfs >/dev/null; then check_fs btrfs; else note "mkfs.btrfs missing: btrfs not checked"; fi
echo "PASS"
