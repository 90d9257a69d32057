#!/usr/bin/env bash
# Images for the U-Boot A/B proof (recovery/uboot/README.md), made without root.
#
#   make-disk.sh slot OUT.img --init INIT --version V --updater BIN --profile device.toml
#       A slot's system: a 32 MiB FAT image holding `initrd` (busybox, the updater, the profile,
#       its key, fw_env.config, /etc/version, the virtio/vfat modules; INIT as /init).
#   make-disk.sh disk OUT.img --slot-a A.img
#       The machine's disk (GPT): 1 boot (FAT: the arm64 kernel as Image, boot.scr, uboot.env
#       with BOOT_ORDER="A B", BOOT_A_LEFT=3, BOOT_B_LEFT=3), 2 system_a (A.img), 3 system_b
#       (zeros: never installed), 4 state (FAT, empty).
#
# Partition offsets in MiB (tests/common/uboot.rs reads them back with mtools "@@offset"):
# boot 1 (40 MiB), system_a 41, system_b 73 (32 MiB each), state 105 (16 MiB); 122 MiB in all.
# Needs: recovery/fetch-kernel.sh arm64 first; mkfs.vfat, mtools, sfdisk, mkimage, mkenvimage.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache="$here/../.cache/arm64"
kind=$1 out=$2
shift 2

release=$(ls "$cache/kernel/lib/modules")
MODULES=virtio_pci,virtio_blk,vfat,nls_cp437,nls_ascii

case $kind in
  slot)
    init="" version="" updater="" profile=""
    while [ $# -gt 0 ]; do
      case $1 in
        --init) init=$2 ;; --version) version=$2 ;; --updater) updater=$2 ;;
        --profile) profile=$2 ;;
        *) echo "make-disk: unknown argument $1" >&2; exit 2 ;;
      esac
      shift 2
    done
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "$version" >"$tmp/version"
    python3 "$here/../mkinitramfs.py" --init "$init" --profile "$profile" \
      --modules-root "$cache/kernel" --kernel-release "$release" --modules "$MODULES" \
      --extra "$cache/busybox:bin/busybox" --extra "$updater:bin/recovery-updater" \
      --extra "$here/fw_env.config:etc/fw_env.config" --extra "$tmp/version:etc/version" \
      --out "$tmp/initrd"
    rm -f "$out"
    mkfs.vfat -C -n SYSTEM "$out" 32768 >/dev/null
    mcopy -i "$out" "$tmp/initrd" ::initrd
    ;;
  disk)
    [ "${1:-}" = --slot-a ] || { echo "make-disk: disk OUT --slot-a A.img" >&2; exit 2; }
    slot_a=$2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    rm -f "$out"
    truncate -s 122M "$out"
    sfdisk -q "$out" <<'PARTS'
label: gpt
start=1MiB, size=40MiB, name=boot, bootable
start=41MiB, size=32MiB, name=system_a
start=73MiB, size=32MiB, name=system_b
start=105MiB, size=16MiB, name=state
PARTS
    mkfs.vfat -C -n BOOT "$tmp/boot.img" $((40 * 1024)) >/dev/null
    mkimage -q -A arm64 -T script -C none -n "A/B boot" -d "$here/boot.cmd" "$tmp/boot.scr"
    printf 'BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\n' >"$tmp/env.txt"
    mkenvimage -s 0x4000 -o "$tmp/uboot.env" "$tmp/env.txt"
    mcopy -i "$tmp/boot.img" "$cache/kernel/boot/vmlinuz-$release" ::Image
    mcopy -i "$tmp/boot.img" "$tmp/boot.scr" "$tmp/uboot.env" ::
    mkfs.vfat -C -n STATE "$tmp/state.img" $((16 * 1024)) >/dev/null
    dd if="$tmp/boot.img" of="$out" bs=1M seek=1 conv=notrunc status=none
    dd if="$slot_a" of="$out" bs=1M seek=41 conv=notrunc status=none
    dd if="$tmp/state.img" of="$out" bs=1M seek=105 conv=notrunc status=none
    ;;
  *) echo "make-disk: slot|disk" >&2; exit 2 ;;
esac
