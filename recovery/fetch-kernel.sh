#!/usr/bin/env bash
# Downloads Debian's amd64 kernel (the package linux-image-amd64 depends on), unpacks it without
# installing, and runs depmod on the unpacked tree. Prints the kernel release.
# Output: recovery/.cache/kernel/{boot/vmlinuz-RELEASE, lib/modules/RELEASE/...}
set -euo pipefail
cache="$(cd "$(dirname "$0")" && pwd)/.cache"
mkdir -p "$cache"
cd "$cache"
if ! ls kernel/boot/vmlinuz-* >/dev/null 2>&1; then
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$pkg" ] || { echo "fetch-kernel: cannot resolve linux-image-amd64 (apt-get update?)" >&2; exit 1; }
  ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get download "$pkg" >&2
  rm -rf kernel.tmp
  dpkg-deb -x "$pkg"_*.deb kernel.tmp
  release=$(ls kernel.tmp/lib/modules)
  depmod -b kernel.tmp "$release"
  mv kernel.tmp kernel
fi
ls kernel/lib/modules
