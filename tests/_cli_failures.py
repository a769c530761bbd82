"""Shared by the command-line failure tests: misbehaving files written on the fly, and the one-line check.

Every failure of the command line has its exit status (docs/verify.md,
"Exit status and errors"): 2 input, 4 user code, 5 environment, 70
internal, 1 only for a refutation.  :func:`one_error` checks the status,
an empty stdout (no verdict printed), and exactly one line on stderr
holding the given fragments; :func:`snapshot` lets a test check that
nothing was written or deleted.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from causalabs.cli import app

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
HEQ = f"{ROOT}/hypotheses/hierarchical_equality.py:HierarchicalEquality"
NET = str(ROOT / "models/heq_handbuilt.py")
runner = CliRunner()

#: Every network file of the failure tests starts with this: the hand-built heq MLP (tests/_nets.py) and its alignment.
HEADER = f"""\
import sys
if {str(TESTS)!r} not in sys.path:
    sys.path.insert(0, {str(TESTS)!r})
import numpy as np
import torch
from torch import nn
from _nets import heq_encode, heq_module
from causalabs.network import Alignment, Decoded, Network, argmax_decoder, site


def alignment():
    return Alignment({{"left": site("2", units=[0]), "right": site("2", units=[1])}})

"""


def run(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1", **(env or {})})


def write(folder: Path, name: str, body: str, header: str = HEADER) -> Path:
    path = folder / name
    path.write_text(header + body)
    return path


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for folders), Python's caches left out."""
    return {
        str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if "__pycache__" not in p.parts
    }


def one_error(result, code: int, *fragments: str) -> str:
    """The exit status is ``code``, stdout is empty, stderr is one line holding every fragment."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == "", result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    prefix = "internal error: " if code == 70 else "error: "
    assert lines[0].startswith(prefix), lines[0]
    for f in fragments:
        assert f in lines[0], f"{f!r} not in {lines[0]!r}"
    return lines[0]


