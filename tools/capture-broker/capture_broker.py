#!/usr/bin/env python3
"""A capture broker: speaks just enough Kafka for a producer to finish, and
records every request frame it receives verbatim.

It exists to capture golden request vectors from a real client (librdkafka via
kcat) for kproducer's protocol tests. It is not a broker: one node, no log, no
sequence checks. It answers

- ApiVersions (v0-v3; a newer version gets UNSUPPORTED_VERSION in v0 form,
  as KIP-511 prescribes), advertising exactly the version ranges in
  kproducer-protocol's api_key.rs table, so the client picks versions our
  crate decodes;
- Metadata (v0-v12): one broker (itself), each requested topic with
  --partitions partitions led by it;
- InitProducerId (v0-v5): producer id 1000, epoch 0;
- Produce (v3-v11): success for every partition, with offsets that grow by the
  number of records in each batch.

Every request frame (without its 4-byte size prefix) is written to
OUT/<seq>-<ApiName>-v<version>.bin, and OUT/manifest.txt gets one line per file:
"<file> api_key=<k> version=<v> correlation_id=<c> size=<bytes>".

Python 3.11 standard library only. Listens on 127.0.0.1 only. Stops cleanly on
SIGTERM or SIGINT, or with --exit-after-produce once a client that sent a
Produce request has disconnected.

Usage:
    capture_broker.py --port 19092 --out DIR [--partitions 2] [--api-table FILE]
                      [--cap API=MAX ...] [--exit-after-produce]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
from pathlib import Path

PRODUCER_ID = 1000
PRODUCER_EPOCH = 0
NODE_ID = 1
CLUSTER_ID = "kproducer-capture"
UNSUPPORTED_VERSION = 35
MAX_FRAME = 64 * 1024 * 1024

DEFAULT_API_TABLE = (
    Path(__file__).resolve().parents[2]
    / "crates" / "kproducer-protocol" / "src" / "api_key.rs"
)


class Api:
    """One row of the api_key.rs table."""

    def __init__(self, name: str, key: int, lo: int, hi: int, flexible: int | None):
        self.name, self.key, self.lo, self.hi, self.flexible = name, key, lo, hi, flexible

    def is_flexible(self, version: int) -> bool:
        return self.flexible is not None and version >= self.flexible


def load_api_table(path: Path) -> dict[int, Api]:
    """Reads the `Name = key, lo..=hi, flexible Some(v)|None;` rows of api_key.rs,
    so the advertised ranges never drift from what the crate supports."""
    row = re.compile(r"^\s*(\w+)\s*=\s*(\d+),\s*(\d+)\.\.=(\d+),\s*flexible\s+(?:Some\((\d+)\)|None)\s*;", re.M)
    table = {}
    for m in row.finditer(path.read_text()):
        name, key, lo, hi, flex = m.groups()
        table[int(key)] = Api(name, int(key), int(lo), int(hi), None if flex is None else int(flex))
    if 18 not in table or 0 not in table:
        raise SystemExit(f"capture_broker: no ApiVersions/Produce rows found in {path}")
    return table


# ---------------------------------------------------------------- wire reading

class Truncated(Exception):
    pass


class Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise Truncated(f"need {n} bytes at {self.pos}, have {len(self.data) - self.pos}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i8(self) -> int: return struct.unpack(">b", self.take(1))[0]
    def i16(self) -> int: return struct.unpack(">h", self.take(2))[0]
    def i32(self) -> int: return struct.unpack(">i", self.take(4))[0]
    def i64(self) -> int: return struct.unpack(">q", self.take(8))[0]

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            b = self.take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 28:
                raise Truncated("unsigned varint too long")

    def string(self, compact: bool) -> str | None:
        n = self.uvarint() - 1 if compact else self.i16()
        return None if n < 0 else self.take(n).decode("utf-8")

    def bytes_(self, compact: bool) -> bytes | None:
        n = self.uvarint() - 1 if compact else self.i32()
        return None if n < 0 else self.take(n)

    def array_len(self, compact: bool) -> int:
        """-1 for a null array."""
        return self.uvarint() - 1 if compact else self.i32()

    def tagged(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


# ---------------------------------------------------------------- wire writing

class Writer:
    def __init__(self, flexible: bool = False):
        self.buf = bytearray()
        self.flexible = flexible

    def i8(self, v: int): self.buf += struct.pack(">b", v); return self
    def i16(self, v: int): self.buf += struct.pack(">h", v); return self
    def i32(self, v: int): self.buf += struct.pack(">i", v); return self
    def i64(self, v: int): self.buf += struct.pack(">q", v); return self
    def raw(self, b: bytes): self.buf += b; return self

    def uvarint(self, v: int):
        while v >= 0x80:
            self.buf.append((v & 0x7F) | 0x80)
            v >>= 7
        self.buf.append(v)
        return self

    def string(self, s: str | None):
        if s is None:
            return self.uvarint(0) if self.flexible else self.i16(-1)
        b = s.encode("utf-8")
        if self.flexible:
            self.uvarint(len(b) + 1)
        else:
            self.i16(len(b))
        return self.raw(b)

    def array(self, items, write_item):
        if self.flexible:
            self.uvarint(len(items) + 1)
        else:
            self.i32(len(items))
        for item in items:
            write_item(item)
        return self

    def tags(self):
        """An empty tagged-field section, only in flexible versions."""
        if self.flexible:
            self.uvarint(0)
        return self


# ---------------------------------------------------------------- the broker

class CaptureState:
    """Everything shared between connections: the output, the offsets."""

    def __init__(self, out: Path, port: int, partitions: int, apis: dict[int, Api],
                 exit_after_produce: bool):
        self.out, self.port, self.partitions, self.apis = out, port, partitions, apis
        self.exit_after_produce = exit_after_produce
        self.lock = threading.Lock()
        self.seq = 0
        self.topics: dict[str, int] = {}
        self.next_offset: dict[tuple[str, int], int] = {}
        self.manifest = open(out / "manifest.txt", "w", encoding="utf-8")
        self.done = threading.Event()

    def record(self, frame: bytes, key: int, version: int, correlation_id: int) -> None:
        api = self.apis.get(key)
        name = api.name if api else f"Api{key}"
        with self.lock:
            self.seq += 1
            fname = f"{self.seq:02d}-{name}-v{version}.bin"
            (self.out / fname).write_bytes(frame)
            self.manifest.write(
                f"{fname} api_key={key} version={version} "
                f"correlation_id={correlation_id} size={len(frame)}\n")
            self.manifest.flush()

    def topic_partitions(self, name: str) -> int:
        with self.lock:
            return self.topics.setdefault(name, self.partitions)

    def append(self, topic: str, partition: int, records: int) -> int:
        with self.lock:
            k = (topic, partition)
            base = self.next_offset.get(k, 0)
            self.next_offset[k] = base + records
            return base

    def close(self) -> None:
        with self.lock:
            self.manifest.close()


def log(msg: str) -> None:
    print(f"capture_broker: {msg}", file=sys.stderr, flush=True)


def topic_uuid(name: str) -> bytes:
    """A stable, non-zero topic id derived from the name."""
    return hashlib.md5(name.encode()).digest()


def batch_record_counts(records: bytes | None) -> int:
    """Total records in a record set of v2 batches (last_offset_delta + 1 each)."""
    total, pos, data = 0, 0, records or b""
    while pos + 61 <= len(data):
        batch_len = struct.unpack_from(">i", data, pos + 8)[0]
        last_offset_delta = struct.unpack_from(">i", data, pos + 23)[0]
        total += last_offset_delta + 1
        pos += 12 + batch_len
    return total


class Connection(socketserver.BaseRequestHandler):
    server: "CaptureServer"

    def handle(self) -> None:
        state = self.server.state
        sock: socket.socket = self.request
        sent_produce = False
        peer = "%s:%d" % self.client_address
        log(f"{peer} connected")
        try:
            while True:
                head = recv_exact(sock, 4)
                if head is None:
                    break
                (size,) = struct.unpack(">i", head)
                if size < 0 or size > MAX_FRAME:
                    log(f"{peer}: frame size {size} out of range, closing")
                    break
                frame = recv_exact(sock, size)
                if frame is None:
                    log(f"{peer}: closed mid-frame")
                    break
                rd = Reader(frame)
                key, version, corr = rd.i16(), rd.i16(), rd.i32()
                state.record(frame, key, version, corr)
                api = state.apis.get(key)
                if api is None or (key != 18 and not api.lo <= version <= api.hi):
                    log(f"{peer}: api {key} v{version} not supported, closing")
                    break
                rd.string(False)  # client_id: a classic string even in header v2
                if api.is_flexible(version):
                    rd.tagged()
                body = self.answer(api, version, rd)
                if body is None:  # acks=0 Produce: no response
                    continue
                # ApiVersions responses always use header v0 (KIP-511).
                hdr = Writer(flexible=api.is_flexible(version) and key != 18).i32(corr).tags()
                payload = bytes(hdr.buf) + body
                sock.sendall(struct.pack(">i", len(payload)) + payload)
                sent_produce |= key == 0
        except (Truncated, UnicodeDecodeError) as e:
            log(f"{peer}: malformed request ({e}), closing")
        except OSError as e:
            log(f"{peer}: {e}")
        log(f"{peer} disconnected")
        if sent_produce and state.exit_after_produce:
            state.done.set()

    def answer(self, api: Api, version: int, rd: Reader) -> bytes | None:
        state = self.server.state
        flex = api.is_flexible(version)
        if api.key == 18:
            return api_versions(state, version)
        if api.key == 3:
            return metadata(state, version, flex, rd)
        if api.key == 22:
            return init_producer_id(version, flex)
        if api.key == 0:
            return produce(state, version, flex, rd)
        raise Truncated(f"no handler for {api.name}")


def recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def api_versions(state: CaptureState, version: int) -> bytes:
    ours = state.apis[18]
    error = 0
    if version > ours.hi:
        # KIP-511: answer in v0 with UNSUPPORTED_VERSION and our ranges.
        error, version = UNSUPPORTED_VERSION, 0
    w = Writer(flexible=version >= 3)
    w.i16(error)
    rows = sorted(state.apis.values(), key=lambda a: a.key)
    w.array(rows, lambda a: w.i16(a.key).i16(a.lo).i16(a.hi).tags())
    if version >= 1:
        w.i32(0)  # throttle_time_ms
    w.tags()
    return bytes(w.buf)


def metadata(state: CaptureState, version: int, flex: bool, rd: Reader) -> bytes:
    n = rd.array_len(flex)
    requested: list[str] | None = None
    if n >= 0:
        requested = []
        for _ in range(n):
            if version >= 10:
                rd.take(16)  # topic_id
            name = rd.string(flex)
            if flex:
                rd.tagged()
            if name is not None:
                requested.append(name)
    if requested is None or (version == 0 and not requested):
        with state.lock:
            requested = sorted(state.topics)
    topics = [(name, state.topic_partitions(name)) for name in requested]

    w = Writer(flexible=flex)
    if version >= 3:
        w.i32(0)  # throttle_time_ms

    def broker(_):
        w.i32(NODE_ID).string("127.0.0.1").i32(state.port)
        if version >= 1:
            w.string(None)  # rack
        w.tags()

    w.array([None], broker)
    if version >= 2:
        w.string(CLUSTER_ID)
    if version >= 1:
        w.i32(NODE_ID)  # controller_id

    def partition(index):
        w.i16(0).i32(index).i32(NODE_ID)
        if version >= 7:
            w.i32(0)  # leader_epoch
        w.array([NODE_ID], w.i32)  # replica_nodes
        w.array([NODE_ID], w.i32)  # isr_nodes
        if version >= 5:
            w.array([], w.i32)  # offline_replicas
        w.tags()

    def topic(t):
        name, count = t
        w.i16(0).string(name)
        if version >= 10:
            w.raw(topic_uuid(name))
        if version >= 1:
            w.i8(0)  # is_internal
        w.array(list(range(count)), partition)
        if version >= 8:
            w.i32(-2147483648)  # topic_authorized_operations: not requested
        w.tags()

    w.array(topics, topic)
    if 8 <= version <= 10:
        w.i32(-2147483648)  # cluster_authorized_operations
    w.tags()
    return bytes(w.buf)


def init_producer_id(version: int, flex: bool) -> bytes:
    w = Writer(flexible=flex)
    w.i32(0).i16(0).i64(PRODUCER_ID).i16(PRODUCER_EPOCH).tags()
    return bytes(w.buf)


def produce(state: CaptureState, version: int, flex: bool, rd: Reader) -> bytes | None:
    rd.string(flex)  # transactional_id
    acks = rd.i16()
    rd.i32()  # timeout_ms
    results = []
    for _ in range(max(rd.array_len(flex), 0)):
        name = rd.string(flex) or ""
        parts = []
        for _ in range(max(rd.array_len(flex), 0)):
            index = rd.i32()
            records = rd.bytes_(flex)
            if flex:
                rd.tagged()
            parts.append((index, state.append(name, index, batch_record_counts(records))))
        if flex:
            rd.tagged()
        results.append((name, parts))
    if flex:
        rd.tagged()
    if acks == 0:
        return None

    w = Writer(flexible=flex)

    def partition(p):
        index, base = p
        w.i32(index).i16(0).i64(base)
        w.i64(-1)  # log_append_time_ms: CreateTime topic
        if version >= 5:
            w.i64(0)  # log_start_offset
        if version >= 8:
            w.array([], lambda _: None)  # record_errors
            w.string(None)  # error_message
        w.tags()

    def topic(t):
        name, parts = t
        w.string(name).array(parts, partition).tags()

    w.array(results, topic)
    w.i32(0)  # throttle_time_ms
    w.tags()
    return bytes(w.buf)


class CaptureServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, state: CaptureState):
        super().__init__(("127.0.0.1", port), Connection)
        self.state = state


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 (0 picks one)")
    p.add_argument("--out", type=Path, required=True, help="directory for the captured frames")
    p.add_argument("--partitions", type=int, default=2, help="partitions of every topic")
    p.add_argument("--api-table", type=Path, default=DEFAULT_API_TABLE,
                   help="kproducer-protocol's api_key.rs, source of the advertised versions")
    p.add_argument("--cap", action="append", default=[], metavar="API=MAX",
                   help="advertise at most version MAX of API (e.g. Produce=8), to capture "
                        "older, non-flexible encodings; repeatable")
    p.add_argument("--exit-after-produce", action="store_true",
                   help="stop once a client that sent Produce has disconnected")
    args = p.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    for old in list(args.out.glob("*.bin")):
        old.unlink()
    apis = load_api_table(args.api_table)
    for cap in args.cap:
        name, _, top = cap.partition("=")
        api = next((a for a in apis.values() if a.name == name), None)
        if api is None or not top.isdigit() or not api.lo <= int(top) <= api.hi:
            raise SystemExit(f"capture_broker: --cap {cap}: want API=MAX with MAX in the API's range")
        api.hi = int(top)
    state = CaptureState(args.out, args.port, args.partitions, apis, args.exit_after_produce)
    server = CaptureServer(args.port, state)
    state.port = server.server_address[1]

    def stop(signum, _frame):
        state.done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=server.serve_forever, name="accept", daemon=True).start()
    log(f"listening on 127.0.0.1:{state.port}, writing to {args.out}")
    print(f"LISTENING {state.port}", flush=True)
    while not state.done.wait(0.2):
        pass
    server.shutdown()
    server.server_close()
    state.close()
    log(f"stopped after {state.seq} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
