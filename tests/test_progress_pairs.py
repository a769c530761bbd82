"""The pair-level progress bar: pairs done / total, pairs/s and time left on a terminal's stderr, nothing elsewhere."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from causalabs.executor import progress
from causalabs.executor.progress import PairBar, count_pairs, counting, pair_bars, pair_progress
from _cli import run

ROOT = Path(__file__).resolve().parents[1]
HEQ = str(ROOT / "hypotheses/hierarchical_equality.py")
NET = str(ROOT / "models/heq_handbuilt.py")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=150, color_system=None), out


def test_a_terminal_shows_pairs_rate_and_time_left_after_the_delay_and_reaches_the_total() -> None:
    console, out = _terminal()
    clock = Clock()
    with PairBar(100, "sample", console=console, clock=clock, delay=2.0, auto_refresh=False) as bar:
        clock.now = 1.0
        bar.advance(10)
        assert out.getvalue() == ""  # before the delay: nothing drawn
        clock.now = 3.0
        bar.advance(10)
        clock.now = 4.0
        bar.advance(20)  # 30 pairs in the 3 s since the first count: 10 pairs/s, 60 left: 6 s
        frame = out.getvalue()
        assert "40/100" in frame and "10 pairs/s" in frame and "left 0:00:06" in frame, frame
        clock.now = 5.0
        bar.advance(60)
    text = out.getvalue()
    assert "100/100" in text and "pairs/s" in text


def test_one_batch_for_all_pairs_still_gives_a_rate() -> None:
    """rich's rate needs two counts; with one (a slow model, one batch), the mean since the start is shown."""
    console, out = _terminal()
    clock = Clock()
    with PairBar(48, console=console, clock=clock, delay=2.0, auto_refresh=False) as bar:
        clock.now = 8.0
        bar.advance(48)
    assert "48/48 pairs 6 pairs/s left 0:00:00" in out.getvalue(), out.getvalue()


def test_work_shorter_than_the_delay_prints_nothing() -> None:
    console, out = _terminal()
    clock = Clock()
    with PairBar(50, console=console, clock=clock, delay=2.0, auto_refresh=False) as bar:
        clock.now = 1.5
        bar.advance(50)
    assert out.getvalue() == ""


@pytest.mark.parametrize("terminal", [False, True])
def test_not_a_terminal_or_disabled_prints_nothing(terminal: bool) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal)
    clock = Clock()
    with PairBar(10, console=console, clock=clock, delay=0.0, enabled=not terminal, auto_refresh=False) as bar:
        clock.now = 5.0
        bar.advance(10)
    assert out.getvalue() == ""


def test_counts_reach_only_the_innermost_sink_and_only_inside_pair_bars() -> None:
    got: list[int] = []
    count_pairs(3)  # no sink: nothing happens
    with counting(got.append):
        count_pairs(4)
    count_pairs(5)
    assert got == [4]
    assert progress._sink is None
    with pair_progress(10, "x"):  # bars off (the API's default): no sink installed
        assert progress._sink is None
    with pair_bars(False), pair_progress(10, "x"):  # --no-progress
        assert progress._sink is None
    console, _ = _terminal()
    with pair_bars(console=console, auto_refresh=False), pair_progress(10, "outer"):
        outer = progress._sink
        assert outer is not None
        with pair_progress(5, "inner"):  # an inner count joins the outer bar
            assert progress._sink is outer


def _verify(mode: str, *extra: str) -> object:
    return run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", mode, "--samples", "400",
               "--threshold", "0.95", *extra)


@pytest.mark.parametrize("mode", ["sample", "exhaustive", "sequential"])
def test_verify_shows_the_bar_on_a_terminal_stderr_only_and_stdout_is_unchanged(
    mode: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    extra = ("--max-pairs", "400") if mode == "sequential" else ()
    plain = _verify(mode, *extra, "--json", str(tmp_path / "plain.json"))
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: stderr counts as a terminal
    monkeypatch.setattr(progress, "DELAY", 0.0)  # no wait before the bar (a fast check)
    shown = _verify(mode, *extra, "--json", str(tmp_path / "shown.json"))
    off = _verify(mode, *extra, "--no-progress", "--json", str(tmp_path / "off.json"))
    assert plain.exit_code == shown.exit_code == off.exit_code, shown.output
    assert "pairs/s" not in plain.stderr and "pairs/s" not in off.stderr
    assert f"{mode}" in shown.stderr and "pairs/s" in shown.stderr and "left" in shown.stderr, shown.stderr
    assert "pairs/s" not in shown.stdout
    done, total = (int(x) for x in re.findall(r"(\d+)/(\d+) pairs", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.stderr))[-1])
    sets = len(json.loads((tmp_path / "plain.json").read_text())["per_variable"])
    if mode == "sample":
        assert done == total == 400 * sets  # every drawn pair of every set, counted by the engine
    elif mode == "exhaustive":
        assert done == total  # every run of every set
    else:
        assert total == 400 * sets and 0 < done <= total  # the budget; a decision may stop it sooner
    assert plain.stdout == shown.stdout == off.stdout
    docs = [json.loads((tmp_path / f"{n}.json").read_text()) for n in ("plain", "shown", "off")]
    for d in docs:  # the run's own seconds differ from run to run, with or without a bar
        del d["timing"]
    assert docs[0] == docs[1] == docs[2]
