# The logging chapter's GELF receiver, a stand-in for the workshop's Logstash (which cannot be
# pulled here): it listens where Docker's gelf log driver sends (UDP 12201), joins chunked
# messages, undoes the driver's compression (gzip by default, zlib or none) and prints each
# message as one JSON line, every field as the driver sent it: `docker service logs` shows them.
import gzip
import json
import os
import socket
import zlib

# GELF's port; GELF_PORT=0 takes a free one (tests), printed in the first line.
PORT = int(os.environ.get("GELF_PORT", "12201"))
# Chunks of messages not yet whole, by message id; a sender that never completes one is dropped
# past this many, so that memory stays bounded.
MAX_PENDING = 100


def decompress(data):
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:1] == b"\x78":
        return zlib.decompress(data)
    return data


def main():
    pending = {}
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("0.0.0.0", PORT))
    # Logstash's heartbeat on the page prints "ok": this line says the receiver is listening.
    print(json.dumps({"message": "ok", "listening": f"udp/{receiver.getsockname()[1]}"}), flush=True)
    while True:
        data, _ = receiver.recvfrom(65535)
        if data[:2] == b"\x1e\x0f":  # a chunk: magic, 8-byte message id, sequence number, count
            # GELF allows at most 128 chunks; a header cut short or out of range is no chunk.
            if len(data) < 12 or not 0 < data[11] <= 128 or data[10] >= data[11]:
                print(json.dumps({"error": "not a GELF message: a chunk with a broken header"}), flush=True)
                continue
            ident, sequence, count = data[2:10], data[10], data[11]
            if ident not in pending and len(pending) >= MAX_PENDING:
                pending.pop(next(iter(pending)))
            parts = pending.setdefault(ident, {})
            parts[sequence] = data[12:]
            if len(parts) < count:
                continue
            data = b"".join(parts.get(i, b"") for i in range(count))
            del pending[ident]
        try:
            print(json.dumps(json.loads(decompress(data))), flush=True)
        except (OSError, EOFError, ValueError, zlib.error) as error:
            print(json.dumps({"error": f"not a GELF message: {error}"}), flush=True)


main()
