"""pytest plugin for causalabs claims (registered through the ``pytest11`` entry point).

Hooks only; the work is done by :func:`causalabs.verification.assertion.assert_abstraction`.

* ``--causalabs-seed N`` (default 0, or ``$CAUSALABS_SEED``): the seed of every
  claim that does not name one; printed in the header with the profile.
* ``--causalabs-profile NAME`` (``ci`` by default, ``dev``, ``thorough``, or one
  registered with ``causalabs.verification.assertion.register_profile`` in a conftest):
  default sample sizes and falsify budgets.
* fixtures ``causalabs_seed`` (the session seed) and ``causalabs_claims`` (the
  claims checked so far, as dicts);
* a terminal summary table of every claim checked during the run.

Claims keep :func:`causalabs.verify`'s defaults: threshold 1 (an exact
abstraction) in every mode, so a sampled claim needs an explicit
``threshold=`` below 1 to pass (docs/verify.md, "What a verdict means").

Settings reach the assertion module through ``$CAUSALABS_SEED`` and
``$CAUSALABS_PROFILE`` (restored at the end), so a run that checks no claim
never imports torch, and xdist workers see the same settings.  Claims travel
back on the test reports (``user_properties``), so the table is complete under
xdist too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator, Sequence
from typing import Any

import pytest

_ASSERTION = "causalabs.verification.assertion"
_SEED_ENV, _PROFILE_ENV = "CAUSALABS_SEED", "CAUSALABS_PROFILE"
_BUILTIN_PROFILES = ("ci", "dev", "thorough")
_PROPERTY = "causalabs_claim"
_settings_key = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("causalabs", "causal-abstraction claims")
    group.addoption("--causalabs-seed", type=int, default=None, metavar="N",
                    help="seed of every claim that names none (default: $CAUSALABS_SEED or 0)")
    group.addoption("--causalabs-profile", default=None, metavar="NAME",
                    help="settings profile: ci (default), dev, thorough, or one registered in a conftest")


def pytest_configure(config: pytest.Config) -> None:
    opt_seed, opt_profile = config.getoption("causalabs_seed"), config.getoption("causalabs_profile")
    module = sys.modules.get(_ASSERTION)
    # the option, else set_seed()/load_profile() in a conftest, else the environment, else 0 / ci
    chosen = module._SESSION if module is not None else None
    if opt_seed is not None:
        seed = opt_seed
    elif chosen is not None and chosen.seed is not None:
        seed = chosen.seed
    else:
        seed = int(os.environ.get(_SEED_ENV) or 0)
    if opt_profile is None and chosen is not None and chosen.profile is not None:
        profile = chosen.profile.name
    else:
        profile = opt_profile or os.environ.get(_PROFILE_ENV) or "ci"
    if profile not in _BUILTIN_PROFILES:  # a custom profile: its conftest has imported the module already
        from causalabs.errors import CausalabsError
        from causalabs.verification import assertion

        module = assertion
        try:
            assertion.get_profile(profile)
        except CausalabsError as exc:
            raise pytest.UsageError(f"--causalabs-profile: {exc}") from None
    saved = {k: os.environ.get(k) for k in (_SEED_ENV, _PROFILE_ENV)}
    os.environ[_SEED_ENV], os.environ[_PROFILE_ENV] = str(seed), profile
    if module is not None:
        module.set_seed(seed)
        module.load_profile(profile)
    recorder = _Recorder()
    config.pluginmanager.register(recorder, "causalabs-claims")
    config.stash[_settings_key] = {"seed": seed, "profile": profile, "saved": saved, "recorder": recorder}


def pytest_unconfigure(config: pytest.Config) -> None:
    settings = config.stash.get(_settings_key, None)
    if settings is None:
        return
    for key, value in settings["saved"].items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    module = sys.modules.get(_ASSERTION)
    if module is not None:
        module.set_seed(None)
        module._SESSION.profile = None


def pytest_report_header(config: pytest.Config) -> str:
    import causalabs

    s = config.stash[_settings_key]
    return f"causalabs {causalabs.__version__}, seed {s['seed']}, profile {s['profile']}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Move the claims checked during this phase onto its report (they reach the xdist controller too)."""
    report = yield
    module = sys.modules.get(_ASSERTION)
    if module is not None:
        for claim in module.take_claims():
            report.user_properties.append((_PROPERTY, claim.to_dict()))
    return report


class _Recorder:
    """Collects the claims carried by this run's test reports (registered at configure)."""

    def __init__(self) -> None:
        self.claims: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == _PROPERTY and isinstance(value, dict):
                self.claims.append(value)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.claims:
            return
        cols = ("test", "hypothesis", "network", "mode", "verdict", "iia", "seed")
        heads = [h.upper() if h == "iia" else h for h in cols]
        rows = [["-" if c.get(k) is None else str(c[k]) for k in cols] for c in self.claims]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
        tr = terminalreporter
        n = len(rows)
        tr.write_sep("=", f"causalabs: {n} claim{'s' if n != 1 else ''} checked")
        tr.write_line("  ".join(h.ljust(w) for h, w in zip(heads, widths)).rstrip())
        for r in rows:
            tr.write_line("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


class _ClaimLog(Sequence[dict[str, Any]]):
    """Claims of finished test phases, then those of the running test."""

    def __init__(self, recorder: _Recorder) -> None:
        self._recorder = recorder

    def _all(self) -> list[dict[str, Any]]:
        module = sys.modules.get(_ASSERTION)
        pending = [c.to_dict() for c in module.recorded_claims()] if module is not None else []
        return [*self._recorder.claims, *pending]

    def __getitem__(self, i: Any) -> Any:
        return self._all()[i]

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"causalabs_claims({self._all()!r})"


@pytest.fixture(scope="session")
def causalabs_seed(pytestconfig: pytest.Config) -> int:
    """The session seed (``--causalabs-seed``)."""
    return int(pytestconfig.stash[_settings_key]["seed"])


@pytest.fixture
def causalabs_claims(pytestconfig: pytest.Config) -> Sequence[dict[str, Any]]:
    """Every claim checked so far in this run, the running test's included, as dicts."""
    return _ClaimLog(pytestconfig.stash[_settings_key]["recorder"])
