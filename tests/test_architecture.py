"""docs/architecture.md stays true to the code: its drawn blocks, its layer paragraphs, and the module size rule.

The blocks (the import contract and the package tree) are drawn by
``scripts/tree.py``; when one differs from the code the fix is one command,
``python scripts/tree.py --write``.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"


def _load_tree() -> ModuleType:
    spec = importlib.util.spec_from_file_location("causalabs_tree_script", ROOT / "scripts" / "tree.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tree = _load_tree()


@pytest.mark.parametrize("block", sorted(tree.BLOCKS))
def test_the_drawn_block_is_what_the_code_says(block: str) -> None:
    embedded = tree.embedded(DOC.read_text(encoding="utf-8"), block)
    assert embedded is not None, f"docs/architecture.md lost the markers of its {block} block"
    now = tree.BLOCKS[block]()
    if embedded != now:
        diff = "".join(list(difflib.unified_diff(embedded.splitlines(True), now.splitlines(True), "doc", "code"))[:40])
        pytest.fail(
            f"docs/architecture.md: the {block} block differs from the code; run `{tree.COMMAND}` "
            f"(or `make tree`) and commit the result.\n{diff}"
        )


def test_the_tree_is_drawn_from_the_files(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""The package."""\n')
    (pkg / "a.py").write_text('"""First line of a summary\nthat wraps.\n\nDetails."""\n\nX = 1\n')
    (pkg / "sub" / "__init__.py").write_text('"""A subpackage."""\n\n\n')
    (pkg / "sub" / "b.py").write_text("Y = 2\n")
    (pkg / "notes.txt").write_text("not a module\n")
    assert tree.tree(pkg) == (
        "pkg/             11  The package.\n"
        "  __init__.py     1\n"
        "  a.py            6  First line of a summary that wraps.\n"
        "  sub/            4  A subpackage.\n"
        "    __init__.py   3\n"
        "    b.py          1  (no docstring)\n"
    )
    (pkg / "sub" / "b.py").write_text("Y = 2\nZ = 3\n")
    drawn = tree.tree(pkg)
    assert drawn.startswith("pkg/             12  The package.\n")
    assert "    b.py          2  (no docstring)\n" in drawn


def test_write_replaces_only_the_blocks() -> None:
    text = DOC.read_text(encoding="utf-8")
    stale = re.sub(r"(<!-- BEGIN tree[^\n]*-->\n```text\n)", r"\1stale line\n", text)
    assert tree.stale(stale) == ["tree"]
    fixed = tree.rewrite(stale)
    assert tree.stale(fixed) == []
    assert fixed.split("<!-- BEGIN layers")[0] == text.split("<!-- BEGIN layers")[0]


def _layer_modules() -> list[str]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (top,) = [c for c in contracts if c["type"] == "layers" and not c.get("containers")]
    return [m for layer in top["layers"] for m in tree._parts(layer)]


def test_every_layer_of_the_contract_has_its_paragraph() -> None:
    text = DOC.read_text(encoding="utf-8")
    prose = re.sub(r"<!-- BEGIN (\w+).*?<!-- END \1 -->", "", text, flags=re.S)
    missing = [m for m in _layer_modules() if f"`{m}`" not in prose]
    assert not missing, (
        f"docs/architecture.md has no paragraph naming {', '.join(missing)}; "
        "add one under 'The layers' (each module of pyproject's layer contract is named in backticks)"
    )


def test_no_module_passes_the_limit_without_a_stated_reason() -> None:
    over = tree.oversized()
    assert not over, (
        "modules over %d lines without a reason: %s; split them by responsibility, or, if one holds a single "
        "idea, say why in its docstring after '%s' (docs/architecture.md, 'Module size')"
        % (tree.LIMIT, ", ".join(f"{p} ({n})" for p, n in over), tree.MARKER)
    )


def test_the_size_rule_reads_the_marker_in_the_docstring(tmp_path: Path) -> None:
    filler = "X = 1\n" * (tree.LIMIT + 1)
    folder = tmp_path / "tests"
    folder.mkdir()
    (folder / "plain.py").write_text('"""A module."""\n' + filler)
    (folder / "empty_reason.py").write_text(f'"""A module.\n\n{tree.MARKER}\n"""\n' + filler)
    (folder / "reason.py").write_text(f'"""A module.\n\n{tree.MARKER} one table of cases.\n"""\n' + filler)
    (folder / "comment.py").write_text(f"# {tree.MARKER} not in the docstring\n" + filler)
    (folder / "short.py").write_text('"""A module."""\n' + "X = 1\n" * (tree.LIMIT - 1))
    assert tree.stated_reason(folder / "reason.py") == "one table of cases."
    assert [p for p, _ in tree.oversized(tmp_path, ("tests",))] == [
        "tests/comment.py",
        "tests/empty_reason.py",
        "tests/plain.py",
    ]
