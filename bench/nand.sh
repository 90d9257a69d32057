#!/usr/bin/env bash
# Benchmark of raw NAND and UBI under nandsim (issue 13, "NAND and UBI"): runs the QEMU proof
# tests/qemu_nand.rs, whose first boot times, in one boot of Debian's kernel (TCG),
#   ours          `recovery-updater apply` of a package with a raw image (1 MiB + 3000 B, to
#                 mtd0 over factory bad block 5) and a UBI image (8 MiB, volume update of
#                 rootfs_b), verification included (hashing, MTD read-back, no update marker);
#   nandwrite     flash_erase + nandwrite -p of the same raw image (no read-back);
#   ubiupdatevol  ubiupdatevol of the same UBI image (no read-back);
#   sha256sum     one hash pass over both images;
#   ours_ubi      `apply` of a package with the UBI image only (A/B, no in-place partition, so
#                 no verification pass before writing; switch in a U-Boot environment on mtd1);
#   sha256sum_ubi one hash pass over the UBI image;
#   swupdate_ubi  the peer: Debian's SWUpdate (binary and every library ldd lists, put into the
#                 initramfs) writing the same UBI image with its `ubivol` handler from a signed
#                 .swu (when swupdate and cpio are installed; --no-peers skips it);
# and prints the BENCH lines. This script runs it RUNS times and prints the medians as a table,
# with the machine's load before and after. Run through `bench/run.sh --only-nand [options]`.
#
#   options: --runs N     QEMU runs (default 3, median reported)
#            --dir DIR    where the logs go (default target/bench-nand)
#            --no-build   use the existing static musl binary
#            --no-peers   leave SWUpdate out
#            --ubi-mib N  also time a UBI image of N MiB (1-48, default 40; 0: none): ours,
#                         ubiupdatevol and one hash pass, after the small cases, in the same boot
# Needs what tests/qemu_nand.rs needs (qemu-system-x86, mtd-utils, busybox-static, dosfstools,
# mtools, libubootenv-tool, python3) and the kernel from recovery/fetch-kernel.sh (fetched when
# missing).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=3
DIR="$REPO/target/bench-nand"
BUILD=1
PEERS=1
UBI_MIB=40
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS="$2"; shift ;;
        --dir) DIR="$2"; shift ;;
        --no-build) BUILD=0 ;;
        --no-peers) PEERS=0 ;;
        --ubi-mib) UBI_MIB="$2"; shift ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
log() { printf '[bench-nand %s] %s\n' "$(date +%T)" "$*" >&2; }
mkdir -p "$DIR"
cd "$REPO"
if [ "$BUILD" = 1 ]; then
    log "building the static musl binary (the guest runs it)"
    cargo build --release --target x86_64-unknown-linux-musl --quiet
fi
ls recovery/.cache/kernel/boot/vmlinuz-* >/dev/null 2>&1 || recovery/fetch-kernel.sh >&2
if [ "$PEERS" = 1 ]; then
    if command -v swupdate >/dev/null && command -v cpio >/dev/null; then
        # tests/qemu_nand.rs then puts SWUpdate into the guest (see swupdate_peer there).
        export NAND_BENCH_SWUPDATE=1
    else
        log "swupdate or cpio missing (apt-get install swupdate cpio): no peer"
    fi
fi
# tests/qemu_nand.rs then adds pkg/bench.img and pkg/update-bench.zip (see bench_image there).
[ "$UBI_MIB" = 0 ] || export NAND_BENCH_UBI_MIB="$UBI_MIB"
load_before=$(uptime | sed 's/.*load average: //')
: >"$DIR/bench.tsv"
for i in $(seq "$RUNS"); do
    log "run $i of $RUNS (QEMU, TCG)"
    cargo test --quiet --test qemu_nand -- --ignored --nocapture >"$DIR/run$i.log" 2>&1 ||
        { tail -n 40 "$DIR/run$i.log" >&2; log "qemu_nand failed (log: $DIR/run$i.log)"; exit 1; }
    # "BENCH NAME SECONDS s (...)": the console copy and the test's own copy; the first counts.
    grep '^BENCH ' "$DIR/run$i.log" | awk -v run="$i" '!seen[$2]++ {print run "\t" $2 "\t" $3}' \
        >>"$DIR/bench.tsv"
done
load_after=$(uptime | sed 's/.*load average: //')
python3 - "$DIR/bench.tsv" "$RUNS" "$load_before" "$load_after" <<'PY'
import os, statistics, sys
path, runs, before, after = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = {}
for line in open(path):
    _, name, secs = line.split("\t")
    t.setdefault(name, []).append(float(secs))
m = {k: statistics.median(v) for k, v in t.items()}
for k in ("ours", "nandwrite", "ubiupdatevol", "sha256sum", "ours_ubi", "sha256sum_ubi"):
    if k not in m:
        sys.exit(f"no BENCH {k} line in the runs")
tools = m["nandwrite"] + m["ubiupdatevol"]
print(f"nandsim under QEMU TCG, median of {runs} runs (each: {', '.join(f'{k}={v}' for k, v in t.items())})")
print(f"load average before: {before}; after: {after}")
print()
print("| case (raw 1 MiB + 3000 B over a bad block, UBI 8 MiB) | seconds | vs nandwrite + ubiupdatevol |")
print("|---|---|---|")
print(f"| recovery-updater apply (verified: hashes, MTD read-back, upd_marker) | {m['ours']:.2f} | {m['ours'] / tools:.2f}x |")
print(f"| flash_erase + nandwrite -p (no read-back) | {m['nandwrite']:.2f} | |")
print(f"| ubiupdatevol (no read-back) | {m['ubiupdatevol']:.2f} | |")
print(f"| nandwrite + ubiupdatevol | {tools:.2f} | 1.00x |")
print(f"| nandwrite + ubiupdatevol + sha256sum of both | {tools + m['sha256sum']:.2f} | {(tools + m['sha256sum']) / tools:.2f}x |")
print(f"| ours / (tools + one hash pass) | | {m['ours'] / (tools + m['sha256sum']):.2f}x |")
print()
print("| case (UBI 8 MiB only, A/B) | seconds | vs ubiupdatevol |")
print("|---|---|---|")
print(f"| recovery-updater apply (verified, switch in the U-Boot env on NAND) | {m['ours_ubi']:.2f} | {m['ours_ubi'] / m['ubiupdatevol']:.2f}x |")
print(f"| ubiupdatevol (no read-back) | {m['ubiupdatevol']:.2f} | 1.00x |")
print(f"| ubiupdatevol + sha256sum of the image | {m['ubiupdatevol'] + m['sha256sum_ubi']:.2f} | {(m['ubiupdatevol'] + m['sha256sum_ubi']) / m['ubiupdatevol']:.2f}x |")
print(f"| ours / (ubiupdatevol + one hash pass) | | {m['ours_ubi'] / (m['ubiupdatevol'] + m['sha256sum_ubi']):.2f}x |")
if "swupdate_ubi" in m:
    print(f"| SWUpdate ubivol handler (signed .swu, sha256 checked) | {m['swupdate_ubi']:.2f} | {m['swupdate_ubi'] / m['ubiupdatevol']:.2f}x |")
    print(f"| ours / SWUpdate | | {m['ours_ubi'] / m['swupdate_ubi']:.2f}x |")
if "big_ours_ubi" in m:
    big = m["big_ubiupdatevol"] + m["big_sha256sum"]
    print()
    print(f"| case (UBI {os.environ.get('NAND_BENCH_UBI_MIB')} MiB only, A/B) | seconds | vs ubiupdatevol |")
    print("|---|---|---|")
    print(f"| recovery-updater apply (verified, switch in the U-Boot env on NAND) | {m['big_ours_ubi']:.2f} | {m['big_ours_ubi'] / m['big_ubiupdatevol']:.2f}x |")
    print(f"| ubiupdatevol (no read-back) | {m['big_ubiupdatevol']:.2f} | 1.00x |")
    print(f"| ubiupdatevol + sha256sum of the image | {big:.2f} | {big / m['big_ubiupdatevol']:.2f}x |")
    print(f"| ours / (ubiupdatevol + one hash pass) | | {m['big_ours_ubi'] / big:.2f}x |")
PY
