#!/bin/bash
# backup-workload.sh DIR NOPS SEED: a seeded random workload of NOPS file
# system operations inside DIR (which must exist), for the backup tests.
# The same SEED on the same starting tree does the same operations. Each
# operation is logged on stdout as one line ("op path [path2]"), so a failing
# round can be replayed and read.
#
# Operations: create, overwrite inside, append, truncate (shrink and grow),
# rename of files and directories (also over an existing file, and across
# directories), unlink, rm -r of a tree, mkdir (nested), chmod of files and
# directories, utimes, symlinks (relative, sometimes dangling, retargeted),
# hard links (none with HSMJ_BACKUP_HARDLINKS=0). Names hold spaces and,
# rarely, a newline.
set -u
dir=${1:?usage: backup-workload.sh DIR NOPS SEED}
nops=${2:?nops}
seed=${3:?seed}
RANDOM=$seed
cd "$dir" || exit 1

files=() dirs=() links=()
scan() {
	mapfile -d '' files < <(find . -mindepth 1 -type f -print0 | sort -z)
	mapfile -d '' dirs < <(find . -mindepth 1 -type d -print0 | sort -z)
	mapfile -d '' links < <(find . -mindepth 1 -type l -print0 | sort -z)
	dirs=(. "${dirs[@]}")
}
pick() { # VAR ARRAYNAME: a random element, or fail when empty
	local -n _a=$2
	((${#_a[@]})) || return 1
	printf -v "$1" '%s' "${_a[RANDOM % ${#_a[@]}]}"
}
name_counter=0
newname() { # VAR: a fresh name in a random existing directory
	local d n
	pick d dirs
	name_counter=$((name_counter + 1))
	case $((RANDOM % 12)) in
	0) n="sp ace $name_counter" ;;
	1) [ $((RANDOM % 4)) = 0 ] && n="nl"$'\n'"$name_counter" || n="ü-$name_counter" ;;
	*) n="n$seed-$name_counter" ;;
	esac
	printf -v "$1" '%s' "$d/$n"
}
log() { printf '%q ' "$@"; echo; }
data() { head -c "$1" /dev/urandom; }

scan
for ((i = 0; i < nops; i++)); do
	# rescan the tree every few operations: renames move whole trees
	((i % 4 == 0)) && scan
	f= d= p= q=
	case $((RANDOM % 22)) in
	0 | 1 | 2) # create a file
		newname p; log create "$p"; data $((RANDOM % 20000)) >"$p" ;;
	3 | 4) # overwrite inside, no truncation
		pick f files || continue
		[ -L "$f" ] || [ ! -f "$f" ] && continue
		log overwrite "$f"
		data $((RANDOM % 3000 + 1)) | dd of="$f" bs=1 seek=$((RANDOM % 8000)) conv=notrunc status=none ;;
	5 | 6) # append
		pick f files || continue; [ -f "$f" ] || continue
		log append "$f"; data $((RANDOM % 5000 + 1)) >>"$f" ;;
	7) # truncate, shrink or grow
		pick f files || continue; [ -f "$f" ] || continue
		log truncate "$f"; truncate -s $((RANDOM % 30000)) "$f" ;;
	8 | 9) # rename a file, sometimes over an existing one
		pick f files || continue; [ -e "$f" ] || continue
		if [ $((RANDOM % 4)) = 0 ] && pick q files && [ "$q" != "$f" ] && [ -f "$q" ]; then
			log rename-over "$f" "$q"; mv -f -- "$f" "$q"
		else
			newname q; log rename "$f" "$q"; mv -- "$f" "$q"
		fi ;;
	10) # rename a directory (not into itself)
		((${#dirs[@]} > 1)) || continue
		d=${dirs[1 + RANDOM % (${#dirs[@]} - 1)]}; [ -d "$d" ] || continue
		newname q
		case $q/ in "$d"/*) continue ;; esac
		log rename-dir "$d" "$q"; mv -- "$d" "$q"; scan ;;
	11) # unlink a file or a symlink
		if [ $((RANDOM % 3)) = 0 ]; then pick f links || continue; else pick f files || continue; fi
		[ -e "$f" ] || [ -L "$f" ] || continue
		log unlink "$f"; rm -f -- "$f" ;;
	12) # rm -r of a tree
		((${#dirs[@]} > 1)) || continue
		[ $((RANDOM % 2)) = 0 ] || continue # rarer than the others
		d=${dirs[1 + RANDOM % (${#dirs[@]} - 1)]}; [ -d "$d" ] || continue
		log rm-r "$d"; rm -rf -- "$d"; scan ;;
	13 | 14) # mkdir, sometimes with a file in it
		newname p; log mkdir "$p"; mkdir -p -- "$p"
		if [ $((RANDOM % 2)) = 0 ]; then log create "$p/inner"; data $((RANDOM % 4000)) >"$p/inner"; fi
		dirs+=("$p") ;;
	15) # chmod of a file or a directory
		if [ $((RANDOM % 3)) = 0 ]; then pick f dirs || continue; m=$(((RANDOM % 2) ? 755 : 700));
		else pick f files || continue; m=$(printf '%o' $((0400 + RANDOM % 0400))); fi
		[ -e "$f" ] || continue
		log chmod "$m" "$f"; chmod "$m" -- "$f" ;;
	16) # utimes
		pick f files || continue; [ -f "$f" ] || continue
		log touch "$f"; touch -m -d "@$((1600000000 + RANDOM * 1000))" -- "$f" ;;
	17 | 18) # symlink: relative, to a file, a directory or nothing
		newname p
		case $((RANDOM % 3)) in
		0) pick q files || q=nowhere ;;
		1) pick q dirs || q=. ;;
		2) q=dangling-$RANDOM ;;
		esac
		q=${q#./}
		# relative to the link's directory: climb to the top first
		up=${p#./}; up=${up//[!\/]/}; up=${up//\//../}
		log symlink "$up$q" "$p"; ln -s -- "$up$q" "$p" ;;
	19) # retarget a symlink
		pick f links || continue; [ -L "$f" ] || continue
		log retarget "$f"; ln -sfn -- "elsewhere-$RANDOM" "$f" ;;
	20 | 21) # hard link
		[ "${HSMJ_BACKUP_HARDLINKS:-1}" = 0 ] && continue
		pick f files || continue; [ -f "$f" ] || continue
		newname p; log link "$f" "$p"; ln -- "$f" "$p" ;;
	esac
done
exit 0
