#!/usr/bin/env bash
# Benchmark: recovery-updater `apply` against the floor (dd conv=fsync, openssl dgst -sha256) and
# against SWUpdate and RAUC, on the same images, on this machine, in one run.
# See docs/PERFORMANCE.md for what is measured and how to read the report.
#
#   bench/run.sh                 full run: 64 MiB and 1 GiB, 5 runs each (median reported)
#   bench/run.sh --smoke         seconds: 8 MiB, 1 run, everything exercised once
#   options: --sizes "64 1024"   image sizes in MiB
#            --runs N            timed runs per measurement (default 5)
#            --dir DIR           work directory (default target/bench; must be a real disk,
#                                not tmpfs, or fsync measures nothing)
#            --no-peers          skip SWUpdate and RAUC
#            --no-build          use the existing target/release binary
#            --no-install        never apt-get install missing peers (skip them instead)
#   bench/run.sh --only-formats [--size MIB --runs N ...]
#                                only the image-format cases (zstd, Android sparse):
#                                bench/formats.sh, options there
#   bench/run.sh --only-nand [--runs N --no-build --ubi-mib N]
#                                only raw NAND and UBI under nandsim in QEMU (TCG): ours next to
#                                nandwrite and ubiupdatevol in the same boot, plus one N MiB (40)
#                                UBI image (bench/nand.sh)
#   bench/run.sh --only-sideload [--runs N --no-build ...]
#                                only `adb sideload` (Debian's adb) next to `apply` of the same
#                                package (bench/sideload.sh; 1 GiB unless --sizes after it)
# The work directory must not contain spaces.
#
# Needs: bash, python3, openssl, /usr/bin/time (package `time`). Peers (installed from Debian when
# missing and running as root): swupdate, rauc, squashfs-tools, cpio, dbus. RAUC mounts its
# bundle through a loop device, so it needs root; it is skipped otherwise.
set -euo pipefail
if [ "${1:-}" = --only-formats ]; then
    shift
    exec "$(dirname "$0")/formats.sh" "$@"
fi
if [ "${1:-}" = --only-nand ] || [ "${1:-}" = --nand ]; then
    shift
    exec "$(dirname "$0")/nand.sh" "$@"
fi

REPO=$(cd "$(dirname "$0")/.." && pwd)
SIZES="64 1024"
RUNS=5
DIR="$REPO/target/bench"
PEERS=1
BUILD=1
INSTALL=1
SMOKE=0
ONLY_SIDELOAD=0
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) SMOKE=1; SIZES="8"; RUNS=1 ;;
        --sizes) SIZES="$2"; shift ;;
        --runs) RUNS="$2"; shift ;;
        --dir) DIR="$2"; shift ;;
        --no-peers) PEERS=0 ;;
        --no-build) BUILD=0 ;;
        --no-install) INSTALL=0 ;;
        --only-sideload) ONLY_SIDELOAD=1; SIZES="1024"; PEERS=0 ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

BIN="$REPO/target/release/recovery-updater"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
RESULTS="$DIR/results.tsv"
: >"$RESULTS"
T0=$(date +%s)

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------
if [ ! -x /usr/bin/time ] && [ "$INSTALL" = 1 ] && [ "$(id -u)" = 0 ] && have apt-get; then
    flock /tmp/apt.lock apt-get install -y time >"$DIR/apt.log" 2>&1 || true
fi
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install time)"
have python3 || die "python3 is missing"
have openssl || die "openssl is missing"
if [ "$PEERS" = 1 ]; then
    missing=()
    have swupdate || missing+=(swupdate)
    have rauc || missing+=(rauc)
    have mksquashfs || missing+=(squashfs-tools)
    have cpio || missing+=(cpio)
    have dbus-daemon || missing+=(dbus)
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$INSTALL" = 1 ] && [ "$(id -u)" = 0 ] && have apt-get; then
            log "installing peers from Debian: ${missing[*]}"
            flock /tmp/apt.lock apt-get install -y "${missing[@]}" >"$DIR/apt.log" 2>&1 ||
                { flock /tmp/apt.lock apt-get update >>"$DIR/apt.log" 2>&1 &&
                  flock /tmp/apt.lock apt-get install -y "${missing[@]}" >>"$DIR/apt.log" 2>&1; } ||
                die "apt-get install ${missing[*]} failed (see $DIR/apt.log)"
        else
            log "peers missing (${missing[*]}) and not installing them: skipping SWUpdate and RAUC"
            PEERS=0
        fi
    fi
fi
HAVE_SWU=0; HAVE_RAUC=0
if [ "$PEERS" = 1 ]; then
    HAVE_SWU=1
    if [ "$(id -u)" = 0 ] && [ -e /dev/loop-control ]; then HAVE_RAUC=1
    else log "RAUC needs root and loop devices: skipping it"; fi
fi

if [ "$BUILD" = 1 ]; then
    log "building the release binary"
    (cd "$REPO" && cargo build --release --quiet)
fi
[ -x "$BIN" ] || die "$BIN is missing (build it, or drop --no-build)"

# ---------------------------------------------------------------------------------------------
# Measuring: wall time from start to the end of an fsync of the written file (coreutils `sync
# FILE`), peak RSS from getrusage via /usr/bin/time (largest process of the tree).
# ---------------------------------------------------------------------------------------------
now_ns() { date +%s%N; }

# warm FILE...: the inputs are read from the page cache by every tool alike.
warm() { cat "$@" >/dev/null; }

# record NAME SIZE_MIB SECONDS RSS_KIB
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }

# measure NAME SIZE SYNC_FILE CMD...: one timed run.
measure() {
    local name=$1 size=$2 syncf=$3; shift 3
    sync
    local t0 t1
    t0=$(now_ns)
    if ! /usr/bin/time -f '%M' -o "$DIR/rss" "$@" >"$DIR/out.log" 2>&1; then
        tail -n 30 "$DIR/out.log" >&2
        die "$name failed: $*"
    fi
    # shellcheck disable=SC2086 # a list of paths (no spaces in the work directory)
    [ "$syncf" = - ] || sync $syncf
    t1=$(now_ns)
    record "$name" "$size" "$(echo "$t0 $t1" | awk '{printf "%.4f", ($2-$1)/1e9}')" \
        "$(tail -n 1 "$DIR/rss")"
}

# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------
K="$DIR/keys"
mkdir -p "$K"
[ -f "$K/bench.key" ] || "$BIN" keygen --out "$K/bench" >/dev/null 2>&1
if [ "$PEERS" = 1 ] && [ ! -f "$K/peer.cert.pem" ]; then
    # One self-signed signer for SWUpdate (CMS over sw-description) and RAUC (CMS over the bundle).
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$K/peer.key.pem" -out "$K/peer.cert.pem" \
        -days 3650 -subj "/O=bench/CN=bench-signer" >/dev/null 2>&1
fi

# make_images SIZE: random (incompressible) and compressible images of SIZE MiB.
make_images() {
    local size=$1 d="$DIR/img"
    mkdir -p "$d"
    [ -f "$d/random_$size.img" ] ||
        head -c "$((size << 20))" /dev/urandom >"$d/random_$size.img"
    # Compressible like a filesystem image: half of the 4 KiB blocks empty, the rest a mix of
    # text-like and random data.
    [ -f "$d/compressible_$size.img" ] || python3 - "$d/compressible_$size.img" "$size" <<'EOF'
import os, sys
path, size = sys.argv[1], int(sys.argv[2]) << 20
words = b"the quick brown fox jumps over the lazy dog 0123456789 lib bin etc usr share "
text = (words * (4096 // len(words) + 1))[:4096]
with open(path, "wb") as f:
    left, i = size, 0
    while left > 0:
        kind = i % 4
        blk = bytes(4096) if kind in (1, 3) else (text if kind == 0 else os.urandom(4096))
        f.write(blk[:left])
        left -= 4096
        i += 1
EOF
}

# pack_ours KIND SIZE COMPRESSION -> $DIR/pkg/KIND_SIZE.zip
pack_ours() {
    local kind=$1 size=$2 comp=$3 d="$DIR/pkg"
    mkdir -p "$d"
    local out="$d/${kind}_$size.zip"
    [ -f "$out" ] && return
    cat >"$d/${kind}_$size.toml" <<EOF
products = ["bench"]
version = "2.0.0"
rollback_index = 1
[[image]]
partition = "system"
file = "$DIR/img/${kind}_$size.img"
compression = "$comp"
EOF
    "$BIN" pack --spec "$d/${kind}_$size.toml" --key "$K/bench.key" --out "$out" >/dev/null
}

# make_device NAME MODE SIZE: a file-backed device whose partition fits SIZE MiB.
make_device() {
    local name=$1 mode=$2 size=$3 d="$DIR/dev/$1"
    mkdir -p "$d/parts" "$d/state" "$d/keys"
    cp "$K/bench.pub" "$d/keys/bench.pub"
    echo 0 >"$d/state/rollback_index"
    local slots parts
    if [ "$mode" = ab ]; then
        for s in a b; do
            [ -f "$d/parts/system_$s.img" ] || fallocate -l "$((size << 20))" "$d/parts/system_$s.img"
        done
        [ -f "$d/parts/misc.img" ] || head -c 65536 /dev/zero >"$d/parts/misc.img"
        slots=$'[slots]\nmode = "ab"\nmisc = "parts/misc.img"'
        parts='path = "parts/system_{slot}.img"'
    else
        [ -f "$d/parts/system.img" ] || fallocate -l "$((size << 20))" "$d/parts/system.img"
        slots=$'[slots]\nmode = "single"'
        parts='path = "parts/system.img"'
    fi
    cat >"$d/device.toml" <<EOF
product = "bench"
hardware_revision = "rev1"
keys = ["keys/bench.pub"]
state_dir = "state"
rollback_index_file = "state/rollback_index"

$slots

[[partition]]
name = "system"
$parts
EOF
}

# ---------------------------------------------------------------------------------------------
# Peers
# ---------------------------------------------------------------------------------------------
# SWUpdate: a .swu (cpio, newc+crc) with a CMS-signed libconfig sw-description; one raw image,
# streamed straight into the slot file (installed-directly), sha256 checked by SWUpdate.
make_swu() {
    local kind=$1 size=$2 d="$DIR/swu/${1}_$2"
    [ -f "$d/update.swu" ] && return
    mkdir -p "$d"
    local img="$DIR/img/${kind}_$size.img" file=rootfs.img comp=""
    if [ "$kind" = compressible ]; then
        gzip -6 -c "$img" >"$d/rootfs.img.gz"; file=rootfs.img.gz; comp='compressed = "zlib";'
    else
        ln -f "$img" "$d/rootfs.img"
    fi
    fallocate -l "$((size << 20))" "$d/slot.img"
    cat >"$d/sw-description" <<EOF
software =
{
	version = "2.0.0";
	hardware-compatibility: [ "1.0" ];
	images: (
		{
			filename = "$file";
			device = "$d/slot.img";
			type = "raw";
			installed-directly = true;
			$comp
			sha256 = "$(sha256sum "$d/$file" | cut -d' ' -f1)";
		}
	);
}
EOF
    openssl cms -sign -in "$d/sw-description" -out "$d/sw-description.sig" \
        -signer "$K/peer.cert.pem" -inkey "$K/peer.key.pem" -outform DER -nosmimecap -binary
    (cd "$d" && printf '%s\n' sw-description sw-description.sig "$file" |
        cpio -o -H crc --quiet >update.swu)
}

# RAUC: a plain bundle (squashfs + CMS signature), raw slots backed by files, noop bootloader,
# the service on a private D-Bus. RAUC compresses no image by itself: the bundle's squashfs is
# (gzip by default); COMP (e.g. zstd) picks mksquashfs' compressor instead.
make_rauc() {
    local kind=$1 size=$2 comp=${3:-} d="$DIR/rauc/${1}${3:+-$3}_$2"
    [ -f "$d/update.raucb" ] && return
    mkdir -p "$d/content" "$d/data" "$d/mnt"
    ln -f "$DIR/img/${kind}_$size.img" "$d/content/rootfs.img"
    cat >"$d/content/manifest.raucm" <<EOF
[update]
compatible=bench
version=2.0.0

[bundle]
format=plain

[image.rootfs]
filename=rootfs.img
EOF
    for s in a b; do fallocate -l "$((size << 20))" "$d/slot_$s.img"; done
    cat >"$d/system.conf" <<EOF
[system]
compatible=bench
bootloader=noop
data-directory=$d/data

[keyring]
path=$K/peer.cert.pem

[slot.rootfs.0]
device=$d/slot_a.img
type=raw
bootname=A

[slot.rootfs.1]
device=$d/slot_b.img
type=raw
bootname=B
EOF
    rauc bundle --cert="$K/peer.cert.pem" --key="$K/peer.key.pem" \
        ${comp:+--mksquashfs-args="-comp $comp"} "$d/content" \
        "$d/update.raucb" >"$d/bundle.log" 2>&1 || { cat "$d/bundle.log" >&2; die "rauc bundle"; }
}

DBUS_PID=""
cleanup() {
    [ -n "${RAUC_PID:-}" ] && kill "$RAUC_PID" 2>/dev/null || true
    [ -n "$DBUS_PID" ] && kill "$DBUS_PID" 2>/dev/null || true
}
trap cleanup EXIT

start_bus() {
    [ -n "$DBUS_PID" ] && return
    dbus-daemon --session --fork --nopidfile --print-address=3 --print-pid=4 \
        3>"$DIR/dbus.addr" 4>"$DIR/dbus.pid"
    DBUS_PID=$(cat "$DIR/dbus.pid")
    # RAUC's client and service use the system bus: point it at the private one.
    export DBUS_SYSTEM_BUS_ADDRESS
    DBUS_SYSTEM_BUS_ADDRESS=$(head -n 1 "$DIR/dbus.addr")
    export DBUS_SESSION_BUS_ADDRESS=$DBUS_SYSTEM_BUS_ADDRESS
}

# One RAUC install: a fresh service (its peak RSS, VmHWM, is the install's: the client only
# asks it over D-Bus), timed from `rauc install` to the fsync of the slot written.
measure_rauc() {
    local kind=$1 size=$2 comp=${3:-} d="$DIR/rauc/${1}${3:+-$3}_$2"
    start_bus
    rauc --conf="$d/system.conf" --mount="$d/mnt" service --override-boot-slot=A \
        >"$DIR/rauc-service.log" 2>&1 &
    RAUC_PID=$!
    local i
    for i in $(seq 100); do
        # (in a subshell: the client aborts while the service is not up yet; keep that quiet)
        (rauc status >/dev/null 2>&1) 2>/dev/null && break
        sleep 0.1
    done
    sync
    local t0 t1 rss
    t0=$(now_ns)
    if ! rauc install "$d/update.raucb" >"$DIR/out.log" 2>&1; then
        cat "$DIR/out.log" "$DIR/rauc-service.log" | tail -n 30 >&2
        die "rauc install failed"
    fi
    sync "$d/slot_b.img"
    t1=$(now_ns)
    rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$RAUC_PID/status")
    kill "$RAUC_PID"
    wait "$RAUC_PID" 2>/dev/null || true
    RAUC_PID=""
    cmp -s "$d/slot_b.img" "$DIR/img/${kind}_$size.img" || die "RAUC did not write the image"
    record "rauc${comp:+_$comp}_ab_$kind" "$size" "$(echo "$t0 $t1" | awk '{printf "%.4f", ($2-$1)/1e9}')" "$rss"
}

# ---------------------------------------------------------------------------------------------
# The runs
# ---------------------------------------------------------------------------------------------
if [ "$ONLY_SIDELOAD" = 1 ]; then
    # shellcheck source=bench/sideload.sh
    . "$REPO/bench/sideload.sh"
    exit 0
fi
# Startup proxy (the TUI's first screen is drawn by a later binary): `--version` and `codes`.
for i in $(seq $((SMOKE ? 3 : 21))); do
    measure start_version 0 - "$BIN" --version
    measure start_codes 0 - "$BIN" codes
done

for size in $SIZES; do
    log "size $size MiB: preparing images and packages"
    make_images "$size"
    pack_ours random "$size" stored
    pack_ours compressible "$size" deflate
    make_device "ab_$size" ab "$size"
    make_device "single_$size" single "$size"
    if [ "$HAVE_SWU" = 1 ]; then make_swu random "$size"; make_swu compressible "$size"; fi
    if [ "$HAVE_RAUC" = 1 ]; then
        make_rauc random "$size"; make_rauc compressible "$size"
        # The compressible image in a zstd squashfs: RAUC's only way to zstd.
        make_rauc compressible "$size" zstd
    fi
    dd_slot="$DIR/dev/dd_slot_$size.img"
    log "size $size MiB: $RUNS timed run(s) of each"
    for r in $(seq "$RUNS"); do
        for kind in random compressible; do
            img="$DIR/img/${kind}_$size.img"
            pkg="$DIR/pkg/${kind}_$size.zip"
            warm "$img"
            measure "dd_$kind" "$size" "$dd_slot" dd if="$img" of="$dd_slot" bs=4M conv=fsync
            # The same without truncating (the slot's blocks stay allocated, as for a partition).
            measure "ddnotrunc_$kind" "$size" "$dd_slot" \
                dd if="$img" of="$dd_slot" bs=4M conv=fsync,notrunc
            warm "$img"
            measure "openssl_$kind" "$size" - openssl dgst -sha256 "$img"
            warm "$pkg"
            # The target slot alternates: fsync both (the untouched one has nothing dirty).
            parts="$DIR/dev/ab_$size/parts"
            measure "ours_ab_$kind" "$size" "$parts/system_a.img $parts/system_b.img" \
                "$BIN" apply "$pkg" --device "$DIR/dev/ab_$size/device.toml" --yes
            cmp -s "$parts/system_a.img" "$img" || cmp -s "$parts/system_b.img" "$img" ||
                die "A/B apply did not write the image"
            warm "$pkg"
            measure "ours_inplace_$kind" "$size" "$DIR/dev/single_$size/parts/system.img" \
                "$BIN" apply "$pkg" --device "$DIR/dev/single_$size/device.toml" --yes
            if [ "$HAVE_SWU" = 1 ]; then
                sd="$DIR/swu/${kind}_$size"
                warm "$sd/update.swu"
                measure "swupdate_ab_$kind" "$size" "$sd/slot.img" \
                    swupdate -i "$sd/update.swu" -k "$K/peer.cert.pem" -H bench:1.0 -M -m -l 3
                cmp -s "$sd/slot.img" "$img" || die "SWUpdate did not write the image"
            fi
            if [ "$HAVE_RAUC" = 1 ]; then
                warm "$DIR/rauc/${kind}_$size/update.raucb"
                measure_rauc "$kind" "$size"
                if [ "$kind" = compressible ]; then
                    warm "$DIR/rauc/${kind}-zstd_$size/update.raucb"
                    measure_rauc "$kind" "$size" zstd
                fi
            fi
        done
    done
done

log "done in $(( $(date +%s) - T0 )) s; raw results in $RESULTS"
python3 "$REPO/bench/report.py" "$RESULTS" "$RUNS"
