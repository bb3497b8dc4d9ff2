#!/bin/bash
# The borg recipes of docs/BACKUP.md (a chain of partial archives driven by
# the feed), run as written there, over a real hsm-tracker feed: a full
# archive, then rounds of a seeded random workload
# (tests/helpers/backup-workload.sh) each followed by an archive of only the
# paths the feed names (borg create --paths-from-stdin --paths-delimiter '\0')
# and a side archive of deletions and directory attributes
# (--content-from-command); after each round the restore recipe
# must give a tree equal to the tracked one: types, contents, modes, mtimes,
# symlinks, hard-link groups. Downtime (exit 4) stores the rescanned trees
# whole; an expired consumer (exit 3) takes a new full archive.
# HSMJ_SEED=N repeats a run; HSMJ_BACKUP_ROUNDS and HSMJ_BACKUP_OPS size it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/backup-lib.sh"
need_root
command -v borg >/dev/null || skip "borg missing"
command -v jq >/dev/null || skip "jq missing"
bk_setup
bk_seed
mkdir -p "$T/bin"
ln -s "$H" "$T/bin/hsm-journal"
export PATH=$T/bin:$PATH SRC=$S CONSUMER=borg
export BORG_REPO=$T/repo BORG_PASSPHRASE=hsmj-test BORG_BASE_DIR=$T/borg-base
borg init -e none >/dev/null 2>&1 || fail "borg init"

bk_recipe chain-lists >"$T/chain-lists.sh"
bk_recipe chain-apply >"$T/chain-apply.sh"
bk_recipe borg-backup >"$T/inc.sh"
cp "$T/inc.sh" "$T/full.sh"
bk_recipe borg-restore >"$T/restore.sh"
grep -q -- '--paths-from-stdin' "$T/inc.sh" && grep -q '^hsm-journal ack' "$T/inc.sh" ||
	fail "the borg recipe lost --paths-from-stdin or its ack"
restores=0
bk_check() {
	local R=$T/restore.$((restores += 1))
	DEST=$R sh "$T/restore.sh" >"$T/restore.out" 2>&1 || { cat "$T/restore.out" >&2; bk_keep_logs; fail "$1: restore failed"; }
	bk_same "$S" "$R" "$1 (restored)"
	rm -rf "$R"
}
bk_break() { mv "$BORG_REPO" "$BORG_REPO.away"; echo "not a repository" >"$BORG_REPO"; }
bk_unbreak() { rm "$BORG_REPO"; mv "$BORG_REPO.away" "$BORG_REPO"; }

BK_ROUNDS=2
bk_scenario
borg list --short >"$T/archives"
note "archives: $(grep -c -- '-full$' "$T/archives") full, $(grep -c -- '-inc$' "$T/archives") incremental, $(grep -c -- '-meta$' "$T/archives") side; repository $(du -sh "$BORG_REPO" | cut -f1)"
echo "PASS: backup_borg (seed $SEED)"
