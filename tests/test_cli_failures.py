"""A crash never reads as a verdict: every failure has its exit status, one line on stderr, and writes nothing.

Exit statuses (docs/verify.md): 0 verified, 1 refuted (only), 2 usage or
input error, 3 inconclusive, 4 a failure inside the user's code, 5 the
environment (an output path that cannot be written), 70 an internal error.
Each case below runs the command line on a small misbehaving network file,
hypothesis file, alignment file, report file or output path, and checks
the exit status, that stderr is exactly one line naming the file or
function at fault, that stdout is empty (no verdict was printed), and that
nothing was written (the ``--json`` target and the ``--out`` folder do not
exist afterwards; no other file appeared or changed).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _nets import heq_encode, heq_module
from torch import nn
from typer.testing import CliRunner

from causalabs.backends.native import NativeBackend
from causalabs.cli import app
from causalabs.engine.evaluate import run_patched
from causalabs.errors import NonFiniteError
from causalabs.network import Network, argmax_decoder, site

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
HEQ = f"{ROOT}/hypotheses/hierarchical_equality.py:HierarchicalEquality"
NET = str(ROOT / "models/heq_handbuilt.py")
runner = CliRunner()

#: Every network file below starts with this: the hand-built heq MLP (tests/_nets.py) and its alignment.
HEADER = f"""\
import sys
if {str(TESTS)!r} not in sys.path:
    sys.path.insert(0, {str(TESTS)!r})
import numpy as np
import torch
from torch import nn
from _nets import heq_encode, heq_module
from causalabs.network import Alignment, Decoded, Network, argmax_decoder, site


def alignment():
    return Alignment({{"left": site("2", units=[0]), "right": site("2", units=[1])}})

"""


def run(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1", **(env or {})})


def write(folder: Path, name: str, body: str, header: str = HEADER) -> Path:
    path = folder / name
    path.write_text(header + body)
    return path


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for folders), Python's caches left out."""
    return {
        str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if "__pycache__" not in p.parts
    }


def one_error(result, code: int, *fragments: str) -> str:
    """The exit status is ``code``, stdout is empty, stderr is one line holding every fragment."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == "", result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    prefix = "internal error: " if code == 70 else "error: "
    assert lines[0].startswith(prefix), lines[0]
    for f in fragments:
        assert f in lines[0], f"{f!r} not in {lines[0]!r}"
    return lines[0]


# --- a failure inside the user's code: exit 4 --------------------------------------------------------------


USER_CODE = {
    "load_raises": (
        "def load():\n    raise RuntimeError('weights missing')\n",
        ["load_raises.py:", "(load)", "load() raised RuntimeError: weights missing"],
    ),
    "load_exits": (
        "def load():\n    sys.exit(0)\n",
        ["load_exits.py:", "(load)", "load() called sys.exit(0)"],
    ),
    "module_level_exits": (
        "sys.exit(0)\n",
        ["module_level_exits.py:", "(module level)", "importing the file called sys.exit(0)"],
    ),
    "module_level_raises": (
        "WEIGHTS = {}['w']\n",
        ["module_level_raises.py:", "(module level)", "importing the file raised KeyError: 'w'"],
    ),
    "syntax_error": (
        "def load(:\n    pass\n",
        ["syntax_error.py", "importing the file raised SyntaxError"],
    ),
    "encode_raises": (
        "def enc(batch):\n    return torch.from_numpy(np.eye(3, dtype=np.float32)[batch['w']])\n"
        "def load():\n    return Network(heq_module(), enc, argmax_decoder((0, 1)))\n",
        ["encode_raises.py:", "(enc)", "encode() raised IndexError"],
    ),
    "encode_wrong_dtype": (
        "def load():\n    return Network(heq_module(), lambda b: heq_encode(b).double(), argmax_decoder((0, 1)))\n",
        ["network encode_wrong_dtype", "the module's forward raised RuntimeError", "Double and Float"],
    ),
    "forward_raises": (
        "class Boom(nn.Module):\n    def forward(self, x):\n        raise ValueError('boom')\n"
        "def load():\n    m = heq_module()\n"
        "    return Network(nn.Sequential(*m, Boom()), heq_encode, argmax_decoder((0, 1)))\n",
        ["forward_raises.py:", "(Boom.forward)", "the module's forward raised ValueError: boom"],
    ),
    "forward_exits": (
        "class Quit(nn.Module):\n    def forward(self, x):\n        sys.exit(3)\n"
        "def load():\n    return Network(nn.Sequential(*heq_module(), Quit()), heq_encode, argmax_decoder((0, 1)))\n",
        ["forward_exits.py:", "(Quit.forward)", "the module's forward called sys.exit(3)"],
    ),
    "decode_raises": (
        "def dec(out):\n    return Decoded(out.argmax(-1), out, CLASSES)\n"
        "def load():\n    return Network(heq_module(), heq_encode, dec)\n",
        ["decode_raises.py:", "(dec)", "decode() raised NameError"],
    ),
    "alignment_raises": (
        "def alignment():\n    return Alignment({'left': SITES['left']})\n"
        "def load():\n    return Network(heq_module(), heq_encode, argmax_decoder((0, 1)))\n",
        ["alignment_raises.py:", "(alignment)", "alignment() raised NameError"],
    ),
}


@pytest.mark.parametrize("case", sorted(USER_CODE))
def test_a_failure_in_the_network_file_exits_4(case: str, tmp_path: Path) -> None:
    body, fragments = USER_CODE[case]
    net = write(tmp_path, f"{case}.py", body)
    before = snapshot(tmp_path)
    r = run("verify", HEQ, "--network", str(net), "--json", str(tmp_path / "out" / "r.json"))
    one_error(r, 4, *fragments)
    assert snapshot(tmp_path) == before  # no report, no folder


def test_an_alignment_function_that_raises_exits_4(tmp_path: Path) -> None:
    fns = write(tmp_path, "alignments.py", "def make():\n    raise KeyError('left')\n", header="")
    r = run("verify", HEQ, "--network", NET, "--alignment", f"{fns}:make")
    one_error(r, 4, "alignments.py:", "(make)", "make() raised KeyError: 'left'")


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ("import sys\nsys.exit(0)\n", ["hyp.py:2 (module level)", "importing the file called sys.exit(0)"]),
        ("import causalabs as ca\nclass H(ca.Hypothesis):\n    a = ca.input('a', domain=rnage(2))\n",
         ["hyp.py:3 (H)", "raised NameError: name 'rnage' is not defined"]),
    ],
)
def test_a_hypothesis_file_that_fails_when_imported_exits_4(body: str, fragments: list[str], tmp_path: Path) -> None:
    hyp = write(tmp_path, "hyp.py", body, header="")
    for args in (("show", f"{hyp}:H"), ("verify", f"{hyp}:H", "--network", NET)):
        one_error(run(*args), 4, *fragments)


def test_the_installed_command_exits_4_on_sys_exit_in_a_hypothesis_file(tmp_path: Path) -> None:
    """A real process: ``sys.exit(0)`` in user code must not end causalabs with status 0."""
    exe = shutil.which("causalabs") or str(Path(sys.executable).with_name("causalabs"))
    if not Path(exe).exists():
        pytest.skip("the causalabs command is not installed")
    hyp = write(tmp_path, "hyp.py", "import sys\nsys.exit(0)\n", header="")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run([exe, "show", f"{hyp}:H"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 4, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr.strip() == "error: hyp.py:2 (module level): importing the file called sys.exit(0)"


def test_traceback_prints_the_trace_then_the_line(tmp_path: Path) -> None:
    net = write(tmp_path, "net.py", "def load():\n    raise RuntimeError('weights missing')\n")
    r = run("--traceback", "verify", HEQ, "--network", str(net))
    assert r.exit_code == 4
    assert "Traceback (most recent call last)" in r.stderr
    assert "RuntimeError: weights missing" in r.stderr  # the user's own exception, as the cause
    line = HEADER.count("\n") + 2  # the raise in load()
    assert r.stderr.strip().splitlines()[-1].endswith(f"/net.py:{line} (load): load() raised RuntimeError: weights missing")
    env = run("verify", HEQ, "--network", str(net), env={"CAUSALABS_TRACEBACK": "1"})
    assert "Traceback (most recent call last)" in env.stderr


# --- bad values from the network, mismatched names: exit 2 ------------------------------------------------


INPUT_ERRORS = {
    "encode_wrong_key": (
        "def enc(batch):\n    return heq_encode({'w': batch['ww'], 'x': batch['x'], 'y': batch['y'], 'z': batch['z']})\n"
        "def load():\n    return Network(heq_module(), enc, argmax_decoder((0, 1)))\n",
        ["encode_wrong_key.py:", "(enc)", "reads the input 'ww'", "its inputs: w, x, y, z"],
    ),
    "decode_wrong_shape": (
        "def dec(out):\n    return Decoded(out.argmax(-1)[:, None].repeat(1, 2))\n"
        "def load():\n    return Network(heq_module(), heq_encode, dec)\n",
        ["network decode_wrong_shape", "decode() gave values of shape (16, 2)", "shape (n,)"],
    ),
    "decode_too_few_rows": (
        "def dec(out):\n    return Decoded(out.argmax(-1)[1:], out[1:], (0, 1))\n"
        "def load():\n    return Network(heq_module(), heq_encode, dec)\n",
        ["network decode_too_few_rows", "decode() gave 15 values for 16 output rows"],
    ),
    "decode_floats": (  # once truncated to int and VERIFIED
        "def dec(out):\n    return Decoded(out.argmax(-1).float() + 0.25)\n"
        "def load():\n    return Network(heq_module(), heq_encode, dec)\n",
        ["network decode_floats", "decode() gave float32 values", "integer tensor"],
    ),
    "decode_outside_domain": (
        "def load():\n    return Network(heq_module(), heq_encode, argmax_decoder((0, 7)))\n",
        ["network decode_outside_domain: decode() gave 7", "HierarchicalEquality.out takes values in {0, 1}"],
    ),
    "decode_not_decoded": (
        "def load():\n    return Network(heq_module(), heq_encode, lambda out: out.argmax(-1))\n",
        ["network decode_not_decoded", "decode() returned Tensor, not a causalabs Decoded"],
    ),
    "nan_logits_after_the_site": (  # once REFUTED with a "counterexample"
        "class NaNs(nn.Module):\n    def forward(self, x):\n        return x * float('nan')\n"
        "def load():\n    m = list(heq_module())\n"
        "    return Network(nn.Sequential(*m[:3], NaNs(), *m[3:]), heq_encode, argmax_decoder((0, 1)))\n",
        ["network nan_logits_after_the_site", "scores decode() read hold NaN or infinity", "16 of 16 rows"],
    ),
    "inf_at_the_site": (  # once REFUTED with a "counterexample"
        "class Infs(nn.Module):\n    def forward(self, x):\n        return x + float('inf')\n"
        "def load():\n    m = list(heq_module())\n"
        "    return Network(nn.Sequential(*m[:2], Infs(), *m[2:]), heq_encode, argmax_decoder((0, 1)))\n",
        ["site 2.output<units [0]>", "inf_at_the_site holds NaN or infinity"],
    ),
}


@pytest.mark.parametrize("case", sorted(INPUT_ERRORS))
def test_bad_values_from_the_network_exit_2(case: str, tmp_path: Path) -> None:
    body, fragments = INPUT_ERRORS[case]
    net = write(tmp_path, f"{case}.py", body)
    before = snapshot(tmp_path)
    r = run("verify", HEQ, "--network", str(net), "--json", str(tmp_path / "out" / "r.json"))
    one_error(r, 2, *fragments)
    assert snapshot(tmp_path) == before


def test_hypothesis_inputs_named_unlike_what_encode_reads_exit_2(tmp_path: Path) -> None:
    hyp = write(
        tmp_path, "renamed.py",
        "import sympy as sp\nimport causalabs as ca\n\n\nclass Renamed(ca.Hypothesis):\n"
        "    a, b, c, d = ca.inputs('a b c d', domain=range(4))\n    left = ca.var(sp.Eq(a, b))\n"
        "    right = ca.var(sp.Eq(c, d))\n    out = ca.output(sp.Eq(left, right))\n",
        header="",
    )
    r = run("verify", f"{hyp}:Renamed", "--network", NET)
    one_error(r, 2, "encode() of network heq_handbuilt reads the input 'w'", "its inputs: a, b, c, d")


def test_das_through_a_network_with_no_gradient_exits_2(tmp_path: Path) -> None:
    net = write(
        tmp_path, "step.py",
        "class Step(nn.Module):\n    def forward(self, x):\n        return (x > 0).float()\n"
        "def load():\n    m = list(heq_module())\n"
        "    return Network(nn.Sequential(*m[:3], Step(), *m[3:]), heq_encode, argmax_decoder((0, 1)))\n",
    )
    saved = tmp_path / "found.json"
    before = snapshot(tmp_path)
    r = run("verify", HEQ, "--network", str(net), "--search", "das", "--site", "2", "--save-alignment", str(saved))
    one_error(r, 2, "no gradient reaches step's scores from 2.output", "neurons or pca")
    assert snapshot(tmp_path) == before


def test_nan_logits_under_an_intervention_name_the_patched_site() -> None:
    """Finite on every plain input, NaN once a patched value leaves the range: the error names the site."""

    class SqrtOfOneMinus(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sqrt(1 - x)

    m = list(heq_module())
    net = Network(nn.Sequential(*m[:3], SqrtOfOneMinus(), *m[3:]).eval(), heq_encode, argmax_decoder((0, 1)), name="sqrt")
    base = {k: np.zeros(4, dtype=np.int64) for k in "wxyz"}
    source = {k: np.ones(4, dtype=np.int64) for k in "wxyz"}
    where = site("2", units=[0])
    with pytest.raises(NonFiniteError, match=r"network sqrt: .*NaN or infinity .*, with 2\.output<units \[0\]> patched"):
        run_patched(net, NativeBackend(), base, [source], [where], [torch.full((4, 2), 5.0)],
                    torch.zeros(1, 4, dtype=torch.long), batch_size=4)


# --- hypothesis files: Python on symbolic variables, in the user's names: exit 2 -------------------------


@pytest.mark.parametrize(
    ("mechanism", "fragments"),
    [
        ("max(a, b)", ["write sp.Max(a, b)", "Python asked whether b > a"]),
        ("min(a, b)", ["write sp.Min(a, b)", "Python asked whether b < a"]),
        ("a if a > b else b", ["sp.Piecewise((x, cond), (y, True))", "Python asked whether a > b"]),
        ("sp.Eq(a, 1) and b", ["sp.And(...), sp.Or(...)"]),
        ("math.floor(a / 2)", ["sp.floor"]),
        ("int(a) + b", ["where Python needs an int"]),
    ],
)
def test_python_on_symbolic_variables_names_the_users_symbols(mechanism: str, fragments: list[str], tmp_path: Path) -> None:
    hyp = write(
        tmp_path, "hyp.py",
        "import math\nimport sympy as sp\nimport causalabs as ca\n\n\nclass Biggest(ca.Hypothesis):\n"
        f"    a, b = ca.inputs('a b', domain=range(4))\n    m = ca.var({mechanism})\n    out = ca.output(m)\n",
        header="",
    )
    line = one_error(run("show", f"{hyp}:Biggest"), 2, "hyp.py:8 (Biggest)", f"`m = ca.var({mechanism})`", *fragments)
    assert "_ca_" not in line  # no placeholder names


# --- alignment and report files that are not what they claim: exit 2 ---------------------------------------


#: Each malformed file, and what the error line says about it as an alignment file and as a report.
BAD_FILES = {
    "a list": ("[1, 2]", "schema None, expected 'causalabs.alignment'", "not a causalabs report (schema None"),
    "a list where a dict belongs": (
        json.dumps({"schema": "causalabs.alignment", "version": 1, "weights": None, "featurizers": [], "sites": [1, 2]}),
        "field sites: expected an object, got list", "malformed causalabs report (AttributeError",
    ),
    "100k-deep JSON": ("[" * 100_000 + "]" * 100_000, "nested too deeply", "nested too deeply"),
    "not UTF-8": (b"\xff\xfe{}", "not UTF-8 text", "not UTF-8 text"),
    "a folder": (None, "is a directory, not an alignment file", "is a directory, not a report file"),
}


def _bad_file(folder: Path, case: str, as_report: bool) -> tuple[Path, str]:
    content, as_alignment_says, as_report_says = BAD_FILES[case]
    folder.mkdir()
    p = folder / "f.json"
    if case == "a list where a dict belongs" and as_report:  # a well-formed digest, so the field is what fails
        from causalabs.verification.report.report import SCHEMA, report_digest

        doc = {"schema": SCHEMA, "counterexample": None, "per_variable": [1]}
        content = json.dumps({**doc, "digest": report_digest(doc)})
    if content is None:
        p.mkdir()
    elif isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    return p, as_report_says if as_report else as_alignment_says


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_malformed_alignment_file_exits_2(case: str, tmp_path: Path) -> None:
    path, fragment = _bad_file(tmp_path / "files", case, as_report=False)
    before = snapshot(tmp_path)
    r = run("verify", HEQ, "--network", NET, "--alignment", str(path), "--json", str(tmp_path / "r.json"))
    one_error(r, 2, str(path), fragment)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_malformed_report_file_exits_2(case: str, tmp_path: Path) -> None:
    path, fragment = _bad_file(tmp_path / "files", case, as_report=True)
    one_error(run("report", str(path)), 2, str(path), fragment)


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


# --- an internal error: exit 70, never 1 -------------------------------------------------------------------


def test_a_bug_in_causalabs_exits_70_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception raised in causalabs' own code (here: rendering calls a builtin that refuses a Report)."""
    import causalabs.verification.report.render as render

    monkeypatch.setattr(render, "to_text", int)
    r = run("verify", HEQ, "--network", NET)
    one_error(r, 70, "raised TypeError: int() argument", "causalabs/cli/verify.py:", "a bug in causalabs", "--traceback")
    traced = run("--traceback", "verify", HEQ, "--network", NET)
    assert traced.exit_code == 70 and "Traceback (most recent call last)" in traced.stderr


def test_user_code_called_without_a_guard_is_still_blamed_on_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """The last line of defence reads the traceback: an exception raised in a user's file is exit 4, not 70."""
    import causalabs.verification.report.render as render

    def users_renderer(report: object) -> str:
        raise LookupError("a user's hook")

    monkeypatch.setattr(render, "to_text", users_renderer)
    one_error(run("verify", HEQ, "--network", NET), 4, "test_cli_failures.py:", "(test_user_code_called_without_a_guard",
              "raised LookupError: a user's hook")
