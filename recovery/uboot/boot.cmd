# U-Boot boot script (mkimage -T script -d boot.cmd boot.scr) for the A/B proof under
# qemu_arm64 U-Boot (recovery/uboot/README.md). RAUC's U-Boot scheme: BOOT_ORDER lists the slots
# in the order to try ("A B" or "B A"); BOOT_x_LEFT counts the tries a slot has left. Each boot
# takes the first slot in BOOT_ORDER with tries left, decrements its counter and saves the
# environment BEFORE booting it, so a slot that never comes up burns its tries and the next slot
# in the order boots. The running system resets its counter when it is healthy
# (`recovery-updater mark-good`). No slot with tries left: all counters back to 3 and reset.
#
# Where the environment lives: this U-Boot build keeps its own environment in the second pflash
# bank (ENV_IS_IN_FLASH), but Debian's arm64 kernel has no CFI/physmap NOR driver
# (CONFIG_MTD_CFI, CONFIG_MTD_PHYSMAP unset), so Linux cannot reach it. The slot variables live
# in uboot.env on the FAT boot partition instead, as ENV_IS_IN_FAT keeps them: the same env_t
# format (CRC-32 then key=value pairs), which `env import -c` / `env export -c` read and write
# here and which the updater reads and writes through fw_env.config in the running system.
#
# Addresses: distro boot loaded this script at ${scriptaddr} (0x40200000); the environment goes
# to 0x4f000000, far from the script, the kernel (${kernel_addr_r} = 0x40400000, ~32 MiB) and
# the initrd (${ramdisk_addr_r} = 0x44000000), so no load overwrites the script running it.
setenv envaddr 0x4f000000
setenv envsize 0x4000
if test -z "${devnum}"; then setenv devnum 0; fi
if load virtio ${devnum}:1 ${envaddr} uboot.env; then
  env import -c ${envaddr} ${filesize} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
fi
if test -z "${BOOT_ORDER}"; then setenv BOOT_ORDER "A B"; fi
if test -z "${BOOT_A_LEFT}"; then setenv BOOT_A_LEFT 3; fi
if test -z "${BOOT_B_LEFT}"; then setenv BOOT_B_LEFT 3; fi
echo "boot.scr: BOOT_ORDER=${BOOT_ORDER} BOOT_A_LEFT=${BOOT_A_LEFT} BOOT_B_LEFT=${BOOT_B_LEFT}"

setenv slot
for s in ${BOOT_ORDER}; do
  if test -z "${slot}"; then
    if test "${s}" = "A" && test ${BOOT_A_LEFT} -gt 0; then
      setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
      setenv slot A
      setenv slotpart 2
    fi
    if test "${s}" = "B" && test ${BOOT_B_LEFT} -gt 0; then
      setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
      setenv slot B
      setenv slotpart 3
    fi
  fi
done

if test -z "${slot}"; then
  echo "boot.scr: no slot has tries left; all counters back to 3"
  setenv BOOT_A_LEFT 3
  setenv BOOT_B_LEFT 3
  env export -c -s ${envsize} ${envaddr} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
  fatwrite virtio ${devnum}:1 ${envaddr} uboot.env ${envsize}
  reset
fi

env export -c -s ${envsize} ${envaddr} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
fatwrite virtio ${devnum}:1 ${envaddr} uboot.env ${envsize}
echo "boot.scr: booting slot ${slot} (BOOT_A_LEFT=${BOOT_A_LEFT} BOOT_B_LEFT=${BOOT_B_LEFT})"
# The kernel is shared (boot partition); each slot's system is the initrd on its own partition.
load virtio ${devnum}:1 ${kernel_addr_r} Image
load virtio ${devnum}:${slotpart} ${ramdisk_addr_r} initrd
setenv bootargs "console=ttyAMA0 rauc.slot=${slot} panic=-1 loglevel=4"
booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
echo "boot.scr: booti failed"
reset
