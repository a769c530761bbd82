"""Bad values from the network, mismatched names, malformed files: exit 2 with one line naming the culprit.

Once a decoder returning floats was truncated and VERIFIED, NaN logits and
infinity at a site gave REFUTED with a "counterexample", and a malformed
alignment or report file printed a traceback and exited 1.  Each case
checks the exit status, one line on stderr, an empty stdout and that
nothing was written (see tests/_cli_failures.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from _cli_failures import HEQ, NET, one_error, run, snapshot, write
from _nets import heq_encode, heq_module
from torch import nn

from causalabs.backends.native import NativeBackend
from causalabs.engine.evaluate import run_patched
from causalabs.errors import NonFiniteError
from causalabs.network import Network, argmax_decoder, site


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
        # plain variables: Python's and/or once gave b (or a) silently, a wrong claim with no error
        ("a and b", ["sp.And(...), sp.Or(...)", "Python asked whether a is true"]),
        ("a or b", ["sp.And(...), sp.Or(...)", "Python asked whether a is true"]),
        ("sp.Eq(a, 1 if b else 0)", ["sp.Piecewise((x, cond), (y, True))", "Python asked whether b is true"]),
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


def test_a_variable_used_as_a_truth_value_in_the_output_is_refused(tmp_path: Path) -> None:
    hyp = write(
        tmp_path, "hyp.py",
        "import sympy as sp\nimport causalabs as ca\n\n\nclass NotM(ca.Hypothesis):\n"
        "    a, b = ca.inputs('a b', domain=range(2))\n    m = ca.var(sp.And(sp.Eq(a, 1), sp.Eq(b, 1)))\n"
        "    out = ca.output(not m)\n",
        header="",
    )
    one_error(run("show", f"{hyp}:NotM"), 2, "hyp.py:8 (NotM)", "sp.Not(...)", "Python asked whether m is true")


def test_sympy_may_still_ask_a_variable_for_a_truth_value() -> None:
    """Only a class body is refused: sympy's own ``not base`` (dividing by a variable) keeps working."""
    import sympy as sp

    import causalabs as ca

    class Ratio(ca.Hypothesis):
        a, b = ca.inputs("a b", domain=range(1, 4))
        q = ca.var(sp.floor(a / b))
        out = ca.output(sp.Eq(q, 1))

    assert list(ca.run(Ratio, {"a": [3, 1], "b": [2, 3]})["out"]) == [1, 0]


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


# --- the command line itself misused: click's usage error, exit 2 (never the internal-error 70) -------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("verify", HEQ, "--network", NET, "--foo"), "No such option: --foo"),
        (("verify", HEQ, "--network", NET, "--seeed", "3"), "No such option: --seeed"),
        (("verify", HEQ), "Missing option '--network'"),
        (("show",), "Missing argument"),
        (("verify", HEQ, "--network", NET, "--samples", "abc"), "Invalid value for '--samples'"),
        (("verify", HEQ, "--network", NET, "--mode"), "Option '--mode' requires an argument"),
        (("nosuchcmd",), "No such command 'nosuchcmd'"),
        (("show", HEQ, "--traceback"), "No such option: --traceback"),
    ],
)
def test_a_misused_command_line_is_a_usage_error(args, says) -> None:
    r = run(*args)
    assert r.exit_code == 2, (r.exit_code, r.stderr)
    assert r.stdout == "" and "internal error" not in r.stderr and "Traceback" not in r.stderr
    assert says in r.stderr and "Error: " in r.stderr
