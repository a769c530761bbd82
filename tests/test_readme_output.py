"""The README's main-job output blocks are what the commands print, to the character.

The README shows `make verify`'s command and its output, then the wrong
twin's command and its output.  Each command runs here from the checkout
(where its relative paths point) and its stdout must equal the block under
it.  The footer's versions are the locked ones: torch as the Makefile pins
it (the CPU build) and causalabs' own version.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from causalabs import __version__
from causalabs.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
runner = CliRunner()


MAIN_JOB = README.split("## Main job", 1)[1].split("\n## ", 1)[0]


def command_blocks() -> list[tuple[str, str]]:
    """(command, the output block under it) for each `causalabs verify` of the main job."""
    found = re.findall(r"```bash\n((?:\.venv/bin/)?causalabs verify [^\n]+)\n```\n.*?```\n(.*?)```", MAIN_JOB, re.S)
    return [(command, block) for command, block in found]


def locked_torch() -> str:
    pin = re.search(r"^TORCH \?= torch==(\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert pin, "the Makefile pins torch"
    return f"{pin.group(1)}+cpu"


BLOCKS = command_blocks()


def test_the_readme_shows_the_verified_and_the_refuted_main_job() -> None:
    assert [c.split(":")[1].split()[0] for c, _ in BLOCKS] == ["HierarchicalEquality", "SwappedEquality"]
    assert [block.splitlines()[0].split(":")[0] for _, block in BLOCKS] == ["VERIFIED", "REFUTED"]
    assert "(exit status 0)" in MAIN_JOB and "(exit status 1)" in MAIN_JOB


@pytest.mark.parametrize(("command", "block"), BLOCKS, ids=["verified", "refuted"])
def test_main_job_prints_the_readme_block(command: str, block: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    args = command.split()[1:]  # after causalabs
    r = runner.invoke(app, args, env={"COLUMNS": "80"})
    footer = block.rstrip("\n").splitlines()[-1]
    assert footer == f"no seed (every pair), causalabs {__version__}, torch {locked_torch()}, device cpu"
    printed = r.stdout
    if torch.__version__ != locked_torch():  # another torch build than the lock's: compare all but its name
        printed = printed.replace(f"torch {torch.__version__},", f"torch {locked_torch()},")
    assert printed == block
    assert r.exit_code == {"VERIFIED": 0, "REFUTED": 1}[block.split(":")[0]]
