# Shared helpers for root integration tests and benchmarks. Source it.
# Every mount, loop device and process made through these helpers is undone
# by the EXIT trap, in reverse order; a test kills only the PIDs it started.
#
#   . "$(dirname "$0")/../lib.sh"
#   need_root
#   t_mkfs tfs ext4 512M      -> mounts at $T/tfs, sets TFS_DEV, echoes path
#   t_mkfs jdev ext4 256M     -> the journal's own device
#   t_bg PIDVAR cmd...        -> start cmd in background, remembered for cleanup
set -u
HSMJ_BUILD=${HSMJ_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build}
BIN=$HSMJ_BUILD/bin
T=$(mktemp -d /tmp/hsmj-test.XXXXXX)
_cleanup_cmds=()
_test_pids=()

t_on_exit() { _cleanup_cmds+=("$*"); }

_t_cleanup() {
	local rc=$? i p
	for p in "${_test_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${_test_pids[@]}"; do
		for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for ((i = ${#_cleanup_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_cleanup_cmds[$i]}" >/dev/null 2>&1
	done
	rm -rf "$T"
	exit $rc
}
trap _t_cleanup EXIT
trap 'exit 130' INT TERM

need_root() {
	if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root"; exit 77; fi
}
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*"; }

# t_mkfs NAME FSTYPE SIZE: make an image, attach a loop device, mount it at
# $T/NAME. Sets ${NAME}_DEV and ${NAME}_IMG; prints nothing.
t_mkfs() {
	local name=$1 fstype=$2 size=$3 img dev mnt
	img=$T/$name.img mnt=$T/$name
	truncate -s "$size" "$img" || fail "truncate $img"
	case $fstype in
	ext4) mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$img" ;;
	xfs) command -v mkfs.xfs >/dev/null || skip "mkfs.xfs missing"; mkfs.xfs -q -f "$img" ;;
	btrfs) command -v mkfs.btrfs >/dev/null || skip "mkfs.btrfs missing"; mkfs.btrfs -q -f "$img" ;;
	*) fail "t_mkfs: unknown fstype $fstype" ;;
	esac >/dev/null 2>&1 || fail "mkfs.$fstype $img"
	dev=$(losetup --find --show "$img") || fail "losetup $img"
	t_on_exit "losetup -d $dev"
	mkdir -p "$mnt"
	mount "$dev" "$mnt" || fail "mount $dev $mnt"
	t_on_exit "umount -l $mnt"
	printf -v "${name}_DEV" '%s' "$dev"
	printf -v "${name}_IMG" '%s' "$img"
}

# t_bg VAR cmd...: run cmd in the background, store its PID in VAR.
t_bg() {
	local var=$1; shift
	"$@" &
	local pid=$!
	_test_pids+=("$pid")
	printf -v "$var" '%s' "$pid"
}

# t_wait_for SECONDS cmd...: poll cmd (every 50 ms) until it succeeds.
t_wait_for() {
	local secs=$1 i; shift
	for ((i = 0; i < secs * 20; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
