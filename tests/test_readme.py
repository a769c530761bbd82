"""README.md: its Python example prints what the README shows, and its docs table lists every page."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_python_example_prints_what_the_readme_shows() -> None:
    m = re.search(r"```python\n(.*?)```\s*\n\s*prints\s*\n\s*```text\n(.*?)```", README, re.S)
    assert m, "the README's Python example and its printed output are not where this test looks"
    code, shown = m.group(1), m.group(2)
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout == shown


def test_every_docs_page_is_listed_with_a_line() -> None:
    listed = set(re.findall(r"^\| \[(\w+\.md)\]\(docs/\1\) \| \S", README, re.M))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert pages == listed, f"missing from the README: {sorted(pages - listed)}; no such page: {sorted(listed - pages)}"


def test_verify_md_opens_with_python_that_runs_as_written() -> None:
    page = (ROOT / "docs" / "verify.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    run = subprocess.run([sys.executable, "-c", code + "\nassert report.verdict == 'verified', report.reason\n"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
