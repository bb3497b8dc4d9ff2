#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The crash oracle's two halves (tests/crash/oracle.sh drives them).

  oracle.py manifest ROOT OUT
      One JSON line per entry under ROOT (not following symlinks, lost+found
      left out): path (relative), type (f, d, l, o), size and sha1 (files:
      content; symlinks: target), mode (permission bits), ino.

  oracle.py check --root ROOT --pre PRE --post POST --feed FEED --oplog LOG
                  [--label TEXT] [--stats FILE] [--slack-ms N]
      Compares the two manifests; every path that differs (exists in one
      only, or differs in type, size, content or mode; a directory's size is
      not compared) must be covered by the feed (hsm-journal changes --format
      jsonl since the cursor taken before the workload). Covered means, best
      first:
        direct   a change record names the path (path or path2);
        subtree  a proper ancestor directory is named by a change record that
                 replaces what is below it: for a path that exists after the
                 crash, the ancestor's create or new name of a rename; for a
                 path that is gone, the ancestor's delete or old name of a
                 rename;
        marker   a rescan marker whose path is the path or an ancestor, AND
                 whose time range [since, until] meets the time of an
                 operation of the workload that could have made the
                 difference (an operation on the path, on an ancestor, or on
                 the same inode under another name; an operation the crash
                 cut short counts until the crash). A marker says "changes
                 since T may be missing": a change finished before T must be
                 in the feed by name, so an unclean-stop marker from the last
                 heartbeat does not excuse the whole workload.
      Markers for the whole mount are counted apart ("whole-mount only"), as
      are data changes (content or size) that only a marker covered: the
      intent protocol should name those. A marker closed by a rescan-done
      record (hsm-recover --rescan auto|full walked it) covers only paths
      that are gone: the walk must have named every path that exists.
      Prints one summary line and one line per missed path; exit 1 if any.
"""
import argparse
import calendar
import fcntl
import struct
import hashlib
import json
import os
import stat
import sys

INF = float("inf")
FS_IOC_GETVERSION = 0x80087601
DATA_OPS = {"write", "append", "truncate", "otrunc", "rotrunc", "ptrunc", "read", "mmap", "fallocate",
            "fsync", "hold", "heldwrite", "release"}
# an operation that failed with one of these changed nothing
NO_EFFECT = {2, 17, 20, 21, 22, 39}  # ENOENT EEXIST ENOTDIR EISDIR EINVAL ENOTEMPTY


def manifest(root, out):
    with open(out, "w") as f:
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = os.path.relpath(dirpath, root)
            if rel_dir == ".":
                dirnames[:] = [d for d in dirnames if d != "lost+found"]
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                full = os.path.join(dirpath, name)
                rel = name if rel_dir == "." else rel_dir + "/" + name
                try:
                    st = os.lstat(full)
                except FileNotFoundError:
                    continue
                e = {"path": rel, "mode": stat.S_IMODE(st.st_mode), "ino": st.st_ino}
                if stat.S_ISREG(st.st_mode):
                    h = hashlib.sha1()
                    with open(full, "rb") as fh:
                        try:
                            gen = struct.unpack("l", fcntl.ioctl(fh.fileno(), FS_IOC_GETVERSION, b"\0" * 8))[0]
                        except OSError:
                            gen = 0
                        e["gen"] = gen
                        for chunk in iter(lambda: fh.read(1 << 20), b""):
                            h.update(chunk)
                    e.update(type="f", size=st.st_size, sha1=h.hexdigest())
                elif stat.S_ISDIR(st.st_mode):
                    e.update(type="d")
                elif stat.S_ISLNK(st.st_mode):
                    tgt = os.readlink(full).encode("utf-8", "surrogateescape")
                    e.update(type="l", size=len(tgt), sha1=hashlib.sha1(tgt).hexdigest())
                else:
                    e.update(type="o")
                f.write(json.dumps(e) + "\n")


def load_manifest(path):
    m = {}
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            m[e["path"]] = e
    return m


def rfc3339_ns(s):
    """2026-11-22T03:19:00.123456789Z (or +hh:mm) -> ns since the epoch."""
    if s is None:
        return None
    off = 0
    if s.endswith("Z"):
        s = s[:-1]
    elif len(s) > 6 and s[-6] in "+-" and s[-3] == ":":
        sign = 1 if s[-6] == "+" else -1
        off = sign * (int(s[-5:-3]) * 3600 + int(s[-2:]) * 60)
        s = s[:-6]
    frac = "0"
    if "." in s:
        s, frac = s.split(".", 1)
    secs = calendar.timegm(tuple(int(x) for x in s.replace("T", "-").replace(":", "-").split("-")) + (0, 0, 0))
    return (secs - off) * 1000000000 + int((frac + "000000000")[:9])


def load_oplog(path):
    ops = {}
    with open(path) as f:
        for line in f:
            w = line.rstrip("\n").split(" ")
            if w[0] == "B" and len(w) >= 5:
                ops[w[1]] = {"start": int(w[2]), "end": INF, "op": w[3], "path": w[4],
                             "path2": w[5] if len(w) > 5 else None, "rc": None, "ino": 0, "gen": 0}
            elif w[0] == "E" and len(w) >= 5 and w[1] in ops:
                o = ops[w[1]]
                o["end"], o["rc"], o["ino"] = int(w[2]), int(w[3]), int(w[4])
                o["gen"] = int(w[5]) if len(w) > 5 else 0
    return [o for o in ops.values() if o["rc"] not in NO_EFFECT]


def ancestors(rel):
    """Proper ancestors of a relative path, nearest first ("." excluded)."""
    out = []
    while "/" in rel:
        rel = rel.rsplit("/", 1)[0]
        out.append(rel)
    return out


def differs(a, b):
    if a is None or b is None:
        return "new" if a is None else "gone"
    if a["type"] != b["type"]:
        return "type"
    if a["type"] in "fl" and (a["size"] != b["size"] or a["sha1"] != b["sha1"]):
        return "data"
    if a["mode"] != b["mode"]:
        return "mode"
    return None


def check(args):
    root = os.path.normpath(args.root)
    pre, post = load_manifest(args.pre), load_manifest(args.post)
    ops = load_oplog(args.oplog)
    # an operation the crash cut short has no E line, so no inode: the one
    # its path named before the workload is the best guess
    for o in ops:
        if not o["ino"]:
            e = pre.get(o["path"])
            if e is not None and e["type"] == "f":
                o["ino"], o["gen"] = e["ino"], e.get("gen", 0)
    slack = args.slack_ms * 1000000

    def rel_of(p):
        if p is None:
            return None
        p = os.path.normpath(p)
        if p == root:
            return "."
        if p.startswith(root + "/"):
            return p[len(root) + 1:]
        return None  # another filesystem

    changes, markers, closed = [], [], set()
    with open(args.feed) as f:
        for line in f:
            r = json.loads(line)
            if r.get("kind") == "change":
                changes.append(r)
            elif r.get("kind") == "rescan":
                markers.append(r)
            elif r.get("kind") == "rescan-done":
                closed.add(r.get("marker"))

    named = set()
    exist_subtree, gone_subtree = set(), set()
    for r in changes:
        reasons = set(r.get("reasons") or [])
        p, p2 = rel_of(r.get("path")), rel_of(r.get("path2"))
        named.update(x for x in (p, p2) if x is not None)
        # a rename-from record has path = old, path2 = new; rename-to the reverse
        new_names, old_names = [], []
        if "create" in reasons:
            new_names.append(p)
        if "delete" in reasons:
            old_names.append(p)
        if "rename-to" in reasons:
            new_names.append(p)
            old_names.append(p2)
        if "rename-from" in reasons:
            old_names.append(p)
            new_names.append(p2)
        if "rescan" in reasons:  # a walk's record: copy this path (a directory
            new_names.append(p)   # whole); it says nothing of what is gone
        exist_subtree.update(x for x in new_names if x is not None)
        gone_subtree.update(x for x in old_names if x is not None)

    mk = []
    for m in markers:
        mp = rel_of(m.get("path"))
        whole = mp == "." or (mp is None and root.startswith(os.path.normpath(m.get("path") or "/") + "/"))
        if mp is None and not whole:
            continue
        since = rfc3339_ns(m.get("since"))
        until = rfc3339_ns(m.get("until"))
        mk.append({"path": "." if whole else mp, "whole": whole, "closed": m.get("jsn") in closed,
                   "since": -INF if since is None else since - slack,
                   "until": INF if until is None else until + slack,
                   "cause": m.get("cause")})

    def same_file(o, ids):
        # (ino, gen) pairs; a generation of 0 is unknown and matches any
        return o["ino"] and any(o["ino"] == i and (not o["gen"] or not g or o["gen"] == g)
                                for i, g in ids)

    def relevant_ops(rel, ids):
        # what can make rel differ: any operation on it (by this name or on
        # the same file by another), or one that moves, makes or removes an
        # ancestor directory (a chmod of an ancestor changes nothing below)
        anc = set(ancestors(rel))
        return [o for o in ops
                if rel in (o["path"], o["path2"]) or same_file(o, ids)
                or (o["op"] in ("rename", "rmdir", "mkdir") and (o["path"] in anc or o["path2"] in anc))]

    # Hard links: a change record names one of a file's names (the one its
    # handle or event resolved to). The inode of each named path, from the
    # record's file handle (ext4 and xfs inode32: 32-bit inode, generation;
    # xfs 64-bit: inode, generation; btrfs: objectid, root, generation) or
    # from the manifests and the operation log.
    path_ino = {}
    for m in (pre, post):
        for e in m.values():
            if e["type"] == "f":
                path_ino.setdefault(e["path"], set()).add((e["ino"], e.get("gen", 0)))
    for o in ops:
        if o["ino"]:
            for x in (o["path"], o["path2"]):
                if x is not None:
                    path_ino.setdefault(x, set()).add((o["ino"], o["gen"]))
    named_ids = set()
    for r in changes:
        h = r.get("handle") or {}
        try:
            raw = bytes.fromhex(h.get("handle", ""))
            if h.get("type") in (1, 2) and len(raw) >= 8:  # ino32, gen32
                named_ids.add((int.from_bytes(raw[:4], "little"), int.from_bytes(raw[4:8], "little")))
            elif h.get("type") in (0x81, 0x82) and len(raw) >= 12:  # xfs: ino64, gen32
                named_ids.add((int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:12], "little")))
            elif h.get("type") in (0x4d, 0x4e, 0x4f) and len(raw) >= 20:  # btrfs: objectid, root, gen32
                named_ids.add((int.from_bytes(raw[:8], "little"), int.from_bytes(raw[16:20], "little")))
        except ValueError:
            pass
        for k in ("path", "path2"):
            p = rel_of(r.get(k))
            if p is not None:
                if p.endswith(" (deleted)"):
                    p = p[:-len(" (deleted)")]
                named_ids.update(path_ino.get(p, ()))

    def named_file(ids):
        return any(i == ni and (not g or not ng or g == ng) for i, g in ids for ni, ng in named_ids)
    by_link = []

    counts = {"direct": 0, "subtree": 0, "link": 0, "marker": 0, "whole-mount-only": 0}
    data_marker_only = 0
    marker_live = 0  # marker-only covers of changes made before the crash
    suspects = []
    data_diffs = 0
    misses = []
    diffs = []
    by_marker = []
    for rel in sorted(set(pre) | set(post)):
        a, b = pre.get(rel), post.get(rel)
        why = differs(a, b)
        if why is None:
            continue
        diffs.append((rel, why))
        if why == "data":
            data_diffs += 1
        if rel in named:
            counts["direct"] += 1
            continue
        sub = exist_subtree if b is not None else gone_subtree
        if any(anc in sub for anc in ancestors(rel)):
            counts["subtree"] += 1
            continue
        ids = {(e["ino"], e.get("gen", 0)) for e in (a, b) if e is not None}
        rops = relevant_ops(rel, ids)
        cover = None
        for m in mk:
            if m["path"] != "." and m["path"] != rel and not rel.startswith(m["path"] + "/"):
                continue
            # a walk closed this marker: it reported what it found, so the
            # marker still stands only for what is gone (a walk cannot see
            # deletions), never for a path that exists now
            if m["closed"] and b is not None:
                continue
            if any(o["end"] >= m["since"] and o["start"] <= m["until"] for o in rops):
                if cover is None or cover["whole"]:
                    cover = m
        linked = named_file(ids)
        if linked:
            # only another name of this file is in the feed: a consumer
            # going by names misses this one unless a marker covers it
            by_link.append((rel, why, cover is not None))
            counts["link"] += 1
            if cover is not None or not args.strict_links:
                continue
        if cover is not None:
            by_marker.append((rel, why, cover, rops[-2:]))
            counts["marker"] += 1
            if cover["whole"]:
                counts["whole-mount-only"] += 1
            if why == "data":
                data_marker_only += 1
            if args.crash_ns and all(o["start"] < args.crash_ns for o in rops):
                marker_live += 1
                # made while tracked, by data operations alone (no rename,
                # link or create could have moved a name out of the feed):
                # the intent protocol should have named it
                # (unless a record names another hard link of the file)
                if why == "data" and all(o["op"] in DATA_OPS for o in rops) and not named_file(ids):
                    suspects.append(rel)
            continue
        last = max((o["end"] for o in rops), default=None)
        misses.append((rel, why, a, b, last, rops[-3:]))

    whole = sum(1 for m in mk if m["whole"])
    stats = {"label": args.label, "changed": len(diffs), "data": data_diffs,
             "feed": len(changes) + len(markers), "markers": len(markers),
             "whole_markers": whole, "direct": counts["direct"], "subtree": counts["subtree"], "link": counts["link"], "link_only": sum(1 for x in by_link if not x[2]),
             "marker": counts["marker"], "whole_only": counts["whole-mount-only"],
             "data_marker_only": data_marker_only, "misses": len(misses),
             "ops": len(ops), "marker_live": marker_live, "suspects": len(suspects),
             "ops_after_crash": sum(1 for o in ops if args.crash_ns and o["start"] >= args.crash_ns)}
    print("%s ops=%d (after crash %d) changed=%d (data %d) feed=%d markers=%d (whole-mount %d) "
          "covered: direct=%d subtree=%d other-hard-link=%d (%d of them only so) marker=%d (whole-mount only %d, data %d, made before "
          "the crash %d, by data operations alone %d) misses=%d"
          % (args.label, len(ops), stats["ops_after_crash"], len(diffs), data_diffs, stats["feed"],
             len(markers), whole, counts["direct"], counts["subtree"], len(by_link), stats["link_only"],
             counts["marker"], counts["whole-mount-only"], data_marker_only, marker_live, len(suspects), len(misses)))
    for m in mk:
        print("  marker %s cause=%s since=%s until=%s%s" % (m["path"], m["cause"], m["since"], m["until"],
                                                       " (closed by a walk)" if m["closed"] else ""))
    for rel, why, marked in by_link:
        print("  by-link %s (%s): only another name of the same file is in the feed%s"
              % (rel, why, " (a marker covers it too)" if marked else ""))
    for rel, why, m, rops in by_marker:
        print("  by-marker%s %s (%s) marker=%s/%s ops=%s" % (" SUSPECT" if rel in suspects else "", rel, why,
                                                         m["path"], m["cause"], json.dumps(rops)))
    for rel, why, a, b, last, rops in misses:
        print("  MISS %s (%s) before=%s after=%s last-op-end=%s" % (rel, why, json.dumps(a), json.dumps(b), last))
        for o in rops:
            print("    op %s" % json.dumps(o))
    if args.stats:
        with open(args.stats, "a") as f:
            f.write(json.dumps(stats) + "\n")
    return 1 if misses else 0


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "manifest":
        if len(sys.argv) != 4:
            sys.exit("usage: oracle.py manifest ROOT OUT")
        manifest(sys.argv[2], sys.argv[3])
        return 0
    ap = argparse.ArgumentParser(prog="oracle.py check")
    ap.add_argument("cmd", choices=["check"])
    ap.add_argument("--root", required=True)
    ap.add_argument("--pre", required=True)
    ap.add_argument("--post", required=True)
    ap.add_argument("--feed", required=True)
    ap.add_argument("--oplog", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--stats")
    ap.add_argument("--slack-ms", type=int, default=0)
    ap.add_argument("--crash-ns", type=int, default=0)
    ap.add_argument("--strict-links", action="store_true",
                    help="a path covered only through another hard link of its file is a miss")
    return check(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
