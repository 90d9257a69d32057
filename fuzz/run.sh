#!/usr/bin/env bash
# Fuzzing, in two modes (README "Fuzzing").
#
#   fuzz/run.sh ci [targets]        # what .ci/run runs: deterministic
#   fuzz/run.sh explore [targets]   # exploratory, FUZZ_SECONDS (default 600) per target
#
# ci: for every target, (1) replays every committed regression input in
#     fuzz/regressions/<target>/ (each must pass), then (2) fuzzes from a corpus of those same
#     committed files plus fixed seeds written here byte for byte, with a fixed seed
#     (FUZZ_CI_SEED, default 1) and a fixed number of runs (FUZZ_CI_RUNS, default 150000), not a
#     time limit. The same tree gives the same result on every run and every machine, so a new
#     finding cannot fail an unrelated change one day and pass it the next.
# explore: long random fuzzing (a new random seed each run) growing fuzz/corpus/<target>/ (not
#     committed). A finding lands in fuzz/artifacts/<target>/ and fails the run; copy it to
#     fuzz/regressions/<target>/<name> (committed) and add a test for the fix, so `ci` replays it
#     from then on.
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
set -euo pipefail
cd "$(dirname "$0")/.."

all=(zip_archive manifest keys profile boot_control uboot_env sparse)
mode="${1:-}"
case "$mode" in
  ci | explore) shift ;;
  *)
    echo "usage: fuzz/run.sh ci|explore [target...]" >&2
    exit 2
    ;;
esac
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all[@]}")

# Fixed seeds: small valid inputs of each format, written byte for byte (no keys or data made
# at run time), so the fuzzer starts from real structure. Regression inputs are seeds too.
write_seeds() {
  local d="$1" t="$2"
  case "$t" in
    uboot_env)
      # A valid single-copy U-Boot environment (selector byte 0, CRC-32, key=value pairs), 1 KiB.
      python3 -c '
import struct, sys, zlib
d = b"BOOT_ORDER=A B\0BOOT_A_LEFT=3\0BOOT_B_LEFT=3\0bootcmd=run distro_bootcmd\0\0".ljust(1024, b"\0")
sys.stdout.buffer.write(b"\0" + struct.pack("<I", zlib.crc32(d)) + d)' >"$d/seed-single"
      ;;
    sparse)
      # Android sparse images (libsparse's layout, src/package/sparse/header.rs) with 16-byte
      # blocks: every chunk type, a CRC32 chunk over the output so far, and a 40-byte header.
      python3 -c '
import struct, sys, zlib
d = sys.argv[1]
def img(blk, total, chunks, extra=0):
    out = struct.pack("<IHHHHIIII", 0xED26FF3A, 1, 0, 28 + extra, 12 + extra, blk, total, len(chunks), 0) + b"\xee" * extra
    for kind, sz, body in chunks:
        out += struct.pack("<HHII", kind, 0, sz, 12 + extra + len(body)) + b"\xee" * extra + body
    return out
raw = bytes(range(32))
expanded = raw + b"\x01\x02\x03\x04" * 8
crc = struct.pack("<I", zlib.crc32(expanded + bytes(16)))
chunks = [(0xCAC1, 2, raw), (0xCAC2, 2, b"\x01\x02\x03\x04"), (0xCAC3, 1, b""), (0xCAC4, 0, crc)]
open(f"{d}/seed-all-types", "wb").write(img(16, 5, chunks))
open(f"{d}/seed-large-headers", "wb").write(img(16, 5, chunks, 12))' "$d"
      ;;
    boot_control)
      printf '_a\0\0BCAB\x01\x02\0\0\x7f\0\x7f\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' >"$d/seed"
      ;;
    manifest)
      printf '%s' '{"format_version":1,"products":["demo-phone"],"version":"1.1.0","build_time":0,"rollback_index":3,"hardware_revisions":["revA"],"basebands":["MPSS.*"],"wipe_data":false,"images":[{"partition":"boot","entry":"boot.img","size":5000,"sha256":"abababababababababababababababababababababababababababababababab","chunk_size":4096,"chunks":["cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd","efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef"]}]}' >"$d/seed.json"
      ;;
    profile)
      # The shape `recovery-updater demo` writes (src/demo.rs).
      cat >"$d/seed.toml" <<'EOF'
product = "demo-phone"
hardware_revision = { file = "sys/hw_revision" }
baseband = { file = "sys/baseband", regex = "^Baseband: (\\S+)" }
keys = ["keys/trusted0.pub"]
state_dir = "state"
rollback_index_file = "state/rollback_index"
min_battery_percent = 20
battery = { capacity_file = "sys/battery/capacity", status_file = "sys/battery/status" }
storage = ["sdcard"]
[slots]
mode = "ab"
misc = "parts/misc.img"

[[partition]]
name = "boot"
path = "parts/boot_{slot}.img"
EOF
      ;;
    keys)
      # Public keys (SubjectPublicKeyInfo, PEM and DER) from fixed points: the P-256 generator
      # and an Ed25519 key of bytes 0..31.
      python3 -c '
import base64, sys
p256 = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200" "04"
  "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
  "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")
ed = bytes.fromhex("302a300506032b6570032100") + bytes(range(32))
d = sys.argv[1]
for name, der in (("p256", p256), ("ed25519", ed)):
    open(f"{d}/{name}.der", "wb").write(der)
    pem = base64.b64encode(der).decode()
    lines = [pem[i:i + 64] for i in range(0, len(pem), 64)]
    open(f"{d}/{name}.pub", "w").write("-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n")' "$d"
      ;;
    zip_archive)
      # A stored zip with one entry, made here by python's zipfile with a fixed date.
      python3 -c '
import io, sys, zipfile
b = io.BytesIO()
with zipfile.ZipFile(b, "w") as z:
    z.writestr(zipfile.ZipInfo("META-INF/update/manifest.json", (1980, 1, 1, 0, 0, 0)), b"{\"format_version\":1}")
    z.writestr(zipfile.ZipInfo("boot.img", (1980, 1, 1, 0, 0, 0)), b"\0" * 100)
sys.stdout.buffer.write(b.getvalue())' >"$d/seed.zip"
      ;;
  esac
}

status=0
if [ "$mode" = ci ]; then
  runs="${FUZZ_CI_RUNS:-150000}"
  seed="${FUZZ_CI_SEED:-1}"
  for t in "${targets[@]}"; do
    reg="fuzz/regressions/$t"
    # Every committed finding must still pass. Given files (not a directory), libFuzzer runs
    # each one once and writes nothing back into fuzz/regressions/.
    if compgen -G "$reg/*" >/dev/null; then
      echo "== fuzz ci $t: replay $(find "$reg" -type f | wc -l) regression input(s)"
      if ! cargo +nightly fuzz run "$t" "$reg"/*; then
        echo "fuzz target $t FAILED on a committed regression input in $reg" >&2
        status=1
        continue
      fi
    fi
    # A fresh corpus every run, from committed files and fixed seeds only.
    corpus=$(mktemp -d)
    write_seeds "$corpus" "$t"
    [ -d "$reg" ] && cp "$reg"/* "$corpus"/ 2>/dev/null || true
    echo "== fuzz ci $t: $runs runs, seed $seed"
    if ! cargo +nightly fuzz run "$t" "$corpus" -- -seed="$seed" -runs="$runs" \
        -rss_limit_mb=1024 -timeout=10 -print_final_stats=1; then
      echo "fuzz target $t FAILED: see fuzz/artifacts/$t/; reproduce with fuzz/run.sh ci $t" >&2
      status=1
    fi
    rm -rf "$corpus"
  done
else
  seconds="${FUZZ_SECONDS:-600}"
  for t in "${targets[@]}"; do
    corpus="fuzz/corpus/$t"
    mkdir -p "$corpus"
    write_seeds "$corpus" "$t"
    [ -d "fuzz/regressions/$t" ] && cp "fuzz/regressions/$t"/* "$corpus"/ 2>/dev/null || true
    echo "== fuzz explore $t for ${seconds}s"
    if ! cargo +nightly fuzz run "$t" "$corpus" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1; then
      echo "fuzz target $t FOUND something: see fuzz/artifacts/$t/; copy it to" \
        "fuzz/regressions/$t/ and add a test for the fix" >&2
      status=1
    fi
  done
fi
exit $status
