#!/bin/busybox sh
# /init of the raw NAND / UBI proof (tests/qemu_nand.rs): busybox (static), Debian's mtd-utils
# (dynamic: their libc and loader are in the initramfs) and the static recovery-updater.
# `nand.boot=` on the kernel command line picks the scenario:
#   1  nandsim (128 MiB, 2 KiB pages, factory bad blocks 5 and 200): a raw image over bad block
#      5 on mtd0, read back with `nanddump --bb=skipbad`; an A/B update of UBI volume rootfs_b
#      on mtd2, read back and its update marker checked; the benchmark against nandwrite and
#      ubiupdatevol in the same boot; then a slot switch in a U-Boot environment on mtd1; then
#      the ubi_rename slot control: a switch cut before the rename, re-run, and a second update
#      that moves the boot name back.
#   2  block2mtd on virtio disk vdb (kept by the host across boots): fresh UBI, rootfs_a
#      written, then an update of rootfs_b from the package on FAT disk vdc (read slowly) is
#      started; once it is writing, "S3 KILL ME" asks the host to kill QEMU.
#   3  the same disk again: rootfs_b must be damaged (upd_marker), then the update is
#      re-applied and must read back equal.
# Results are lines "RESULT name ok|FAIL detail" on the console; the host asserts on them.
/bin/busybox mkdir -p /bin /sbin /proc /sys /dev /tmp
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
export PATH=/bin:/usr/sbin
boot=$(sed -n 's/.*nand\.boot=\([0-9]\).*/\1/p' /proc/cmdline)
release=$(uname -r)
ok() { echo "RESULT $1 ok $2"; }
fail() { echo "RESULT $1 FAIL $2"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else fail "$name" "$*"; fi; }
# Seconds since boot with centisecond resolution, for the benchmark.
now() { cut -d' ' -f1 /proc/uptime; }
elapsed() { echo "$1 $2" | awk '{printf "%.2f", $2 - $1}'; }
apply() {
  mkdir -p /tmp/state
  recovery-updater apply "$1" --device /etc/recovery/device.toml --yes --json >"$2" 2>&1
}
size() { wc -c <"$1" | tr -d ' '; }
# The ubiX_Y volume called $1 (none: empty).
vol_of() { for d in /sys/class/ubi/ubi*_*; do [ "$(cat "$d/name")" = "$1" ] && basename "$d"; done; }
finish() { sync; echo "NAND-GUEST-DONE"; poweroff -f; }

for m in virtio_pci virtio_blk ubi vfat nls_cp437 nls_ascii nls_utf8; do modprobe $m || fail modules $m; done
i=0; until [ -b /dev/vda ] || [ $i -gt 100 ]; do sleep 0.1; i=$((i + 1)); done
case $boot in
1)
  modprobe nandsim id_bytes=0x98,0xf1,0x80,0x95 badblocks=5,200 parts=64,8 || fail modules nandsim
  cat /proc/mtd
  ubiformat -y -q /dev/mtd2 && ubiattach -m 2 -d 0 >/dev/null || fail ubi attach
  ubimkvol /dev/ubi0 -N rootfs_a -s 12MiB >/dev/null && ubimkvol /dev/ubi0 -N rootfs_b -s 12MiB >/dev/null \
    || fail ubi mkvol
  ubiupdatevol /dev/ubi0_0 /pkg/old.img || fail ubi old
  t0=$(now); apply /pkg/update.zip /tmp/apply.json; rc=$?; t1=$(now)
  cat /tmp/apply.json
  check apply [ "$rc" = 0 ]
  echo "BENCH ours $(elapsed "$t0" "$t1") s (raw $(size /pkg/raw.img) + ubi $(size /pkg/rootfs.img) bytes, verified)"
  # Scenario 1: bad block 5 lies inside the image (blocks 0..): nanddump skips it as we did.
  n=$(size /pkg/raw.img)
  nanddump -q --bb=skipbad -l $(( (n + 2047) / 2048 * 2048 )) -f /tmp/raw.back /dev/mtd0
  head -c "$n" /tmp/raw.back >/tmp/raw.cut
  check raw_readback cmp -s /tmp/raw.cut /pkg/raw.img
  # Bad block 5 was skipped, not written: the image's erase block 5 is physical block 6.
  nanddump -q -s $((6 * 131072)) -l 131072 -f /tmp/raw.blk6 /dev/mtd0
  dd if=/pkg/raw.img of=/tmp/raw.img5 bs=131072 skip=5 count=1 2>/dev/null
  check raw_bad_block_5_skipped cmp -s /tmp/raw.blk6 /tmp/raw.img5
  # Scenario 2: rootfs_b through the UBI device, and no update marker.
  n=$(size /pkg/rootfs.img)
  head -c "$n" /dev/ubi0_1 >/tmp/ubi.back
  check ubi_readback cmp -s /tmp/ubi.back /pkg/rootfs.img
  check ubi_no_marker [ "$(cat /sys/class/ubi/ubi0_1/upd_marker)" = 0 ]
  ubinfo -d 0 -N rootfs_b
  # An image that fits mtd0 (64 erase blocks) but not its 63 good ones: 9062 (exit 62) at
  # plan time, and mtd0 still holds the raw image.
  apply /pkg/update-big.zip /tmp/big.json; rc=$?
  tail -n 1 /tmp/big.json
  check raw_no_room [ "$rc" = 62 ]
  nanddump -q --bb=skipbad -l $(( ($(size /pkg/raw.img) + 2047) / 2048 * 2048 )) -f /tmp/raw.back2 /dev/mtd0
  head -c "$(size /pkg/raw.img)" /tmp/raw.back2 >/tmp/raw.cut2
  check raw_untouched_after_no_room cmp -s /tmp/raw.cut2 /pkg/raw.img
  # The slot a volume is untouched.
  head -c "$(size /pkg/old.img)" /dev/ubi0_0 >/tmp/old.back
  check ubi_slot_a_untouched cmp -s /tmp/old.back /pkg/old.img
  # Benchmark: the same images with mtd-utils in this boot.
  t0=$(now); flash_erase -q /dev/mtd0 0 0 && nandwrite -q -p /dev/mtd0 /pkg/raw.img; t1=$(now)
  echo "BENCH nandwrite $(elapsed "$t0" "$t1") s (flash_erase + nandwrite -p, no read-back)"
  t0=$(now); ubiupdatevol /dev/ubi0_1 /pkg/rootfs.img; t1=$(now)
  echo "BENCH ubiupdatevol $(elapsed "$t0" "$t1") s (no read-back)"
  # The peer, only for bench/run.sh --only-nand (NAND_BENCH_SWUPDATE): SWUpdate's ubivol handler
  # writes the same image to rootfs_b (MTDs 0 and 1 blacklisted: they are raw, not UBI).
  if [ -x /usr/bin/swupdate ]; then
    t0=$(now)
    /usr/bin/swupdate -i /pkg/update-ubi.swu -k /pkg/swu-cert.pem -H bench:1.0 -M -m -l 3 -b "0 1" \
      >/tmp/swu.log 2>&1; rc=$?; t1=$(now)
    [ "$rc" = 0 ] || tail -n 20 /tmp/swu.log
    echo "BENCH swupdate_ubi $(elapsed "$t0" "$t1") s (SWUpdate ubivol, sha256 checked, no read-back)"
    head -c "$(size /pkg/rootfs.img)" /dev/ubi0_1 >/tmp/swu.back
    check swupdate_ubi [ "$rc" = 0 ] && check swupdate_ubi_readback cmp -s /tmp/swu.back /pkg/rootfs.img
  fi
  t0=$(now); sha256sum /pkg/raw.img /pkg/rootfs.img >/dev/null; t1=$(now)
  echo "BENCH sha256sum $(elapsed "$t0" "$t1") s (hashing the two images once)"
  t0=$(now); sha256sum /pkg/rootfs.img >/dev/null; t1=$(now)
  echo "BENCH sha256sum_ubi $(elapsed "$t0" "$t1") s (hashing the UBI image once)"
  # The U-Boot environment on raw NAND (mtd1, two copies in two erase blocks): made by
  # libubootenv's fw_setenv, switched by us (erase before write), read back by fw_printenv.
  # Blank flash: libubootenv starts from its default environment file.
  printf 'BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\n' >/etc/u-boot-initial-env
  for v in "BOOT_ORDER A B" "BOOT_A_LEFT 3" "BOOT_B_LEFT 3"; do
    fw_setenv -c /etc/recovery/fw_env.config $v || fail env fw_setenv
  done
  apply_env() { mkdir -p /tmp/state2; recovery-updater apply "$1" --device /etc/recovery/device-env.toml --yes --json >"$2" 2>&1; }
  t0=$(now); apply_env /pkg/update-ubi.zip /tmp/env.json; rc=$?; t1=$(now)
  echo "BENCH ours_ubi $(elapsed "$t0" "$t1") s (UBI $(size /pkg/rootfs.img) bytes only, verified, switch in the U-Boot env on mtd1)"
  tail -n 1 /tmp/env.json
  check env_apply [ "$rc" = 0 ]
  order=$(fw_printenv -c /etc/recovery/fw_env.config -n BOOT_ORDER)
  echo "BOOT_ORDER after the update: $order"
  check env_switched_on_mtd [ "$order" = "B A" ]
  rn_t0=$(now)
  # The ubi_rename slot control (device-rn.toml): the bootloader boots the volume named
  # `system`; the other slot's volume is `system_a` or `system_b`. Slot a (ubi0_2) is active.
  ubimkvol /dev/ubi0 -N system -s 12MiB >/dev/null && ubimkvol /dev/ubi0 -N system_b -s 12MiB >/dev/null \
    || fail ubi mkvol
  va=$(vol_of system); vb=$(vol_of system_b)
  ubiupdatevol "/dev/$va" /pkg/old.img || fail ubi old
  apply_rn() { mkdir -p /tmp/state3; recovery-updater apply "$1" --device /etc/recovery/device-rn.toml --yes --json >"$2" 2>&1; }
  # A switch that fails after the volume update (the rename needs /dev/ubi0, hidden here): the
  # state a power cut between the update and the rename leaves. The names are unchanged.
  mv /dev/ubi0 /dev/ubi0.hidden
  apply_rn /pkg/update-ubi.zip /tmp/rn0.json; rc=$?
  mv /dev/ubi0.hidden /dev/ubi0
  tail -n 1 /tmp/rn0.json
  check rn_cut_before_rename [ "$rc" = 69 -a "$(vol_of system)" = "$va" -a -f /tmp/state3/journal.json ]
  cp /tmp/state3/journal.json /tmp/rn-journal.json
  # The re-run finishes it: one rename, boot name on slot b's volume, which holds the image.
  apply_rn /pkg/update-ubi.zip /tmp/rn1.json; rc=$?
  tail -n 1 /tmp/rn1.json
  check rn_apply [ "$rc" = 0 ]
  echo "UBI names after the update: $va=$(cat /sys/class/ubi/$va/name) $vb=$(cat /sys/class/ubi/$vb/name)"
  check rn_names_swapped [ "$(vol_of system)" = "$vb" -a "$(vol_of system_a)" = "$va" ]
  head -c "$(size /pkg/rootfs.img)" "/dev/$(vol_of system)" >/tmp/rn.back
  check rn_boot_name_holds_new_image cmp -s /tmp/rn.back /pkg/rootfs.img
  # A power cut after the rename, before the bookkeeping: the journal (stage flushed, target b)
  # is back. The re-run reads slot b's volume (now called `system`) back, only finishes the
  # bookkeeping and renames nothing.
  cp /tmp/rn-journal.json /tmp/state3/journal.json
  apply_rn /pkg/update-ubi.zip /tmp/rn1b.json; rc=$?
  tail -n 1 /tmp/rn1b.json
  check rn_cut_after_rename_finishes [ "$rc" = 0 -a "$(vol_of system)" = "$vb" -a "$(vol_of system_a)" = "$va" ]
  check rn_cut_after_rename_only_bookkeeping grep -q "finishing" /tmp/rn1b.json
  if grep -q '"phase":"write"' /tmp/rn1b.json; then fail rn_cut_after_rename_writes_nothing "wrote"
  else ok rn_cut_after_rename_writes_nothing; fi
  # A second update writes slot a (system_a) and moves the boot name back.
  apply_rn /pkg/update-ubi.zip /tmp/rn2.json; rc=$?
  tail -n 1 /tmp/rn2.json
  check rn_second_apply [ "$rc" = 0 ]
  echo "UBI names after the second update: $va=$(cat /sys/class/ubi/$va/name) $vb=$(cat /sys/class/ubi/$vb/name)"
  check rn_swapped_back [ "$(vol_of system)" = "$va" -a "$(vol_of system_b)" = "$vb" ]
  head -c "$(size /pkg/rootfs.img)" "/dev/$va" >/tmp/rn2.back
  check rn_slot_a_rewritten cmp -s /tmp/rn2.back /pkg/rootfs.img
  ubinfo -d 0 -n "${va#ubi0_}" | grep -E "Name|Volume ID"
  echo "the ubi_rename scenario took $(elapsed "$rn_t0" "$(now)") s"
  # The larger UBI image of bench/run.sh --only-nand --ubi-mib N (never in CI): the volumes above
  # make way for two of its size; ours (device-env.toml: U-Boot env on mtd1) against
  # ubiupdatevol and one hash pass, in this boot.
  if [ -f /pkg/update-bench.zip ]; then
    for n in rootfs_a rootfs_b system system_a system_b; do
      v=$(vol_of $n); [ -z "$v" ] || ubirmvol /dev/ubi0 -N "$n" >/dev/null || fail bench rmvol
    done
    vs=$(( $(size /pkg/bench.img) / 1048576 + 2 ))MiB
    ubimkvol /dev/ubi0 -N rootfs_a -s "$vs" >/dev/null && ubimkvol /dev/ubi0 -N rootfs_b -s "$vs" >/dev/null \
      || fail bench mkvol
    t0=$(now); apply_env /pkg/update-bench.zip /tmp/bench.json; rc=$?; t1=$(now)
    tail -n 1 /tmp/bench.json
    [ "$rc" = 0 ] || fail bench apply
    echo "BENCH big_ours_ubi $(elapsed "$t0" "$t1") s (UBI $(size /pkg/bench.img) bytes, verified, switch in the U-Boot env on mtd1)"
    t0=$(now); ubiupdatevol "/dev/$(vol_of rootfs_a)" /pkg/bench.img; t1=$(now)
    echo "BENCH big_ubiupdatevol $(elapsed "$t0" "$t1") s (no read-back)"
    t0=$(now); sha256sum /pkg/bench.img >/dev/null; t1=$(now)
    echo "BENCH big_sha256sum $(elapsed "$t0" "$t1") s (hashing the image once)"
  fi
  finish
  ;;
2)
  modprobe block2mtd block2mtd=/dev/vdb,128KiB || fail modules block2mtd
  ubiformat -y -q /dev/mtd0 && ubiattach -m 0 -d 0 >/dev/null || fail ubi attach
  ubimkvol /dev/ubi0 -N rootfs_a -s 12MiB >/dev/null && ubimkvol /dev/ubi0 -N rootfs_b -s 12MiB >/dev/null \
    || fail ubi mkvol
  ubiupdatevol /dev/ubi0_0 /pkg/old.img || fail ubi old
  sync
  # The package comes from a FAT disk QEMU reads slowly (throttled), so the update is surely
  # still writing when QEMU is killed.
  mkdir -p /mnt && mount -t vfat -o ro /dev/vdc /mnt || fail mount package
  apply /mnt/update.zip /tmp/apply.json &
  i=0
  until grep -q '"phase":"write","partition":"rootfs"' /tmp/apply.json 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 600 ] || { cat /tmp/apply.json; fail kill_point "never writing"; finish; }
    sleep 0.1
  done
  echo "marker while writing: $(cat /sys/class/ubi/ubi0_1/upd_marker)"
  echo "S3 KILL ME"
  sleep 600
  ;;
3)
  modprobe block2mtd block2mtd=/dev/vdb,128KiB || fail modules block2mtd
  ubiattach -m 0 -d 0 >/dev/null || fail ubi attach
  check damaged_marker [ "$(cat /sys/class/ubi/ubi0_1/upd_marker)" = 1 ]
  if head -c 4096 /dev/ubi0_1 >/dev/null 2>&1; then fail damaged_unreadable "read worked"; else ok damaged_unreadable; fi
  head -c "$(size /pkg/old.img)" /dev/ubi0_0 >/tmp/old.back
  check old_slot_intact cmp -s /tmp/old.back /pkg/old.img
  mkdir -p /mnt && mount -t vfat -o ro /dev/vdc /mnt || fail mount package
  apply /mnt/update.zip /tmp/apply.json; rc=$?
  cat /tmp/apply.json
  check reapply [ "$rc" = 0 ]
  n=$(size /pkg/rootfs.img)
  head -c "$n" /dev/ubi0_1 >/tmp/ubi.back
  check reapply_readback cmp -s /tmp/ubi.back /pkg/rootfs.img
  check reapply_no_marker [ "$(cat /sys/class/ubi/ubi0_1/upd_marker)" = 0 ]
  finish
  ;;
*)
  fail boot "no nand.boot= on the command line"
  finish
  ;;
esac
