"""docs/your_own_network.md runs as written: its files are written, its commands run, its outputs hold.

The page becomes one bash script run in an empty "checkout" holding only a
``.venv`` link to this interpreter's environment (what the page's first
command activates); the page makes its study folder beside it: a ```` ```python title="F" ```` block writes ``F`` in the
shell's current folder; every line of a ```` ```bash ```` block runs in the
same shell (so ``cd`` carries on), its output and exit status recorded; a
trailing ``# exit N`` comment states the status expected (0 otherwise). A
```` ```text ```` block after a bash block is what its last command prints:
its lines must appear in that order, ``...`` standing for any lines and a
line ending in ``...`` for any line with that beginning.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "your_own_network.md"
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```\s*$", re.S | re.M)
EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")


@attrs.frozen
class Command:
    line: str
    expected_status: int
    expected_output: tuple[str, ...] | None = None


def parse(text: str) -> tuple[str, list[Command]]:
    """The bash script for the page, and its commands in order."""
    script, commands = ["set -u"], []
    for m in FENCE.finditer(text):
        lang, info, body = m.group(1), m.group(2), m.group(3)
        if lang == "python" and "title=" in info:
            name = re.search(r'title="([^"]+)"', info)
            assert name, f"a python block's title is not quoted: {info!r}"
            script += [f"cat > {name.group(1)} <<'CAUSALABS_PAGE_EOF'", body.rstrip("\n"), "CAUSALABS_PAGE_EOF"]
        elif lang == "bash":
            for line in body.splitlines():
                if not line.strip():
                    continue
                status = EXIT.search(line)
                cmd = EXIT.sub("", line)
                i = len(commands)
                commands.append(Command(cmd, int(status.group(1)) if status else 0))
                script.append(f"{{ {cmd} ; }} > \"$OUT/{i}.out\" 2>&1; echo $? > \"$OUT/{i}.rc\"")
        elif lang == "text" and commands:
            last = commands[-1]
            commands[-1] = attrs.evolve(last, expected_output=tuple(body.rstrip("\n").splitlines()))
    return "\n".join(script) + "\n", commands


def follows(expected: tuple[str, ...], actual: list[str]) -> bool:
    """Every expected line in order; ``...`` skips any lines, ``prefix...`` matches a line's beginning."""
    i = 0
    skipping = False
    for want in expected:
        if want == "...":
            skipping = True
            continue
        matches = (lambda got: got.startswith(want[:-3])) if want.endswith("...") else (lambda got: got == want)
        while i < len(actual) and not matches(actual[i]):
            if not skipping:
                return False
            i += 1
        if i == len(actual):
            return False
        i += 1
        skipping = False
    return skipping or i == len(actual)


def test_the_output_matcher() -> None:
    assert follows(("a", "...", "d"), ["a", "b", "c", "d"])
    assert not follows(("a", "d"), ["a", "b", "c", "d"])
    assert follows(("...", "2 passed..."), ["x", "2 passed in 3.1s"])
    assert not follows(("...", "3 passed..."), ["x", "2 passed in 3.1s"])
    assert not follows(("a",), ["a", "b"])


@pytest.mark.slow
def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    venv = Path(sys.prefix)
    if not (venv / "bin" / "activate").is_file():
        pytest.skip("not running inside a virtual environment: the page activates one")
    checkout = tmp_path / "checkout"  # the page starts in a checkout and makes its study folder beside it
    checkout.mkdir()
    (checkout / ".venv").symlink_to(venv)
    out = tmp_path / "outputs"
    out.mkdir()
    script, commands = parse(PAGE.read_text())
    assert len(commands) >= 8, "the page lost its commands"
    env = {"OUT": str(out), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    env.update({k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "LANG", "LC_ALL")})
    subprocess.run(["bash", "-c", script], cwd=checkout, env=env, check=True, timeout=600)
    assert sorted(p.name for p in checkout.iterdir()) == [".venv"]  # nothing written into the checkout
    for i, cmd in enumerate(commands):
        printed = (out / f"{i}.out").read_text()
        status = int((out / f"{i}.rc").read_text())
        assert status == cmd.expected_status, f"{cmd.line!r} exited {status}, the page says {cmd.expected_status}:\n{printed}"
        if cmd.expected_output is not None:
            assert follows(cmd.expected_output, printed.splitlines()), (
                f"{cmd.line!r} printed:\n{printed}\nthe page shows:\n" + "\n".join(cmd.expected_output)
            )
