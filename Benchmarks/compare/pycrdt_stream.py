"""Applies the edit stream written by butler-bench to pycrdt (Yrs) and reports the rate.

Input: JSON lines {"replica": "...", "key": "...", "value": "..."} — one map set per edit, in the
order the edits were made on their replicas. Each replica's edits are made on its own Doc; the
updates they emit are then applied, in stream order, to a fresh Doc: the same work ButlerModel's
join does when a device merges the deltas of others.
Prints one JSON object of integers: {"edits": N, "microseconds": T, "editsPerSecond": R}.
"""
import json
import sys
import time

import pycrdt


def main(path):
    with open(path) as f:
        stream = [json.loads(line) for line in f]
    docs = {}
    updates = []
    for edit in stream:
        replica = edit["replica"]
        if replica not in docs:
            doc = pycrdt.Doc()
            docs[replica] = (doc, doc.get("record", type=pycrdt.Map))
            doc.observe(lambda event: updates.append(event.update))
        doc, record = docs[replica]
        record[edit["key"]] = edit["value"]
    target = pycrdt.Doc()
    target.get("record", type=pycrdt.Map)
    start = time.perf_counter()
    for update in updates:
        target.apply_update(update)
    seconds = time.perf_counter() - start
    print(json.dumps({"edits": len(updates), "microseconds": int(seconds * 1e6), "editsPerSecond": int(len(updates) / seconds)}))


if __name__ == "__main__":
    main(sys.argv[1])
