"""Write requirements/lock.txt: exact versions of every dependency, resolved from pyproject's ranges.

    python scripts/lock.py          # or: make lock

pip resolves ``torch==2.13.0`` (the CPU build that ``make`` installs first),
the package with all its extras, pip itself and the build backend, without
installing anything (``pip install --dry-run --report``), and the pins are
written as a constraints file.  pyproject.toml keeps ranges for users; CI and
``make`` install through this file, so nobody else's release can change what
they test.  torch itself is left out of the file (``make`` pins it with
``TORCH``, so that a GPU build can be chosen); its dependencies are in it.

Resolved for the Python and platform this runs on (CI: CPython 3.11, Linux
x86_64).  See docs/development.md for when and how to refresh it.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
TORCH = "torch==2.13.0"
#: Resolved together: torch first, the package with every extra, and the tools that install it (editable).
REQUIREMENTS = [TORCH, f"{ROOT}[dev,docs,lm,tracr,ray]", "pip", "hatchling", "editables"]
#: Left out of the lock: the package itself, and torch (pinned by the Makefile's TORCH).
OMIT = {"causalabs", "torch"}


def resolve() -> dict[str, str]:
    """name -> version of everything pip would install into an empty environment."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--report", str(report), *REQUIREMENTS]
        subprocess.run(cmd, check=True)
        doc = json.loads(report.read_text())
    pins = {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in doc["install"]}
    if pins.get("torch", "").split("+")[0] != TORCH.split("==")[1]:
        raise SystemExit(f"lock: pip resolved torch {pins.get('torch')}, not {TORCH}; is the CPU wheel on this machine?")
    return {name: version for name, version in pins.items() if name not in OMIT}


def main() -> None:
    pins = resolve()
    header = [
        "# Exact versions of every dependency of causalabs (all extras), the build backend and pip.",
        f"# Written by scripts/lock.py (make lock) from pyproject.toml's ranges with {TORCH} installed first;",
        f"# resolved on Python {platform.python_version()}, {platform.system()} {platform.machine()}.",
        "# Used as a constraints file: pip install -c requirements/lock.txt ...  Do not edit by hand.",
    ]
    lines = [f"{name}=={version}" for name, version in sorted(pins.items())]
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    LOCK.write_text("\n".join(header + lines) + "\n")
    print(f"{LOCK.relative_to(ROOT)}: {len(lines)} pins")


if __name__ == "__main__":
    main()
