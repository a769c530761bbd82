"""`causalabs.cli.layout.print_table`: a table when it fits unfolded, else one block per row, never a cut cell."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from causalabs.cli.layout import print_table

COLUMNS = ["site", "left", "right", "left+right"]
ROWS = [
    ["0.output", "0.512 [0.469, 0.555]", "0.498 [0.455, 0.541]", "0.503 [0.460, 0.546]"],
    ["2.output", "1.000 [0.993, 1.000]", "0.998 [0.989, 1.000]", "1.000 [0.993, 1.000]"],
]


def render(width: int, capsys: pytest.CaptureFixture[str]) -> str:
    buffer = io.StringIO()
    print_table("held-out IIA: H on net (das, seed 0)", COLUMNS, ROWS, right=COLUMNS[1:],
                console=Console(file=buffer, width=width))
    return buffer.getvalue() + capsys.readouterr().out


def test_wide_enough_gives_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    text = render(120, capsys)
    assert "┃ site" in text and max(map(len, text.splitlines())) <= 120
    for row in ROWS:
        assert all(cell in text for cell in row)


def test_narrow_gives_blocks_with_every_interval_whole(capsys: pytest.CaptureFixture[str]) -> None:
    text = render(80, capsys)
    assert "…" not in text and "┃" not in text
    assert max(map(len, text.splitlines())) <= 80
    assert "2.output\n  left        1.000 [0.993, 1.000]\n  right       0.998 [0.989, 1.000]\n" in text
    assert "  left+right  1.000 [0.993, 1.000]" in text
