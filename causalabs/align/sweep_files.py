"""The files of a resumable sweep: per-site result files, alignment files, and what a killed run left.

A sweep with ``out_dir`` writes, per location, its fitted alignments (with
``alignments=``: ``out_dir/alignments/<site>__<var+var>.json`` and their
weights, each info holding the held-out IIA) and then its result file
``out_dir/<site>.json``, each atomically.  The result file is the site's
commit point: a site whose result file exists and matches the run is
complete, alignment files included.  On start, a sweep removes the
temporary files a killed run left for the names it writes, and completes the
metadata of alignment files of resumed sites that lack their held-out IIA
(files written before the held-out IIA was recorded with them).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from causalabs.align.store import load_alignment, save_alignment
from causalabs.atomic import remove_stale_temps
from causalabs.errors import AlignmentFileError, SweepError

#: Version tag of the per-site result files; bump when their layout changes.
FORMAT = "causalabs.sweep/1"
#: Temporary files of causalabs before 0.2 (``.tmp-XXXXXXXX.json`` / ``.safetensors``), in an alignments folder.
_LEGACY_TEMP = re.compile(r"\.tmp-[a-z0-9_]{8}\.(json|safetensors)")


def slug(name: str) -> str:
    """A site name as a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "site"


def alignment_path(out: Path, site: str, variables: tuple[str, ...]) -> Path:
    """Where a sweep into ``out`` saves the alignment of ``variables`` at ``site``."""
    return Path(out) / "alignments" / f"{slug(site)}__{'+'.join(variables)}.json"


def fingerprint(meta: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()


def read_existing(path: Path, fp: str) -> list[dict[str, Any]] | None:
    """The records of a matching result file; None when it is absent, stale or unreadable."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError, json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("fingerprint") != fp:
        return None
    records = payload.get("records")
    if not isinstance(records, list):
        raise SweepError(f"sweep result file {path} matches this run but its records are malformed")
    return records


def remove_leftovers(out: Path, site_slugs: Iterable[str], alignment_stems: Iterable[str]) -> list[Path]:
    """Remove temporary files a killed sweep left for the files this sweep writes; return them."""
    sites = {f"{s}.json" for s in site_slugs}
    removed = remove_stale_temps(out, sites.__contains__)
    stems = set(alignment_stems)
    if stems:
        folder = out / "alignments"

        def owned(target: str) -> bool:
            if target.endswith(".json"):
                return target[: -len(".json")] in stems
            m = re.fullmatch(r"(?P<stem>.+)\.[0-9a-f]{16}\.safetensors", target)
            return m is not None and m.group("stem") in stems

        removed += remove_stale_temps(folder, owned)
        if folder.is_dir():
            for p in sorted(folder.iterdir()):
                if _LEGACY_TEMP.fullmatch(p.name) and p.is_file() and not p.is_symlink():
                    p.unlink(missing_ok=True)
                    removed.append(p)
    return removed


def complete_alignment(path: Path, info: Mapping[str, Any], heldout: Mapping[str, Any]) -> bool:
    """Add the held-out IIA to a resumed site's alignment file that lacks it; True if the file is complete.

    The file is completed only when its info matches the record (same site,
    variables, method, seed and training data); a file from another run, or
    none at all, is left as it is (False).
    """
    try:
        al = load_alignment(path)
    except AlignmentFileError:
        return False
    have = dict(al.info)
    if all(k in have for k in heldout):
        return True
    keys = ("site", "variables", "method", "seed", "train_digests")
    if any(have.get(k) != info.get(k) for k in keys):
        return False
    save_alignment(al, path, info={**have, **heldout})
    return True
