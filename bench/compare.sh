#!/usr/bin/env bash
# Regression check between two builds: an A/B apply of one 1 GiB stored package by an old and a
# new binary, interleaved round by round (so a busy machine slows both alike), each timed to
# `sync`, with its peak RSS, next to `openssl dgst -sha256` of the same image.
#
#   mkdir -p /work/cmp && cd /work/cmp     # a real disk, not tmpfs
#   bench/compare.sh OLD_BINARY NEW_BINARY [ROUNDS]
#
# OLD_BINARY is e.g. a `cargo build --release` of an earlier commit in a `git worktree`.
# Inputs are made once in the current directory and reused.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,10p' "$0"; exit 2; }
OLD=$(realpath "$1") NEW=$(realpath "$2") ROUNDS=${3:-3}
D=$PWD
[ -f img.img ] || head -c $((1024<<20)) /dev/urandom > img.img
[ -f k.key ] || $NEW keygen --out k >/dev/null
[ -f pkg.zip ] || { printf 'products = ["bench"]\nversion = "2.0.0"\nrollback_index = 1\n[[image]]\npartition = "system"\nfile = "%s/img.img"\ncompression = "stored"\n' "$D" > spec.toml; $NEW pack --spec spec.toml --key k.key --out pkg.zip >/dev/null; }
mkdir -p dev/parts dev/state dev/keys; cp k.pub dev/keys/
for s in a b; do [ -f dev/parts/system_$s.img ] || fallocate -l $((1024<<20)) dev/parts/system_$s.img; done
[ -f dev/parts/misc.img ] || head -c 65536 /dev/zero > dev/parts/misc.img
cat > dev/device.toml <<T
product = "bench"
hardware_revision = "rev1"
keys = ["keys/k.pub"]
state_dir = "state"
rollback_index_file = "state/rollback_index"
[slots]
mode = "ab"
misc = "parts/misc.img"
[[partition]]
name = "system"
path = "parts/system_{slot}.img"
T
openssl dgst -sha256 pkg.zip >/dev/null; cat img.img > /dev/null
for r in $(seq "$ROUNDS"); do
  for which in old new; do
    b=$OLD; [ $which = new ] && b=$NEW
    sync; t0=$(date +%s%N)
    /usr/bin/time -f %M -o rss $b apply pkg.zip --device dev/device.toml --yes >/dev/null 2>apply.log || { cat apply.log; exit 1; }
    sync; t1=$(date +%s%N)
    echo "$which round $r: $(( (t1-t0)/1000000 )) ms, peak RSS $(cat rss) KiB"
  done
  sync; t0=$(date +%s%N); openssl dgst -sha256 img.img >/dev/null; t1=$(date +%s%N)
  echo "openssl dgst -sha256 round $r: $(( (t1-t0)/1000000 )) ms"
done
