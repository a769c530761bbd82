"""A sweep folder as bytes, for comparing two sweeps' files."""

from __future__ import annotations

import json
from pathlib import Path


def sweep_tree(folder: Path) -> dict[str, bytes]:
    """Every file's bytes; in the sites' result files, the records' timing (``elapsed_s``) is set aside."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        data = p.read_bytes()
        if p.parent == folder and p.suffix == ".json":
            doc = json.loads(data)
            doc["records"] = [{**r, "elapsed_s": None} for r in doc["records"]]
            data = json.dumps(doc, sort_keys=True).encode()
        out[str(p.relative_to(folder))] = data
    return out
