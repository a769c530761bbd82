"""The docs site: mkdocs-material builds docs/ with --strict (no warning), and every page is in its navigation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("mkdocs", reason="the docs extra (pip install -e '.[docs]')")


def test_every_page_is_in_the_navigation():
    nav = set(re.findall(r":\s*([\w/]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert pages == nav, f"missing from mkdocs.yml nav: {sorted(pages - nav)}; not a page: {sorted(nav - pages)}"


def test_the_site_builds_without_warnings(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr
    html = (tmp_path / "site/figures/index.html").read_text()
    assert "causalabs plot" in html and "Byte-identical regeneration" in html
