#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (CI: about a minute each).
#
#   fuzz/run.sh                 # every target, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=1800 fuzz/run.sh zip_archive keys
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). Findings are
# written to fuzz/artifacts/<target>/ and make this script fail; the corpus grows in
# fuzz/corpus/<target>/ (both ignored by git). A finding becomes a test in tests/corpus.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(zip_archive manifest keys profile boot_control uboot_env)
fi

# Seeds: real inputs the project makes, so the fuzzer starts from valid structure.
seed_dir=fuzz/corpus
mkdir -p "$seed_dir"/{zip_archive,manifest,keys,profile,boot_control,uboot_env}
if [ ! -e "$seed_dir/.seeded" ]; then
  cargo build -q
  bin=target/debug/recovery-updater
  tmp=$(mktemp -d)
  "$bin" keygen --algorithm ecdsa-p256 --out "$tmp/k" >/dev/null
  "$bin" keygen --algorithm ed25519 --out "$tmp/e" >/dev/null
  cp "$tmp/k.pub" "$tmp/e.pub" "$seed_dir/keys/"
  head -c 3000 /dev/urandom > "$tmp/boot.img"
  printf 'products = ["demo-phone"]\nversion = "1.0"\nrollback_index = 1\n[[image]]\npartition = "boot"\nfile = "boot.img"\ncompression = "deflate"\nchunk_size = 4096\n' > "$tmp/spec.toml"
  "$bin" pack --spec "$tmp/spec.toml" --key "$tmp/k.key" --out "$seed_dir/zip_archive/seed.zip" >/dev/null
  if command -v unzip >/dev/null; then
    unzip -p "$seed_dir/zip_archive/seed.zip" META-INF/update/manifest.json > "$seed_dir/manifest/seed.json" || true
  fi
  "$bin" demo --dir "$tmp/demo" --prepare-only >/dev/null 2>&1 || true
  find "$tmp/demo" -name '*.toml' -size -16k -exec cp {} "$seed_dir/profile/" \; 2>/dev/null || true
  printf '_a\0\0BCAB\x01\x02\0\0\x7f\0\x7f\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' > "$seed_dir/boot_control/seed"
  rm -rf "$tmp"
  touch "$seed_dir/.seeded"
fi
# A valid single-copy U-Boot environment (selector byte 0, CRC-32, key=value pairs), 1 KiB.
[ -e "$seed_dir/uboot_env/seed" ] || python3 -c '
import struct, sys, zlib
d = b"BOOT_ORDER=A B\0BOOT_A_LEFT=3\0BOOT_B_LEFT=3\0bootcmd=run distro_bootcmd\0\0".ljust(1024, b"\0")
sys.stdout.buffer.write(b"\0" + struct.pack("<I", zlib.crc32(d)) + d)' > "$seed_dir/uboot_env/seed"

status=0
for t in "${targets[@]}"; do
  echo "== fuzz $t for ${seconds}s"
  if ! cargo +nightly fuzz run "$t" "$seed_dir/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1; then
    echo "fuzz target $t FAILED: see fuzz/artifacts/$t/"
    status=1
  fi
done
exit $status
