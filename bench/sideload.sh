# Sourced by bench/run.sh --only-sideload: `adb sideload` of a 1 GiB (by default; --sizes)
# stored package into `recovery-updater sideload` on loopback, next to `apply` of the same
# package from a file, on the same A/B device. Timed to `sync` of the slots; the device side's
# peak RSS (getrusage of the sideload process) is reported for both.
# Needs Debian's adb (package `adb`).
have adb || die "adb is not installed (apt-get install adb)"
ADB_PORT=$((20000 + RANDOM % 20000))
DEV_PORT=$((ADB_PORT + 1))
export HOME="$DIR/adb-home"
mkdir -p "$HOME"
adb_() { adb -P "$ADB_PORT" "$@"; }
trap 'adb_ kill-server >/dev/null 2>&1 || true' EXIT

for size in $SIZES; do
    log "sideload, size $size MiB: preparing"
    make_images "$size"
    pack_ours random "$size" stored
    make_device "ab_$size" ab "$size"
    pkg="$DIR/pkg/random_$size.zip"
    img="$DIR/img/random_$size.img"
    parts="$DIR/dev/ab_$size/parts"
    for r in $(seq "$RUNS"); do
        warm "$pkg"
        measure "ours_ab_random" "$size" "$parts/system_a.img $parts/system_b.img" \
            "$BIN" apply "$pkg" --device "$DIR/dev/ab_$size/device.toml" --yes
        warm "$pkg"
        /usr/bin/time -f '%M' -o "$DIR/rss.sideload" "$BIN" sideload \
            --device "$DIR/dev/ab_$size/device.toml" --listen "127.0.0.1:$DEV_PORT" \
            >"$DIR/sideload.log" 2>&1 &
        spid=$!
        until adb_ connect "127.0.0.1:$DEV_PORT" 2>/dev/null | grep -q "connected to"; do
            sleep 0.05
        done
        sync
        t0=$(now_ns)
        adb_ -s "127.0.0.1:$DEV_PORT" sideload "$pkg" >/dev/null 2>&1 || die "adb sideload failed"
        wait "$spid" || die "sideload failed: $(tail -n 5 "$DIR/sideload.log")"
        sync "$parts/system_a.img" "$parts/system_b.img"
        t1=$(now_ns)
        adb_ disconnect "127.0.0.1:$DEV_PORT" >/dev/null 2>&1 || true
        cmp -s "$parts/system_a.img" "$img" || cmp -s "$parts/system_b.img" "$img" ||
            die "sideload did not write the image"
        record "ours_sideload_ab_random" "$size" \
            "$(echo "$t0 $t1" | awk '{printf "%.4f", ($2-$1)/1e9}')" "$(tail -n 1 "$DIR/rss.sideload")"
    done
done
log "done; raw results in $RESULTS"
python3 - "$RESULTS" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, size, secs, rss = line.rstrip("\n").split("\t")
    runs.setdefault((name, int(size)), []).append((float(secs), int(rss or 0)))
for (name, size), v in sorted(runs.items()):
    med = statistics.median(s for s, _ in v)
    print(f"{name:<26} {size:>5} MiB  median {med:6.2f} s  {size * 1.048576 / med:6.1f} MB/s"
          f"  peak RSS {max(r for _, r in v)} KiB  ({len(v)} runs)")
PY
