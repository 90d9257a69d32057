#!/usr/bin/env python3
"""Builds a recovery initramfs (cpio "newc", uncompressed) without root.

Contents: the static recovery-updater as /init, the device profile as
/etc/recovery/device.toml, the trusted public keys it lists (paths relative to the profile are
copied beside it), the kernel modules the profile's [init] modules need (with everything
modules.dep says they depend on), modules.dep/modules.builtin, and /dev/console (a character
device written straight into the archive, so no mknod and no root are needed).

Usage: mkinitramfs.py --init BINARY --profile device.toml --modules-root KERNEL_TREE
                      --kernel-release 6.1.0-56-amd64 --out initramfs.cpio

A system image that loads its modules with a shell init (recovery/uboot/system-init.sh) names
them with --modules a,b,c instead of the profile's [init] modules; the files, dependencies first,
are then listed in load order in /etc/modules.order (paths relative to lib/modules/RELEASE).
"""
import argparse
import os
import stat
import sys
import tomllib


class Cpio:
    """Writer for the "newc" format (magic 070701): a 110-byte ASCII-hex header, the name with
    its NUL, padded to 4 bytes, then the data padded to 4 bytes; ends with TRAILER!!!."""

    def __init__(self, out):
        self.out = out
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, data=b"", rdev=(0, 0), nlink=1):
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1],
                  len(name_b), 0]
        self.ino += 1
        hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
        self.out.write(hdr + name_b)
        self.out.write(b"\0" * ((4 - (len(hdr) + len(name_b)) % 4) % 4))
        self.out.write(data)
        self.out.write(b"\0" * ((4 - len(data) % 4) % 4))

    def dir(self, path):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            if p and p not in self.dirs:
                self.dirs.add(p)
                self._entry(p, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, path, data, mode=0o644):
        path = path.strip("/")
        if "/" in path:
            self.dir(path.rsplit("/", 1)[0])
        self._entry(path, stat.S_IFREG | mode, data)

    def chardev(self, path, major, minor, mode=0o600):
        path = path.strip("/")
        self.dir(path.rsplit("/", 1)[0])
        self._entry(path, stat.S_IFCHR | mode, rdev=(major, minor))

    def finish(self):
        self._entry("TRAILER!!!", 0)
        # The kernel reads the archive in 512-byte blocks.
        pos = self.out.tell()
        self.out.write(b"\0" * ((512 - pos % 512) % 512))


def module_name(path):
    base = os.path.basename(path)
    for suf in (".ko", ".ko.xz", ".ko.zst", ".ko.gz"):
        if base.endswith(suf):
            base = base[: -len(suf)]
    return base.replace("-", "_")


def module_closure(dep_text, builtin_text, wanted):
    table = {}
    for line in dep_text.splitlines():
        if ":" not in line:
            continue
        path, deps = line.split(":", 1)
        table[module_name(path.strip())] = (path.strip(), deps.split())
    builtin = {module_name(l.strip()) for l in builtin_text.splitlines() if l.strip()}
    files = []
    for w in wanted:
        n = w.replace("-", "_")
        if n not in table:
            if n in builtin:
                continue
            sys.exit(f"mkinitramfs: module {w} is not in modules.dep")
        path, deps = table[n]
        for p in deps + [path]:
            if p not in files:
                files.append(p)
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--init", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--modules-root", help="unpacked kernel package (holds lib/modules/RELEASE)")
    ap.add_argument("--kernel-release")
    ap.add_argument("--extra", action="append", default=[], metavar="SRC:DEST",
                    help="another file to include")
    ap.add_argument("--modules", help="comma-separated modules instead of the profile's [init] modules; "
                    "writes /etc/modules.order")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    with open(a.profile, "rb") as f:
        profile_bytes = f.read()
    profile = tomllib.loads(profile_bytes.decode())
    pdir = os.path.dirname(os.path.abspath(a.profile))
    with open(a.out, "wb") as out:
        c = Cpio(out)
        for d in ("dev", "proc", "sys", "run", "tmp", "etc/recovery", "mnt"):
            c.dir(d)
        c.chardev("dev/console", 5, 1)
        c.chardev("dev/null", 1, 3, 0o666)
        with open(a.init, "rb") as f:
            c.file("init", f.read(), 0o755)
        c.file("etc/recovery/device.toml", profile_bytes)
        for k in profile.get("keys", []):
            if os.path.isabs(k):
                sys.exit(f"mkinitramfs: key {k}: use a path relative to the profile")
            with open(os.path.join(pdir, k), "rb") as f:
                c.file(os.path.join("etc/recovery", k), f.read())
        wanted = profile.get("init", {}).get("modules", [])
        if a.modules:
            wanted = [m for m in a.modules.split(",") if m]
        if wanted:
            if not (a.modules_root and a.kernel_release):
                sys.exit("mkinitramfs: the profile lists modules: give --modules-root and --kernel-release")
            mdir = os.path.join(a.modules_root, "lib/modules", a.kernel_release)
            with open(os.path.join(mdir, "modules.dep")) as f:
                dep = f.read()
            builtin = ""
            if os.path.exists(os.path.join(mdir, "modules.builtin")):
                with open(os.path.join(mdir, "modules.builtin")) as f:
                    builtin = f.read()
            dest = f"lib/modules/{a.kernel_release}"
            c.file(f"{dest}/modules.dep", dep.encode())
            c.file(f"{dest}/modules.builtin", builtin.encode())
            order = module_closure(dep, builtin, wanted)
            for rel in order:
                with open(os.path.join(mdir, rel), "rb") as f:
                    c.file(f"{dest}/{rel}", f.read())
            if a.modules:
                c.file("etc/modules.order", "".join(r + "\n" for r in order).encode())
        for e in a.extra:
            src, dst = e.split(":", 1)
            with open(src, "rb") as f:
                c.file(dst, f.read(), 0o755 if os.access(src, os.X_OK) else 0o644)
        c.finish()


if __name__ == "__main__":
    main()
