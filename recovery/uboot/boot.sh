#!/usr/bin/env bash
# One boot of the U-Boot proof machine: qemu-system-aarch64 -M virt (TCG, cortex-a57), Debian's
# qemu_arm64 U-Boot as -bios, DISK as a virtio disk; console (U-Boot, then the kernel) on
# stdout. -no-reboot: the boot ends when the system powers off, reboots or panics (panic=-1),
# so the host sees each boot separately. Bounded: killed after TIMEOUT seconds (default 90).
#
#   boot.sh DISK
set -euo pipefail
exec timeout --kill-after=5 "${TIMEOUT:-90}" qemu-system-aarch64 \
  -M virt -cpu cortex-a57 -accel tcg -m 1024 -smp "${SMP:-1}" -nographic -no-reboot -monitor none \
  -bios "${UBOOT_BIN:-/usr/lib/u-boot/qemu_arm64/u-boot.bin}" \
  -drive "id=disk,if=none,format=raw,file=$1" -device virtio-blk-pci,drive=disk
