#!/bin/bash
# The restic recipes of docs/BACKUP.md (a chain of partial snapshots driven
# by the feed), run as written there, over a real hsm-tracker feed: a full
# snapshot, then rounds of a seeded random workload
# (tests/helpers/backup-workload.sh) each followed by a snapshot of only the
# paths the feed names (restic backup --files-from-raw) and a side snapshot
# of deletions and directory attributes; after each round the restore recipe
# must give a tree equal to the tracked one: types, contents, modes, mtimes,
# symlinks, hard-link groups. Downtime (exit 4) stores the rescanned trees
# whole; an expired consumer (exit 3) takes a new full snapshot.
# HSMJ_SEED=N repeats a run; HSMJ_BACKUP_ROUNDS and HSMJ_BACKUP_OPS size it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/backup-lib.sh"
need_root
command -v restic >/dev/null || skip "restic missing"
command -v jq >/dev/null || skip "jq missing"
bk_setup
bk_seed
mkdir -p "$T/bin" "$T/cache"
ln -s "$H" "$T/bin/hsm-journal"
export PATH=$T/bin:$PATH SRC=$S CONSUMER=restic
export RESTIC_REPOSITORY=$T/repo RESTIC_PASSWORD=hsmj-test RESTIC_CACHE_DIR=$T/cache
restic init -q >/dev/null || fail "restic init"

bk_recipe chain-lists >"$T/chain-lists.sh"
bk_recipe chain-apply >"$T/chain-apply.sh"
bk_recipe restic-backup >"$T/inc.sh"
cp "$T/inc.sh" "$T/full.sh"
bk_recipe restic-restore >"$T/restore.sh"
grep -q -- '--files-from-raw' "$T/inc.sh" && grep -q '^hsm-journal ack' "$T/inc.sh" ||
	fail "the restic recipe lost --files-from-raw or its ack"
restores=0
bk_check() {
	local R=$T/restore.$((restores += 1))
	DEST=$R sh "$T/restore.sh" >"$T/restore.out" 2>&1 || { cat "$T/restore.out" >&2; bk_keep_logs; fail "$1: restore failed"; }
	bk_same "$S" "$R" "$1 (restored)"
	rm -rf "$R"
}
bk_break() { mv "$RESTIC_REPOSITORY" "$RESTIC_REPOSITORY.away"; echo "not a repository" >"$RESTIC_REPOSITORY"; }
bk_unbreak() { rm "$RESTIC_REPOSITORY"; mv "$RESTIC_REPOSITORY.away" "$RESTIC_REPOSITORY"; }

BK_ROUNDS=1 # every restore replays the chain, and restic calls cost ~0.5 s each
bk_scenario
note "snapshots: $(restic snapshots --json --tag hsmj-full | jq length) full, $(restic snapshots --json --tag hsmj-inc | jq length) incremental, $(restic snapshots --json --tag hsmj-meta | jq length) side; repository $(du -sh "$RESTIC_REPOSITORY" | cut -f1)"
echo "PASS: backup_restic (seed $SEED)"
