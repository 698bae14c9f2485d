#!/usr/bin/env bash
# Installs the librdkafka 2.16 peer used for interoperability tests and golden
# vectors: Debian's kcat (which links librdkafka 2.0.2) run against the
# librdkafka 2.16 shared library shipped in the confluent-kafka==2.16.1 wheel.
#
# Idempotent: reuses the wheel, the unpacked library and kcat when present.
#
# Usage: tools/install-librdkafka-peer.sh [DIR]
#   DIR defaults to <repo>/.tools/librdkafka-2.16 (gitignored).
# Prints, as its last line, the LD_LIBRARY_PATH to run kcat with:
#   LD_LIBRARY_PATH=$(tools/install-librdkafka-peer.sh | tail -n1) kcat -V
set -euo pipefail

WHEEL_VERSION=2.16.1
EXPECTED_LIBRDKAFKA=2.16

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-"$repo_root/.tools/librdkafka-2.16"}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

log() { echo "install-librdkafka-peer: $*" >&2; }

# 1. kcat from the distribution (the binary only; its librdkafka is replaced below).
if ! command -v kcat >/dev/null 2>&1; then
    log "installing kcat with apt-get"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq kcat >&2
else
    log "kcat already installed: $(command -v kcat)"
fi

# 2. The confluent-kafka wheel, which bundles librdkafka 2.16.
if ! ls "$dir"/confluent_kafka-"$WHEEL_VERSION"-*.whl >/dev/null 2>&1; then
    log "downloading confluent-kafka==$WHEEL_VERSION"
    python3 -m pip download --quiet --no-deps "confluent-kafka==$WHEEL_VERSION" -d "$dir" >&2
else
    log "wheel already downloaded"
fi

# 3. Unpack only the bundled shared libraries and expose librdkafka.so.1.
if ! ls "$dir"/confluent_kafka.libs/librdkafka-*.so.1 >/dev/null 2>&1; then
    log "unpacking confluent_kafka.libs"
    wheel=$(ls "$dir"/confluent_kafka-"$WHEEL_VERSION"-*.whl | head -n1)
    python3 - "$wheel" "$dir" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith("confluent_kafka.libs/"):
            z.extract(name, dest)
PY
fi
mkdir -p "$dir/lib"
lib=$(ls "$dir"/confluent_kafka.libs/librdkafka-*.so.1 | head -n1)
ln -sf "$lib" "$dir/lib/librdkafka.so.1"

# 4. Check that kcat really runs against 2.16.
version=$(LD_LIBRARY_PATH="$dir/lib" kcat -V 2>&1 | sed -n 's/.*librdkafka \([0-9][0-9.]*\).*/\1/p' | head -n1)
case "$version" in
    "$EXPECTED_LIBRDKAFKA".*) log "kcat runs with librdkafka $version" ;;
    *) log "expected librdkafka $EXPECTED_LIBRDKAFKA.x, kcat reports '${version:-nothing}'"; exit 1 ;;
esac

echo "$dir/lib"
