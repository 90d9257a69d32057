#!/usr/bin/env bash
# Downloads Debian's kernel (the package linux-image-ARCH depends on), unpacks it without
# installing, and runs depmod on the unpacked tree. Prints the kernel release.
#
#   fetch-kernel.sh          amd64 (the host's apt lists): recovery/.cache/kernel/
#   fetch-kernel.sh arm64    arm64 kernel + busybox-static:arm64 (the U-Boot proof,
#                            recovery/uboot/): recovery/.cache/arm64/{kernel,busybox}
#
# Output: DIR/{boot/vmlinuz-RELEASE, lib/modules/RELEASE/...}. For arm64 the package lists come
# from a private apt state directory (recovery/.cache/apt-arm64, APT::Architecture=arm64), so the
# host's dpkg architectures and apt lists are left as they are.
set -euo pipefail
cache="$(cd "$(dirname "$0")" && pwd)/.cache"
arch=${1:-amd64}
mkdir -p "$cache"
cd "$cache"

unpack_kernel() { # DEB OUTDIR
  rm -rf "$2.tmp"
  dpkg-deb -x "$1" "$2.tmp"
  local release
  release=$(ls "$2.tmp/lib/modules")
  depmod -b "$2.tmp" "$release"
  mv "$2.tmp" "$2"
}

case $arch in
  amd64)
    if ! ls kernel/boot/vmlinuz-* >/dev/null 2>&1; then
      pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
      [ -n "$pkg" ] || { echo "fetch-kernel: cannot resolve linux-image-amd64 (apt-get update?)" >&2; exit 1; }
      ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get download "$pkg" >&2
      unpack_kernel "$(ls "$pkg"_*.deb | head -1)" kernel
    fi
    ls kernel/lib/modules
    ;;
  arm64)
    if ! ls arm64/kernel/boot/vmlinuz-* >/dev/null 2>&1 || [ ! -x arm64/busybox ]; then
      st="$cache/apt-arm64"
      mkdir -p "$st/lists/partial" "$st/cache/archives/partial" arm64
      touch "$st/status"
      apt_opts=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64
        -o Dir::State::Lists="$st/lists" -o Dir::State::status="$st/status"
        -o Dir::Cache="$st/cache" -o Debug::NoLocking=1)
      apt-get "${apt_opts[@]}" update >&2
      pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-arm64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
      [ -n "$pkg" ] || { echo "fetch-kernel: cannot resolve linux-image-arm64" >&2; exit 1; }
      cd arm64
      ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get "${apt_opts[@]}" download "$pkg" >&2
      ls busybox-static_*.deb >/dev/null 2>&1 || apt-get "${apt_opts[@]}" download busybox-static >&2
      [ -d kernel ] || unpack_kernel "$(ls "$pkg"_*.deb | head -1)" kernel
      rm -rf bb && dpkg-deb -x "$(ls busybox-static_*.deb | head -1)" bb
      cp bb/bin/busybox busybox && rm -rf bb
      cd ..
    fi
    ls arm64/kernel/lib/modules
    ;;
  *) echo "fetch-kernel: unknown architecture $arch (amd64 or arm64)" >&2; exit 2 ;;
esac
