#!/bin/busybox sh
# /init of a slot's system in the U-Boot proof (recovery/uboot/README.md): the "running system"
# that an installed slot boots into. It mounts the boot partition (the U-Boot environment file)
# and the state partition, runs the steps the host left in /state/next, writes
# `status --json` to /state/status.json and powers off. The host (tests/qemu_uboot.rs) reads
# the results from the disk image afterwards.
#
# Steps (words in /state/next, run in order): apply (installs /state/update.zip from this
# running system), mark-good. Their output and exit status go to /state/STEP.out and STEP.rc.
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /boot /state /tmp
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
release=$(uname -r)
while read -r m; do
  insmod "/lib/modules/$release/$m" || echo "system-init: insmod $m failed"
done </etc/modules.order
# virtio_blk probes asynchronously: wait (bounded) for the last partition.
i=0
while [ ! -b /dev/vda4 ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
mkdir -p /dev/block/by-name
ln -s /dev/vda1 /dev/block/by-name/boot
ln -s /dev/vda2 /dev/block/by-name/system_a
ln -s /dev/vda3 /dev/block/by-name/system_b
ln -s /dev/vda4 /dev/block/by-name/state
mount -t vfat /dev/vda1 /boot || echo "system-init: cannot mount the boot partition"
mount -t vfat /dev/vda4 /state || echo "system-init: cannot mount the state partition"

slot=$(sed -n 's/.*rauc\.slot=\([AB]\).*/\1/p' /proc/cmdline)
version=$(cat /etc/version)
echo "SYSTEM: running slot $slot version $version"
echo "$slot $version" >>/state/boots.log
steps=$(cat /state/next 2>/dev/null)
rm -f /state/next
sync
dev=/etc/recovery/device.toml
set -o pipefail
for step in $steps; do
  echo "SYSTEM: $step"
  case $step in
    apply)
      recovery-updater apply /state/update.zip --device $dev --yes --json 2>&1 | tee /state/apply.out
      echo $? >/state/apply.rc ;;
    mark-good)
      recovery-updater mark-good --device $dev >/state/mark-good.out 2>&1
      echo $? >/state/mark-good.rc ;;
    *) echo "SYSTEM: unknown step $step" ;;
  esac
done
recovery-updater status --device $dev --json >/state/status.json 2>/state/status.err
echo "SYSTEM: done"
sync
umount /state /boot
poweroff -f
