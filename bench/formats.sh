#!/usr/bin/env bash
# Benchmark of the image formats (issue 13, "Performance"): A/B apply of the same compressible
# image stored, deflated and zstd-compressed (with the package sizes), next to
# `openssl dgst -sha256` and `zstd -d` of the same data; and an Android sparse image of SIZE MiB
# holding SIZE/10 MiB of data (RAW chunks between DONT_CARE gaps) against a raw image of that
# SIZE/10 MiB. Run through `bench/run.sh --only-formats [options]`.
#
#   options: --size MIB   image size (default 1024; the sparse image holds MIB/10 of data)
#            --runs N     timed runs per case (default 3, median reported)
#            --dir DIR    work directory (default target/bench-formats; a real disk, not tmpfs)
#            --no-build   use the existing target/release binary
#            --bin PATH   use this binary (e.g. the static musl build); implies --no-build
#            --no-peers   skip SWUpdate
# Needs: python3, openssl, zstd, /usr/bin/time. Prints a Markdown table. With Debian's swupdate
# installed (bench/run.sh installs it), also SWUpdate's raw handler on the same compressible
# image stored, zlib- and zstd-compressed (`compressed = "zlib"|"zstd";` in sw-description),
# written to a slot file, fsynced.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
SIZE=1024
RUNS=3
DIR="$REPO/target/bench-formats"
BUILD=1
PEERS=1
BIN="$REPO/target/release/recovery-updater"
while [ $# -gt 0 ]; do
    case "$1" in
        --size) SIZE="$2"; shift ;;
        --runs) RUNS="$2"; shift ;;
        --dir) DIR="$2"; shift ;;
        --no-build) BUILD=0 ;;
        --bin) BIN="$2"; BUILD=0; shift ;;
        --no-peers) PEERS=0 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
log() { printf '[bench-formats %s] %s\n' "$(date +%T)" "$*" >&2; }
for t in python3 openssl zstd; do
    command -v "$t" >/dev/null || { log "$t is missing"; exit 1; }
done
if [ "$BUILD" = 1 ]; then
    log "building the release binary"
    (cd "$REPO" && cargo build --release --quiet)
fi
# One subdirectory per size: inputs are made once and reused by later runs of that size.
mkdir -p "$DIR/$SIZE"
DIR=$(cd "$DIR/$SIZE" && pwd)
DATA=$((SIZE / 10))
[ -f "$DIR/bench.key" ] || "$BIN" keygen --out "$DIR/bench" >/dev/null 2>&1

# Inputs: a compressible image (bench/run.sh's recipe: half the 4 KiB blocks empty, the rest
# text-like or random), a raw image of DATA MiB, and a sparse image of SIZE MiB made by hand from
# that raw image: ten RAW runs of DATA/10 MiB, each followed by a DONT_CARE gap.
python3 - "$DIR" "$SIZE" "$DATA" <<'PY'
import os, struct, sys
d, size, data = sys.argv[1], int(sys.argv[2]) << 20, int(sys.argv[3]) << 20
words = b"the quick brown fox jumps over the lazy dog 0123456789 lib bin etc usr share "
text = (words * (4096 // len(words) + 1))[:4096]
p = f"{d}/compressible.img"
if not os.path.exists(p):
    with open(p, "wb") as f:
        for i in range(size // 4096):
            k = i % 4
            f.write(bytes(4096) if k in (1, 3) else (text if k == 0 else os.urandom(4096)))
raw = f"{d}/raw.img"
if not os.path.exists(raw):
    with open(raw, "wb") as f:
        f.write(os.urandom(data))
sp = f"{d}/sparse.simg"
if not os.path.exists(sp):
    blk, runs = 4096, 10
    run_blks, total = data // blk // runs, size // blk
    gap = (total - run_blks * runs) // runs
    chunks = []
    with open(raw, "rb") as r:
        for i in range(runs):
            chunks.append((0xCAC1, run_blks, r.read(run_blks * blk)))
            g = gap if i < runs - 1 else total - run_blks * runs - gap * (runs - 1)
            chunks.append((0xCAC3, g, b""))
    with open(sp, "wb") as f:
        f.write(struct.pack("<IHHHHIIII", 0xED26FF3A, 1, 0, 28, 12, blk, total, len(chunks), 0))
        for kind, n, body in chunks:
            f.write(struct.pack("<HHII", kind, 0, n, 12 + len(body)))
            f.write(body)
PY

pack() { # NAME FILE COMPRESSION
    [ -f "$DIR/$1.zip" ] && return
    printf 'products = ["bench"]\nversion = "2.0.0"\nrollback_index = 1\n[[image]]\npartition = "system"\nfile = "%s"\ncompression = "%s"\n' \
        "$2" "$3" >"$DIR/$1.toml"
    "$BIN" pack --spec "$DIR/$1.toml" --key "$DIR/bench.key" --out "$DIR/$1.zip" >/dev/null
}
pack stored "$DIR/compressible.img" stored
pack deflate "$DIR/compressible.img" deflate
pack zstd "$DIR/compressible.img" zstd
pack raw "$DIR/raw.img" stored
pack sparse "$DIR/sparse.simg" stored
[ -f "$DIR/compressible.img.zst" ] || zstd -q -3 -f "$DIR/compressible.img" -o "$DIR/compressible.img.zst"

# An A/B file-backed device with SIZE MiB slots.
dev="$DIR/dev"
mkdir -p "$dev/parts" "$dev/state" "$dev/keys"
cp "$DIR/bench.pub" "$dev/keys/"
for s in a b; do [ -f "$dev/parts/system_$s.img" ] || fallocate -l "$((SIZE << 20))" "$dev/parts/system_$s.img"; done
[ -f "$dev/parts/misc.img" ] || head -c 65536 /dev/zero >"$dev/parts/misc.img"
cat >"$dev/device.toml" <<EOF
product = "bench"
hardware_revision = "rev1"
keys = ["keys/bench.pub"]
state_dir = "state"
rollback_index_file = "state/rollback_index"
[slots]
mode = "ab"
misc = "parts/misc.img"
[[partition]]
name = "system"
path = "parts/system_{slot}.img"
EOF

# time_median CMD...: median wall seconds of RUNS runs (inputs warm in the page cache; the
# written slot is fsynced by apply itself).
time_median() {
    local ts=()
    for _ in $(seq "$RUNS"); do
        echo 0 >"$dev/state/rollback_index"
        sync
        local t0 t1
        t0=$(date +%s%N)
        "$@" >"$DIR/out.log" 2>&1 || { tail -n 20 "$DIR/out.log" >&2; exit 1; }
        t1=$(date +%s%N)
        ts+=("$(echo "$t0 $t1" | awk '{printf "%.3f", ($2-$1)/1e9}')")
    done
    printf '%s\n' "${ts[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
apply() { "$BIN" apply "$1" --device "$dev/device.toml" --yes; }
size_mib() { stat -c %s "$1" | awk '{printf "%.1f", $1/1048576}'; }

# SWUpdate (Debian's build links libzstd and registers the raw handler): one .swu per
# compression of the compressible image, CMS-signed, streamed into a slot file of SIZE MiB.
command -v swupdate >/dev/null || { [ "$PEERS" = 0 ] || log "swupdate missing: skipping it"; PEERS=0; }
swu="$DIR/swu"
if [ "$PEERS" = 1 ]; then
    mkdir -p "$swu"
    [ -f "$swu/cert.pem" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout "$swu/key.pem" \
        -out "$swu/cert.pem" -days 3650 -subj "/O=bench/CN=bench-signer" >/dev/null 2>&1
    [ -f "$swu/slot.img" ] || fallocate -l "$((SIZE << 20))" "$swu/slot.img"
    for c in stored zlib zstd; do
        d="$swu/$c"
        [ -f "$d/update.swu" ] && continue
        mkdir -p "$d"
        case $c in
            stored) file=rootfs.img; comp=""; ln -f "$DIR/compressible.img" "$d/$file" ;;
            zlib) file=rootfs.img.gz; comp='compressed = "zlib";'
                gzip -6 -c "$DIR/compressible.img" >"$d/$file" ;;
            zstd) file=rootfs.img.zst; comp='compressed = "zstd";'
                ln -f "$DIR/compressible.img.zst" "$d/$file" ;;
        esac
        cat >"$d/sw-description" <<EOF
software =
{
	version = "2.0.0";
	hardware-compatibility: [ "1.0" ];
	images: (
		{
			filename = "$file";
			device = "$swu/slot.img";
			type = "raw";
			installed-directly = true;
			$comp
			sha256 = "$(sha256sum "$d/$file" | cut -d' ' -f1)";
		}
	);
}
EOF
        openssl cms -sign -in "$d/sw-description" -out "$d/sw-description.sig" \
            -signer "$swu/cert.pem" -inkey "$swu/key.pem" -outform DER -nosmimecap -binary
        (cd "$d" && printf '%s\n' sw-description sw-description.sig "$file" |
            cpio -o -H crc --quiet >update.swu)
    done
fi
# SWUpdate's install, then an fsync of the slot file (apply fsyncs its slot itself).
swu_apply() {
    swupdate -i "$1" -k "$swu/cert.pem" -H bench:1.0 -M -m -l 3 && sync "$swu/slot.img"
}

for f in "$DIR"/*.zip "$DIR"/*.img "$DIR"/*.simg "$DIR"/*.zst; do cat "$f" >/dev/null; done
log "timing ($RUNS runs each, $SIZE MiB)"
t_sha=$(time_median openssl dgst -sha256 "$DIR/compressible.img")
t_zstdcli=$(time_median zstd -q -d -c "$DIR/compressible.img.zst")
t_stored=$(time_median apply "$DIR/stored.zip")
t_deflate=$(time_median apply "$DIR/deflate.zip")
t_zstd=$(time_median apply "$DIR/zstd.zip")
t_raw=$(time_median apply "$DIR/raw.zip")
t_sparse=$(time_median apply "$DIR/sparse.zip")
if [ "$PEERS" = 1 ]; then
    for c in stored zlib zstd; do
        cat "$swu/$c/update.swu" >/dev/null
        eval "t_swu_$c=\$(time_median swu_apply \"\$swu/\$c/update.swu\")"
        cmp -s "$swu/slot.img" "$DIR/compressible.img" || { log "SWUpdate ($c) did not write the image"; exit 1; }
    done
fi
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a/b}'; }
cat <<EOF
| case ($SIZE MiB compressible image, A/B apply) | seconds | vs stored | package MiB |
|---|---|---|---|
| openssl dgst -sha256 (floor) | $t_sha | $(ratio "$t_sha" "$t_stored") | |
| stored | $t_stored | 1.00x | $(size_mib "$DIR/stored.zip") |
| deflate | $t_deflate | $(ratio "$t_deflate" "$t_stored") | $(size_mib "$DIR/deflate.zip") |
| zstd (level 3) | $t_zstd | $(ratio "$t_zstd" "$t_stored") | $(size_mib "$DIR/zstd.zip") |
| zstd -d -c (CLI, level 3 file) | $t_zstdcli | $(ratio "$t_zstdcli" "$t_stored") | $(size_mib "$DIR/compressible.img.zst") |
EOF
if [ "$PEERS" = 1 ]; then
    cat <<EOF
| SWUpdate raw handler, stored | $t_swu_stored | $(ratio "$t_swu_stored" "$t_stored") | $(size_mib "$swu/stored/update.swu") |
| SWUpdate raw handler, zlib (gzip -6) | $t_swu_zlib | $(ratio "$t_swu_zlib" "$t_stored") | $(size_mib "$swu/zlib/update.swu") |
| SWUpdate raw handler, zstd (level 3) | $t_swu_zstd | $(ratio "$t_swu_zstd" "$t_stored") | $(size_mib "$swu/zstd/update.swu") |
EOF
fi
cat <<EOF

| case (A/B apply) | seconds | vs raw $DATA MiB |
|---|---|---|
| raw $DATA MiB image, stored | $t_raw | 1.00x |
| sparse $SIZE MiB holding $DATA MiB (DONT_CARE gaps, left) | $t_sparse | $(ratio "$t_sparse" "$t_raw") |
EOF
