"""docs/hypotheses.md: its Python blocks run in order, and the values in comments are right.

A line ``expr  # [1, 0, 0]`` (or ``# 0``) asserts that ``expr`` has that value;
``print(exc)  # message`` asserts the exception's message.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[1] / "docs" / "hypotheses.md"
VALUE = re.compile(r"^(?P<expr>\S.*?)\s+# (?P<want>\[[-\d, ]*\]|-?\d+)$")
MESSAGE = re.compile(r"^(?P<indent>\s*)print\((?P<name>\w+)\)\s+# (?P<want>.+)$")


def _blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def _with_checks(block: str) -> tuple[str, int]:
    out, checks = [], 0
    for line in block.splitlines():
        if m := MESSAGE.match(line):
            out.append(f"{m['indent']}assert str({m['name']}) == {m['want']!r}, str({m['name']})")
            checks += 1
        elif (m := VALUE.match(line)) and not line.startswith((" ", "#")):
            want = ast.literal_eval(m["want"])
            out.append(f"__check({m['expr']}, {want!r}, {m['expr']!r})")
            checks += 1
        else:
            out.append(line)
    return "\n".join(out), checks


def _check(got, want, expr):
    got = np.asarray(got).tolist()
    assert got == want, f"{expr}: documented {want}, got {got}"


def test_the_python_examples_in_the_hypotheses_doc_run(capsys):
    blocks = _blocks(DOC.read_text())
    assert len(blocks) >= 6
    namespace: dict = {"__name__": "docs_hypotheses", "__check": _check}
    total = 0
    for i, block in enumerate(blocks):
        code, checks = _with_checks(block)
        total += checks
        exec(compile(code, f"{DOC.name}[block {i}]", "exec"), namespace)
    assert total >= 7  # the documented values were actually checked
    assert "hypothesis HierarchicalEquality" in capsys.readouterr().out
