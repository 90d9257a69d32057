#!/usr/bin/env bash
# Boots a recovery initramfs under qemu-system-x86_64 (TCG, no KVM needed), console on ttyS0
# (stdout). Bounded: killed after TIMEOUT seconds (default 120).
#
#   boot-qemu.sh KERNEL INITRAMFS [--disk NAME=FILE]... [--sd FILE] [--usb FILE] [--net PORT]
#                [--append WORDS]
#
# Each --disk is a virtio disk whose serial is NAME: the recovery init links it as
# /dev/block/by-name/NAME, as a phone's GPT partition names appear. --sd is an SD card on an
# SDHCI controller (/dev/mmcblk0; its size must be a power of two), --usb a USB stick (/dev/sdX).
# --net PORT adds a virtio NIC on QEMU's user network (the guest is 10.0.2.15/24) and forwards
# the host's 127.0.0.1:PORT to the guest's adb port 5555 (`adb connect 127.0.0.1:PORT`).
set -euo pipefail
kernel=$1 initrd=$2
shift 2
args=()
append="console=ttyS0 panic=-1 loglevel=4"
n=0
while [ $# -gt 0 ]; do
  case $1 in
    --disk)
      name=${2%%=*} file=${2#*=}
      args+=(-drive "id=d$n,if=none,format=raw,file=$file" -device "virtio-blk-pci,drive=d$n,serial=$name")
      n=$((n + 1)); shift 2 ;;
    --sd)
      args+=(-device sdhci-pci -drive "id=sd,if=none,format=raw,file=$2" -device sd-card,drive=sd)
      shift 2 ;;
    --usb)
      args+=(-device qemu-xhci -drive "id=usb,if=none,format=raw,file=$2" -device usb-storage,drive=usb)
      shift 2 ;;
    --net)
      args+=(-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$2-:5555" -device virtio-net-pci,netdev=n0)
      shift 2 ;;
    --append) append="$append $2"; shift 2 ;;
    *) echo "boot-qemu: unknown argument $1" >&2; exit 2 ;;
  esac
done
exec timeout --kill-after=5 "${TIMEOUT:-120}" qemu-system-x86_64 \
  -machine pc -accel tcg -m 512 -smp 1 -nographic -no-reboot -monitor none \
  -kernel "$kernel" -initrd "$initrd" -append "$append" "${args[@]}"
