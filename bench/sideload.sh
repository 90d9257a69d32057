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
awk -F'\t' '{ k = $1 " " $2; n[k]++; v[k, n[k]] = $3; r[k] = $4 }
    END { for (k in n) { m = n[k]; split(k, a, " ");
        # median of the runs (sorted by insertion: fine for the small counts used here)
        for (i = 1; i <= m; i++) s[i] = v[k, i]; asort(s); med = s[int((m + 1) / 2)];
        printf "%-26s %6s MiB  median %7.2f s  %7.1f MB/s  peak RSS %s KiB\n",
            a[1], a[2], med, a[2] * 1.048576 / med, r[k] } }' "$RESULTS" | sort
