#!/usr/bin/env python3
"""Holds many live pulls open against one butler-server (butler-bench scenario 10).

    live_connections.py HOST PORT TOKENS_FILE CURSOR GO_FILE

Opens one connection per token in TOKENS_FILE (one device token per line) and sends each a live
pull, `GET /v1/pull?cursor=CURSOR&wait=55`. Prints `ready N` once every request is written, then
waits for GO_FILE: the benchmark writes CLOCK_MONOTONIC (nanoseconds) into it just before it
pushes one change. Each connection's latency is from that instant to the moment its whole reply
arrived. Prints one JSON line: count, ok (200 with the change), errors, p50/p99/max in ms.
Bounded: every connection gives up after 90 s.
"""
import asyncio
import json
import os
import resource
import sys
import time


def monotonic_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


async def one(host, port, token, cursor, sent, results):
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
        request = (
            f"GET /v1/pull?cursor={cursor}&wait=55&limit=10 HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nButler-Protocol: 1\r\nAccept: application/json\r\n\r\n"
        )
        writer.write(request.encode())
        await writer.drain()
        sent.append(1)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 90)
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await asyncio.wait_for(reader.readexactly(length), 30)
        arrived = monotonic_ns()
        writer.close()
        results.append((status, b'"changes":[]' not in body, arrived))
    except Exception as error:  # noqa: BLE001 - every failure is counted as an error
        results.append((0, False, monotonic_ns()))
        print(f"connection failed: {error!r}", file=sys.stderr)


async def main():
    host, port, tokens_file, cursor, go_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tokens = [t for t in open(tokens_file).read().split() if t]
    sent, results = [], []
    tasks = []
    for i, token in enumerate(tokens):
        tasks.append(asyncio.create_task(one(host, port, token, cursor, sent, results)))
        if i % 200 == 199:
            await asyncio.sleep(0.01)
    deadline = time.monotonic() + 60
    while len(sent) + len(results) < len(tokens) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    print(f"ready {len(sent)}", flush=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(go_file) or os.path.getsize(go_file) == 0:
        if time.monotonic() > deadline:
            raise SystemExit("the go file never came")
        await asyncio.sleep(0.001)
    start = int(open(go_file).read().strip())
    await asyncio.wait(tasks, timeout=100)
    latencies = sorted((arrived - start) / 1e6 for status, changed, arrived in results if status == 200 and changed)
    ok = len(latencies)
    pct = lambda p: latencies[min(len(latencies) - 1, round((len(latencies) - 1) * p))] if latencies else None
    print(json.dumps({"count": len(tokens), "ok": ok, "errors": len(tokens) - ok, "p50": pct(0.5), "p99": pct(0.99),
                      "max": latencies[-1] if latencies else None}), flush=True)


asyncio.run(main())
