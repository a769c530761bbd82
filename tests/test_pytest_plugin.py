"""The pytest plugin and ``assert_abstraction``, run on inner test files through ``pytester``.

* a true claim passes and the summary table lists it as verified;
* a wrong twin fails, and the failure shows the counterexample (base, source,
  expected, observed) and how to replay it;
* ``--causalabs-seed`` shows in the header, reaches sampled reports, and the
  same seed gives the same falsify counterexample;
* ``--causalabs-profile`` sets the defaults; inconclusive is a failure unless allowed.

Inner runs are in-process (torch is already imported); the inner files load
the organism by absolute path.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from causalabs.errors import Refutation
from causalabs.organisms import load_organism
from causalabs.verification import assertion
from causalabs.verification.assertion import (
    AbstractionInconclusive,
    AbstractionRefuted,
    assert_abstraction,
)

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
ORGANISM = ROOT / "models" / "heq_handbuilt.py"

PRELUDE = f'''
import pytest
from causalabs.organisms import load_organism
from causalabs.verification.assertion import assert_abstraction

HEQ = load_organism({str(ORGANISM)!r})
NET, ALIGN = HEQ.network, HEQ.alignment()
TRUE = HEQ.hypothesis()
SWAPPED = next(h for h in HEQ.wrong_hypotheses() if h.__name__ == "SwappedEquality")
'''


@pytest.fixture(scope="module")
def heq():
    return load_organism(ORGANISM)


@pytest.fixture
def swapped(heq):
    return next(h for h in heq.wrong_hypotheses() if h.__name__ == "SwappedEquality")


def run_inner(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_claims=PRELUDE + body)
    return pytester.runpytest_inprocess("-p", "no:randomly", "-p", "no:cacheprovider", *args)


# --- through pytest ---------------------------------------------------------------


def test_true_claim_passes_and_is_listed_as_verified(pytester):
    result = run_inner(pytester, "\ndef test_true():\n    assert_abstraction(TRUE, NET, ALIGN)\n")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "causalabs *, seed 0, profile ci",
        "*causalabs: 1 claim checked*",
        "test*hypothesis*network*mode*verdict*IIA*seed",
        "test_claims.py::test_true*HierarchicalEquality*heq_handbuilt*exhaustive*verified*1.0000 (exact*",
    ])


def test_wrong_claim_fails_with_the_counterexample(pytester):
    result = run_inner(pytester, "\ndef test_swapped():\n    assert_abstraction(SWAPPED, NET, ALIGN)\n")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*AbstractionRefuted: REFUTED: SwappedEquality on heq_handbuilt (exhaustive)",
        "*threshold   1: every pair must agree (exact abstraction)",
        "*counterexample (the first in input order):",
        "*  base           w=0, x=0, y=0, z=0",
        "*  source (left)  w=0, x=0, y=0, z=1",
        "*  output         hypothesis 0, network 1",
        "*replay: import causalabs as ca; print(ca.reproduce(SwappedEquality, network, {'w': 0, 'x': 0, 'y': 0, 'z': 0}, "
        "{'left': {'w': 0, 'x': 0, 'y': 0, 'z': 1}}, alignment=alignment))",
        "*no seed (every pair), causalabs *, torch *, device cpu",
        "*rerun the check with: assert_abstraction(SwappedEquality, network, alignment, mode='exhaustive')",
    ])
    result.stdout.fnmatch_lines(["*test_swapped*SwappedEquality*heq_handbuilt*exhaustive*refuted*0.5312*"])


SEEDED = '''
import json, pathlib

def test_sampled(causalabs_seed, causalabs_claims):
    report = assert_abstraction(TRUE, NET, ALIGN, mode="sample", threshold=0.95)
    assert report.verdict == "verified"
    assert report.provenance["seed"] == causalabs_seed
    assert causalabs_claims[-1]["seed"] == causalabs_seed
    pathlib.Path("seed.json").write_text(json.dumps({"seed": report.provenance["seed"], "n": report.iia.n}))

def test_falsify():
    assert_abstraction(SWAPPED, NET, ALIGN, mode="falsify")
'''


def falsify_example(result: pytest.RunResult) -> list[str]:
    out = result.stdout.lines
    i = next(k for k, line in enumerate(out) if "counterexample (shrunk)" in line)
    return [line for line in out[i + 1 : i + 6]]


def test_seed_option_reaches_header_reports_and_replays_falsify(pytester):
    import json

    first = run_inner(pytester, SEEDED, "--causalabs-seed", "7", "--causalabs-profile", "dev")
    first.assert_outcomes(passed=1, failed=1)
    first.stdout.fnmatch_lines(["causalabs *, seed 7, profile dev"])
    recorded = json.loads((pytester.path / "seed.json").read_text())
    assert recorded == {"seed": 7, "n": 3 * 500}  # dev profile: 500 pairs per variable set
    first.stdout.fnmatch_lines([
        "*AbstractionRefuted: REFUTED: SwappedEquality on heq_handbuilt (falsify)",
        "*budget: 50 examples of up to 32 pairs, 5 s",
        "*counterexample (shrunk):",
        "*replay: import causalabs as ca; print(ca.reproduce(SwappedEquality, network, *, alignment=alignment))",
        "*seed 7, causalabs *",
        "*rerun the check with: assert_abstraction(SwappedEquality, network, alignment, mode='falsify', seed=7, "
        "max_examples=50, deadline_s=5.0)",
        "*or rerun this test with: pytest --causalabs-seed 7",
    ])
    again = run_inner(pytester, SEEDED, "--causalabs-seed", "7", "--causalabs-profile", "dev")
    assert falsify_example(again) == falsify_example(first)
    assert re.search(r"base\s+w=\d", "\n".join(falsify_example(first)))


def test_unknown_profile_is_a_usage_error(pytester):
    result = run_inner(pytester, "\ndef test_nothing():\n    pass\n", "--causalabs-profile", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--causalabs-profile: no causalabs profile 'nope'; registered: ci, dev, thorough"])


def test_profile_registered_in_conftest(pytester):
    pytester.makeconftest(
        "from causalabs.verification.assertion import register_profile\n"
        "register_profile('tiny', parent='dev', samples=20)\n"
    )
    body = (
        "\ndef test_inconclusive():\n"
        "    assert_abstraction(TRUE, NET, ALIGN, mode='sample', allow_inconclusive=True)\n"
        "\ndef test_strict():\n"
        "    assert_abstraction(TRUE, NET, ALIGN, mode='sample')\n"
    )
    result = run_inner(pytester, body, "--causalabs-profile", "tiny")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "causalabs *, seed 0, profile tiny",
        "*AbstractionInconclusive: INCONCLUSIVE: HierarchicalEquality on heq_handbuilt (sample)",
        "*no failure in 60 pairs; IIA >= 0.8609 (95%) on every variable set; sampling*",
        "*(inconclusive: sample more pairs, state a threshold below 1*allow_inconclusive=True)",
    ])
    result.stdout.fnmatch_lines(["*causalabs: 2 claims checked*", "*test_inconclusive*sample*inconclusive*"])


# --- the assertion directly --------------------------------------------------------


def test_assert_abstraction_returns_the_report_and_raises_a_refutation(heq, swapped):
    report = assert_abstraction(heq.hypothesis(), heq.network, heq.alignment())
    assert report.verdict == "verified" and report.iia.value == 1.0
    with pytest.raises(AbstractionRefuted) as info:
        assert_abstraction(swapped, heq.network, heq.alignment(), mode="sample", samples=200, seed=3)
    err = info.value
    assert isinstance(err, Refutation) and isinstance(err, AssertionError)
    assert err.outcome.verdict == "refuted" and err.counterexample.seed == 3
    assert "seed=3, samples=200" in str(err)
    result = assert_abstraction(heq.hypothesis(), heq.network, heq.alignment(), mode="falsify", max_examples=20)
    assert not result.refuted  # not refuted within the budget: passes, and says so in the table
    assert assertion.recorded_claims()[-1].verdict == "not refuted"


def test_inconclusive_raises_unless_allowed(heq):
    args = (heq.hypothesis(), heq.network, heq.alignment())
    with pytest.raises(AbstractionInconclusive, match="no failure in 60 pairs"):
        assert_abstraction(*args, mode="sample", samples=20)  # threshold 1: sampling never verifies
    with pytest.raises(AbstractionInconclusive, match=r"about \d+ more pairs of this set would verify") as info:
        assert_abstraction(*args, mode="sample", samples=20, threshold=0.95)
    assert "threshold=0.95" in str(info.value)  # the replay call names the threshold
    assert assert_abstraction(*args, mode="sample", samples=20, allow_inconclusive=True).verdict == "inconclusive"
    assert assert_abstraction(*args, mode="sample", threshold=0.95).verdict == "verified"


def test_one_default_threshold_for_every_mode(heq, swapped):
    import inspect

    from causalabs.verification.pipeline import verify

    assert inspect.signature(assert_abstraction).parameters["threshold"].default == 1.0
    assert inspect.signature(verify).parameters["threshold"].default == 1.0
    args = (heq.hypothesis(), heq.network, heq.alignment())
    assert assert_abstraction(*args).threshold == 1.0
    assert assert_abstraction(*args, mode="sample", allow_inconclusive=True).threshold == 1.0
    with pytest.raises(Exception, match="threshold 1"):
        assert_abstraction(*args, mode="falsify", threshold=0.9)


def test_profiles_and_seed_defaults(monkeypatch):
    monkeypatch.setattr(assertion, "_SESSION", assertion._Session())
    monkeypatch.setenv(assertion.SEED_ENV, "11")
    monkeypatch.delenv(assertion.PROFILE_ENV, raising=False)
    assert assertion.current_seed() == 11 and assertion.current_profile().name == "ci"
    assertion.set_seed(4)
    assert assertion.current_seed() == 4
    assert assertion.load_profile("thorough").samples == 20_000
    with pytest.raises(Exception, match="registered: ci, dev, thorough"):
        assertion.load_profile("missing")
    with pytest.raises(Exception, match="unknown settings"):
        assertion.register_profile("bad", sample=3)


def test_the_documented_example_runs(pytester):
    doc = (ROOT / "docs" / "pytest_plugin.md").read_text()
    example = doc.split("## A complete example", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    source = example.replace("Path(__file__).resolve().parents[1]", f"Path({str(ROOT)!r})")
    pytester.makepyfile(test_heq_claims=source)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--causalabs-seed", "7", "--causalabs-profile", "dev")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*causalabs: 4 claims checked*"])


def test_conftest_settings_show_in_the_header_and_the_option_wins(pytester):
    pytester.makeconftest("from causalabs.verification import assertion\nassertion.load_profile('dev')\nassertion.set_seed(5)\n")
    body = "\ndef test_seed(causalabs_seed):\n    pass\n"
    run_inner(pytester, body).stdout.fnmatch_lines(["causalabs *, seed 5, profile dev"])
    run_inner(pytester, body, "--causalabs-seed", "3", "--causalabs-profile", "thorough").stdout.fnmatch_lines(
        ["causalabs *, seed 3, profile thorough"]
    )
