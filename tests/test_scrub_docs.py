"""docs/scrubbing.md: its first Python block runs and scrubs the trained organism as described, and the
inner-level example of "Passes on cached prefixes" gives the ``execution`` the page shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _cli import run

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


def test_the_inner_level_example_gives_the_execution_the_page_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "Passes on cached prefixes" example: claims.py and the command as written (its --json), then left moved."""
    text = DOC.read_text()
    section = text.split("### Passes on cached prefixes", 1)[1]
    claims = re.search(r"```python\n# claims\.py\n(.*?)```", section, re.DOTALL)
    command = re.search(r"\$ causalabs (scrub .*?)\n\$ python", section, re.DOTALL)
    shown = re.search(r"print\(r\['execution'\], r\['passes_per_batch'\]\)\"\n(\S+) (\d+)\n", section)
    moved = re.search(r'`execution` is `"(suffix; height 1: patch: [^"]*)"`', section)
    assert claims and command and shown and moved
    (tmp_path / "claims.py").write_text(claims.group(1))
    args = command.group(1).replace("\\\n", " ").split()[1:]
    monkeypatch.chdir(tmp_path)
    args = [str(ROOT / a) if a.startswith(("hypotheses/", "models/")) else a for a in args]
    result = run("scrub", *args)
    assert result.exit_code == 0, result.output
    r = json.loads((tmp_path / "r.json").read_text())
    assert (r["execution"], str(r["passes_per_batch"])) == (shown.group(1), shown.group(2))
    (tmp_path / "apart.py").write_text(claims.group(1).replace('"left": site("2", units=[0])', '"left": site("0", units=[0])'))
    assert run("scrub", *[a.replace("claims.py", "apart.py") for a in args]).exit_code == 0
    assert json.loads((tmp_path / "r.json").read_text())["execution"] == " ".join(moved.group(1).split())
