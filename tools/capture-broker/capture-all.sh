#!/usr/bin/env bash
# Reproduces the golden librdkafka request vectors under
# crates/kproducer-protocol/tests/vectors/<codec>/: for each compression codec,
# starts the capture broker on a free 127.0.0.1 port, has kcat (running on
# librdkafka 2.16) produce the same keyed records with headers, idempotently,
# and keeps every request frame kcat sent.
#
# Usage: tools/capture-broker/capture-all.sh [OUT_DIR]
#   OUT_DIR defaults to crates/kproducer-protocol/tests/vectors.
# Requires: python3 (3.11), and the peer from tools/install-librdkafka-peer.sh
# (run automatically; it reuses what is already installed).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${1:-"$repo/crates/kproducer-protocol/tests/vectors"}
broker="$repo/tools/capture-broker/capture_broker.py"
codecs=(none gzip snappy lz4 zstd)

# The records every capture produces, one "key:value" per line. "golf:" has an
# empty (not null) value; the last line has no key delimiter, so kcat sends it
# with a null key.
records() {
    printf '%s\n' \
        'alpha:first value, first value, first value' \
        'bravo:second value, second value, second value' \
        'charlie:third value, third value, third value' \
        'delta:fourth value, fourth value, fourth value' \
        'echo:fifth value, fifth value, fifth value' \
        'foxtrot:sixth value, sixth value, sixth value' \
        'golf:' \
        'a record without a key'
}

libdir=$("$repo/tools/install-librdkafka-peer.sh" | tail -n1)
mkdir -p "$out"
LD_LIBRARY_PATH="$libdir" kcat -V 2>&1 | sed -n 's/^Version /kcat /p' > "$out/VERSIONS.txt"
python3 --version >> "$out/VERSIONS.txt"

# The running capture broker, stopped on any exit so a failed kcat run never
# leaves it listening.
broker_pid=""
stop_broker() {
    if [ -n "$broker_pid" ]; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
        broker_pid=""
    fi
}
trap stop_broker EXIT

# capture DIR CODEC [BROKER_ARGS...]: one kcat run against a fresh capture broker.
capture() {
    local dir=$1 codec=$2
    shift 2
    rm -rf "$dir"
    mkdir -p "$dir"
    local fifo port
    fifo=$(mktemp -u)
    mkfifo "$fifo"
    python3 "$broker" --port 0 --out "$dir" --partitions 2 "$@" >"$fifo" 2>"$dir.broker.log" &
    broker_pid=$!
    exec 3<"$fifo"
    rm -f "$fifo"
    read -r _ port <&3
    echo "capture-all: $(basename "$dir"): capture broker on 127.0.0.1:$port" >&2

    records | LD_LIBRARY_PATH="$libdir" timeout 60 kcat -P \
        -b "127.0.0.1:$port" -t golden -K: \
        -H trace=golden-1 -H dup=first -H dup=second \
        -X enable.idempotence=true \
        -X compression.codec="$codec" \
        -X linger.ms=100

    stop_broker
    exec 3<&-
    rm -f "$dir.broker.log"
    echo "capture-all: $(basename "$dir"): $(wc -l <"$dir/manifest.txt") frames" >&2
}

for codec in "${codecs[@]}"; do
    capture "$out/$codec" "$codec"
done

# The same records, uncompressed, with the broker advertising only older,
# non-flexible versions, so the classic encodings are covered by real bytes
# too (ApiVersions v3 is then refused with UNSUPPORTED_VERSION and retried).
capture "$out/classic" none \
    --cap ApiVersions=2 --cap Metadata=8 --cap InitProducerId=1 --cap Produce=8
