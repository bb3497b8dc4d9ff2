#!/bin/bash
# The GNU tar recipes of docs/BACKUP.md, run as written there, over a real
# hsm-tracker feed: a full archive, then rounds of a seeded random workload
# (tests/helpers/backup-workload.sh) each followed by an incremental archive
# of the paths the feed names (tar --null -T) plus its deletion list; after
# each round the restore recipe (the full archive, then every incremental in
# order, deletions first) must give a tree equal to the tracked one: types,
# contents, modes, mtimes, symlinks, hard-link groups. Downtime (exit 4)
# stores the rescanned trees whole; an expired consumer (exit 3) starts a
# new chain with a full archive.
# HSMJ_SEED=N repeats a run; HSMJ_BACKUP_ROUNDS and HSMJ_BACKUP_OPS size it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/backup-lib.sh"
need_root
tar --version 2>/dev/null | grep -q 'GNU tar' || skip "GNU tar missing"
command -v jq >/dev/null || skip "jq missing"
bk_setup
bk_seed
A=$T/arch
mkdir -p "$T/bin"
ln -s "$H" "$T/bin/hsm-journal"
export PATH=$T/bin:$PATH SRC=$S ARCH=$A CONSUMER=tar

bk_recipe tar-full >"$T/full.sh"
bk_recipe tar-incremental >"$T/inc.sh"
bk_recipe tar-restore >"$T/restore.sh"
grep -q -- '--null -T' "$T/inc.sh" && grep -q -- '--deleted' "$T/inc.sh" && grep -q '^hsm-journal ack' "$T/inc.sh" ||
	fail "the incremental recipe lost --null -T, --deleted or its ack"
restores=0
bk_check() {
	local R=$T/restore.$((restores += 1))
	DEST=$R sh "$T/restore.sh" >"$T/restore.out" 2>&1 || { cat "$T/restore.out" >&2; bk_keep_logs; fail "$1: restore failed"; }
	[ -z "${HSMJ_BACKUP_KEEP:-}" ] || { rm -rf "$HSMJ_BACKUP_KEEP/arch"; mkdir -p "$HSMJ_BACKUP_KEEP"; cp -a "$A" "$HSMJ_BACKUP_KEEP/arch"; }
	bk_same "$S" "$R" "$1 (restored)"
	rm -rf "$R"
}
bk_break() { mv "$A" "$A.away"; echo "not a directory" >"$A"; }
bk_unbreak() { rm "$A"; mv "$A.away" "$A"; }

bk_scenario
note "archives: $(ls "$A" | grep -c 'full.tar$') full, $(ls "$A" | grep -c 'inc.tar$') incremental, $(du -sh "$A" | cut -f1)"
echo "PASS: backup_tar (seed $SEED)"
