#!/bin/busybox sh
# /init of a slot that cannot come up (scenario 2 of tests/qemu_uboot.rs): it exits at once,
# the kernel panics ("Attempted to kill init") and, with panic=-1, reboots straight into U-Boot,
# which counts the try.
exit 1
