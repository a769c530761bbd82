"""docs/scrubbing.md: its first Python block runs and scrubs the trained organism as described."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "scrubbing.md"


def test_the_usage_block_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert block is not None
    monkeypatch.chdir(ROOT)
    namespace: dict = {"__name__": "docs_scrubbing", "print": lambda *a, **k: None}
    exec(compile(block.group(1), str(DOC), "exec"), namespace)  # noqa: S102 - the doc is ours
    r = namespace["r"]
    assert r.n == 4_000 and r.loss_recovered.value >= 0.9
