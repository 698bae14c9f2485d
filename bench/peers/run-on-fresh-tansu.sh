#!/bin/sh
# Runs one peer perf driver against a fresh tansu broker (tansu never frees
# memory, so every run gets its own), on 127.0.0.1 only, with a 6-partition
# topic named "perf"; stops the broker afterwards and exits with the driver's
# status.
#
#   usage: ./run-on-fresh-tansu.sh PORT rdkafka-perf|krafka-perf [FLAGS...]
#   e.g.   ./run-on-fresh-tansu.sh 29370 rdkafka-perf --num-records 200000 --json
#
# TANSU overrides the tansu binary (default: the cached 0.6.0 install).
set -eu
PORT=$1; shift
BIN=$1; shift
TANSU=${TANSU:-$HOME/.cache/kproducer/tansu-0.6.0/bin/tansu}
HERE=$(cd "$(dirname "$0")" && pwd)
LOG=${TMPDIR:-/tmp}/tansu-$PORT.log

"$TANSU" broker --listener-url "tcp://127.0.0.1:$PORT" \
  --advertised-listener-url "tcp://127.0.0.1:$PORT" --storage-engine memory://tansu/ >"$LOG" 2>&1 &
BROKER=$!
trap 'kill $BROKER 2>/dev/null; wait $BROKER 2>/dev/null || true' EXIT
sleep 1
"$TANSU" topic create --broker "tcp://127.0.0.1:$PORT" --partitions 6 perf >/dev/null
set +e
"$HERE/target/release/$BIN" --bootstrap "127.0.0.1:$PORT" --topic perf "$@"
STATUS=$?
exit $STATUS
