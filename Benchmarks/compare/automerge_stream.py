"""Applies the edit stream written by butler-bench to Automerge (PyPI automerge==1.0.0rc1) and
reports the rate.

Input: JSON lines {"replica": "...", "key": "...", "value": "..."}, the same file
pycrdt_stream.py reads. Each replica makes its edits on its own Document (one transaction per
edit, as a handheld would). A fresh target Document then takes them in stream order:

- one at a time: after each edit, `target.merge(replica)` brings over the one change the target
  lacks (the 1.0 binding has no apply_changes; merge is how it applies another document's
  changes). Only the merge calls are timed. This is the work ButlerModel's join does per delta.
- all at once: `Document.load` of every change's bytes, concatenated in stream order (the
  binding's fastest way to apply a batch of changes).

Prints one JSON object of integers: {"edits": N, "microseconds": T, "editsPerSecond": R,
"batchMicroseconds": B, "batchEditsPerSecond": S}.
"""
import json
import sys
import time

from automerge.core import ROOT, Document, ScalarType


def main(path):
    with open(path) as f:
        stream = [json.loads(line) for line in f]
    replicas = {}
    target = Document(bytes([0xFF]) * 16)
    changes = []
    merging = 0.0
    for edit in stream:
        name = edit["replica"]
        if name not in replicas:
            replicas[name] = [Document(bytes([len(replicas) + 1]) * 16), []]
        doc, heads = replicas[name]
        with doc.transaction() as tx:
            tx.put(ROOT, edit["key"], ScalarType.Str, edit["value"])
        new = doc.get_changes(heads)
        replicas[name][1] = doc.get_heads()
        changes.extend(new)
        start = time.perf_counter()
        target.merge(doc)
        merging += time.perf_counter() - start
    if len(changes) != len(stream):
        # A put of the value already there records no change: the rate would be of less work.
        raise SystemExit(f"automerge recorded {len(changes)} changes for {len(stream)} edits")
    start = time.perf_counter()
    batch = Document.load(b"".join(change.bytes for change in changes))
    loading = time.perf_counter() - start
    # Both ways reach the same state.
    keys = sorted(target.keys(ROOT))
    if keys != sorted(batch.keys(ROOT)) or any(target.get(ROOT, k)[0] != batch.get(ROOT, k)[0] for k in keys):
        raise SystemExit("automerge: the merged and the loaded documents differ")
    print(json.dumps({
        "edits": len(changes), "microseconds": int(merging * 1e6), "editsPerSecond": int(len(changes) / merging),
        "batchMicroseconds": int(loading * 1e6), "batchEditsPerSecond": int(len(changes) / loading),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
