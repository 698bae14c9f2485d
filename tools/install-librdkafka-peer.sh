#!/usr/bin/env bash
# Installs the librdkafka 2.16 peer used for interoperability tests, golden
# vectors and benchmarks: Debian's kcat (which links librdkafka 2.0.2) run
# against the librdkafka 2.16 shared library shipped in the
# confluent-kafka==2.16.1 wheel, and what a program needs to link that library
# itself (bench/peers' rdkafka-perf does, through rdkafka-sys's
# `dynamic-linking`): librdkafka.so, and a pkg-config file rdkafka.pc.
#
# Idempotent: reuses the wheel, the unpacked library and kcat when present.
#
# Usage: tools/install-librdkafka-peer.sh [DIR]
#   DIR defaults to <repo>/.tools/librdkafka-2.16 (gitignored).
# Prints, as its last line, the LD_LIBRARY_PATH to run kcat with:
#   LD_LIBRARY_PATH=$(tools/install-librdkafka-peer.sh | tail -n1) kcat -V
# and <that directory>/pkgconfig is the PKG_CONFIG_PATH to link it with:
#   PKG_CONFIG_PATH=$(tools/install-librdkafka-peer.sh | tail -n1)/pkgconfig cargo build --release
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

# pkg-config, which rdkafka-sys's `dynamic-linking` build asks for librdkafka.
if ! command -v pkg-config >/dev/null 2>&1; then
    log "installing pkg-config with apt-get"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq pkg-config >&2
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
# kcat asks for librdkafka.so.1; a linker given -lrdkafka looks for
# librdkafka.so; and a program linked against it asks for the library's
# SONAME, which the wheel's repair step made equal to its file name
# (librdkafka-<hash>.so.1): all three names, in one directory.
ln -sf "$lib" "$dir/lib/librdkafka.so.1"
ln -sf "$lib" "$dir/lib/librdkafka.so"
ln -sf "$lib" "$dir/lib/$(basename "$lib")"

# 4. Check that kcat really runs against 2.16.
version=$(LD_LIBRARY_PATH="$dir/lib" kcat -V 2>&1 | sed -n 's/.*librdkafka \([0-9][0-9.]*\).*/\1/p' | head -n1)
case "$version" in
    "$EXPECTED_LIBRDKAFKA".*) log "kcat runs with librdkafka $version" ;;
    *) log "expected librdkafka $EXPECTED_LIBRDKAFKA.x, kcat reports '${version:-nothing}'"; exit 1 ;;
esac

# 5. rdkafka.pc, for programs that link the library (its headers are not
# needed: rdkafka-sys carries its own bindings, and 2.16 keeps 2.12's C ABI).
mkdir -p "$dir/lib/pkgconfig"
cat >"$dir/lib/pkgconfig/rdkafka.pc.tmp" <<PC
libdir=$dir/lib

Name: librdkafka
Description: librdkafka $version from the confluent-kafka $WHEEL_VERSION wheel (tools/install-librdkafka-peer.sh)
Version: $version
Libs: -L\${libdir} -lrdkafka
Cflags:
PC
mv "$dir/lib/pkgconfig/rdkafka.pc.tmp" "$dir/lib/pkgconfig/rdkafka.pc"

echo "$dir/lib"
