"""A crash never reads as a verdict: a failure inside the user's code exits 4, a bug of ours 70, never 1.

Each case runs the command line on a small misbehaving network or
hypothesis file and checks the exit status, that stderr is exactly one
line naming the file, line and function at fault, that stdout is empty (no
verdict printed), and that nothing was written (see tests/_cli_failures.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _cli_failures import HEADER, HEQ, NET, one_error, run, snapshot, write


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
