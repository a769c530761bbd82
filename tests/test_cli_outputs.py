"""Output paths are checked before any work: a bad one exits 5 (the environment) and nothing is written.

``--json`` into a folder once failed after VERIFIED was printed; ``search
--out`` on a file crashed.  Each case checks the exit status, one line on
stderr, and the folder unchanged (see tests/_cli_failures.py).
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest
from _cli_failures import HEQ, NET, ROOT, one_error, run, snapshot


# --- output paths: checked before any work, exit 5 ----------------------------------------------------------


def test_json_into_a_folder_exits_5_before_any_verdict(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    before = snapshot(tmp_path)
    r = run("verify", HEQ, "--network", NET, "--json", str(tmp_path / "reports"))
    one_error(r, 5, f"--json {tmp_path / 'reports'}: is a folder")  # stdout empty: no VERIFIED printed first
    assert snapshot(tmp_path) == before


def test_json_under_a_file_exits_5(tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("mine\n")
    before = snapshot(tmp_path)
    r = run("verify", HEQ, "--network", NET, "--json", str(tmp_path / "notes" / "r.json"))
    one_error(r, 5, "notes is a file, so the folder")
    assert snapshot(tmp_path) == before


def test_save_alignment_into_a_folder_exits_5_before_the_search(tmp_path: Path) -> None:
    (tmp_path / "found").mkdir()
    before = snapshot(tmp_path)
    r = run("verify", HEQ, "--network", NET, "--search", "das", "--site", "2", "--save-alignment", str(tmp_path / "found"))
    one_error(r, 5, "--save-alignment", "is a folder")
    assert snapshot(tmp_path) == before


def test_search_out_on_a_file_exits_5_and_leaves_the_file(tmp_path: Path) -> None:
    (tmp_path / "results").write_text("keep me\n")
    before = snapshot(tmp_path)
    r = run("search", HEQ, "--network", NET, "--site", "2", "--out", str(tmp_path / "results"))
    one_error(r, 5, f"--out {tmp_path / 'results'}: is a file; --out takes a folder")
    assert snapshot(tmp_path) == before


def test_search_out_whose_alignments_is_a_file_exits_5(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "alignments").write_text("not a folder\n")
    before = snapshot(tmp_path)
    r = run("search", HEQ, "--network", NET, "--site", "2", "--out", str(tmp_path / "out"))
    one_error(r, 5, "alignments is a file where a folder of results belongs")
    assert snapshot(tmp_path) == before


def test_scrub_json_into_a_folder_exits_5(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    before = snapshot(tmp_path)
    one_error(run("scrub", HEQ, "--network", NET, "--json", str(tmp_path / "r")), 5, "--json", "is a folder")
    assert snapshot(tmp_path) == before


def test_json_over_an_input_file_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    hyp = tmp_path / "heq.py"
    shutil.copy(ROOT / "hypotheses/hierarchical_equality.py", hyp)
    before = snapshot(tmp_path)
    r = run("verify", f"{hyp}:HierarchicalEquality", "--network", NET, "--json", str(hyp))
    one_error(r, 2, f"--json {hyp}: is the hypothesis file")
    r = run("scrub", f"{hyp}:HierarchicalEquality", "--network", NET, "--json", NET)
    one_error(r, 2, f"--json {NET}: is the network file")
    assert snapshot(tmp_path) == before


def test_a_write_that_fails_at_the_end_exits_5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import causalabs.cli.paths as paths

    def full_disk(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(paths, "write_text_atomic", full_disk)
    r = run("verify", HEQ, "--network", NET, "--json", str(tmp_path / "r.json"))
    assert r.exit_code == 5
    assert r.stdout.startswith("VERIFIED")  # the verdict stands; the file could not be written
    assert r.stderr.strip() == f"error: {tmp_path / 'r.json'}: cannot be written (No space left on device)"
    assert not (tmp_path / "r.json").exists()
