"""Draw the house from the code: the import layers and the package tree, embedded in docs/architecture.md.

    python scripts/tree.py            # print both blocks
    python scripts/tree.py --write    # rewrite them in docs/architecture.md (or: make tree)
    python scripts/tree.py --check    # exit 1 when docs/architecture.md's blocks differ from the code

The *layers* block lists pyproject.toml's import-linter contracts, top layer
first (``lint-imports`` checks them).  The *tree* block lists every module of
``causalabs/`` with its line count and the first line (first paragraph) of its
docstring; a folder shows its total and its ``__init__`` docstring.  Each
block sits between an opening marker ``<!-- BEGIN name ... -->`` and
``<!-- END name -->``; ``--write`` replaces only what is between them.

Only files are read (``ast``, ``tomllib``); nothing is imported from
causalabs, so it runs without installing the package.  The output depends on
the files alone: the same checkout gives the same bytes anywhere.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "causalabs"
PYPROJECT = ROOT / "pyproject.toml"
DOC = ROOT / "docs" / "architecture.md"
COMMAND = "python scripts/tree.py --write"
INDENT = "  "
#: Folders whose modules must stay under :data:`LIMIT` lines unless their docstring says why.
SIZED = ("causalabs", "benchmarks", "models", "tests")
LIMIT = 400
#: The phrase, followed on the same line by the reason, that lets a module pass :data:`LIMIT` lines.
MARKER = "Long on purpose:"


def line_count(path: Path) -> int:
    """Lines of a file, as ``wc -l`` counts them when the file ends with a newline."""
    return len(path.read_text(encoding="utf-8").splitlines())


def summary(path: Path) -> str:
    """The first paragraph of a module's docstring on one line ("(no docstring)" when it has none)."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    if not doc:
        return "(no docstring)"
    first = doc.strip().split("\n\n")[0]
    return " ".join(first.split())


def stated_reason(path: Path) -> str | None:
    """The reason after :data:`MARKER` in the module's docstring, or None when it states none."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))) or ""
    m = re.search(re.escape(MARKER) + r"[ \t]*(\S[^\n]*)", doc)
    return None if m is None else m.group(1).strip()


def oversized(root: Path = ROOT, folders: tuple[str, ...] = SIZED) -> list[tuple[str, int]]:
    """Modules over :data:`LIMIT` lines whose docstring states no reason: (path from ``root``, lines)."""
    out = []
    for folder in folders:
        for p in sorted((root / folder).rglob("*.py")):
            if "__pycache__" in p.parts:
                continue
            n = line_count(p)
            if n > LIMIT and stated_reason(p) is None:
                out.append((p.relative_to(root).as_posix(), n))
    return out


def _is_package(path: Path) -> bool:
    return path.is_dir() and (path / "__init__.py").is_file()


def _total(folder: Path) -> int:
    return sum(line_count(p) for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _rows(folder: Path, depth: int) -> list[tuple[str, int, str]]:
    """(indented name, lines, summary) for ``folder``'s modules, then its subpackages, each sorted."""
    rows: list[tuple[str, int, str]] = []
    pad = INDENT * depth
    for p in sorted(folder.glob("*.py")):
        rows.append((pad + p.name, line_count(p), "" if p.name == "__init__.py" else summary(p)))
    for sub in sorted(p for p in folder.iterdir() if _is_package(p)):
        rows.append((pad + sub.name + "/", _total(sub), summary(sub / "__init__.py")))
        rows.extend(_rows(sub, depth + 1))
    return rows


def tree(package: Path = PACKAGE) -> str:
    """The package as an indented tree: name, line count, docstring summary; one line each."""
    rows = [(package.name + "/", _total(package), summary(package / "__init__.py"))]
    rows.extend(_rows(package, 1))
    width = max(len(name) for name, _, _ in rows)
    digits = max(len(f"{n:,}") for _, n, _ in rows)
    lines = [f"{name:<{width}}  {n:>{digits},}  {text}".rstrip() for name, n, text in rows]
    return "\n".join(lines) + "\n"


def _parts(layer: str) -> list[str]:
    return [part.strip().strip("()").strip() for part in layer.split("|")]


def layers(pyproject: Path = PYPROJECT) -> str:
    """pyproject.toml's import-linter contracts as text: each layers contract top-down, then the forbidden ones."""
    import tomllib

    contracts = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
    out: list[str] = []
    for c in contracts:
        out.append(f"{c['name']}  ({c['type']})")
        if c["type"] == "layers":
            where = c.get("containers", [])
            prefix = f"{where[0]}." if len(where) == 1 else ""
            for layer in c["layers"]:
                out.append(INDENT + "  |  ".join(prefix + p for p in _parts(layer)))
            out.append(INDENT + "(each line may import only the lines below it)")
        elif c["type"] == "forbidden":
            out.append(INDENT + ", ".join(c["source_modules"]) + "  must not import  " + ", ".join(c["forbidden_modules"]))
        else:
            out.append(INDENT + "(see pyproject.toml)")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


BLOCKS = {"layers": layers, "tree": tree}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- BEGIN {name}\b[^\n]*-->\n```text\n)(.*?)(```\n<!-- END {name} -->)", re.S)


def embedded(text: str, name: str) -> str | None:
    """The block ``name`` as embedded in ``text`` (None when its markers are missing)."""
    m = _pattern(name).search(text)
    return None if m is None else m.group(2)


def rewrite(text: str) -> str:
    """``text`` with every block replaced by what the code says now."""
    for name, make in BLOCKS.items():
        if embedded(text, name) is None:
            raise SystemExit(f"{DOC}: no markers for the {name} block (<!-- BEGIN {name} --> ... <!-- END {name} -->)")
        body = make()
        text = _pattern(name).sub(lambda m, body=body: m.group(1) + body + m.group(3), text)
    return text


def stale(text: str) -> list[str]:
    """Names of the blocks whose embedded text differs from the code."""
    return [name for name, make in BLOCKS.items() if embedded(text, name) != make()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the blocks in docs/architecture.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when docs/architecture.md is stale")
    args = parser.parse_args(argv)
    if args.write:
        text = DOC.read_text(encoding="utf-8")
        new = rewrite(text)
        if new != text:
            DOC.write_text(new, encoding="utf-8")
        print(f"{DOC.relative_to(ROOT)}: {'rewritten' if new != text else 'already up to date'}")
        return 0
    if args.check:
        names = stale(DOC.read_text(encoding="utf-8"))
        if names:
            print(f"{DOC.relative_to(ROOT)}: the {' and '.join(names)} block differs from the code; run {COMMAND}")
            return 1
        return 0
    print(layers())
    print(tree(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
