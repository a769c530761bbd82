"""``assert_abstraction``: a causal-abstraction claim as a test assertion.

``assert_abstraction(hypothesis, network, alignment)`` runs :func:`verify`
(``mode="exhaustive"`` or ``"sample"``) or :func:`falsify`
(``mode="falsify"``) and

* returns the :class:`Report` (or the :class:`FalsifyResult`) when the claim holds;
* raises :class:`AbstractionRefuted` (a :class:`~causalabs.errors.Refutation`,
  hence an ``AssertionError``) when it is refuted; the message is the
  report as ``causalabs verify`` prints it (verdict, claim, evidence, the
  counterexample with one replay line, seed and versions), then how to
  rerun the check (``pytest --causalabs-seed N`` under pytest);
* raises :class:`AbstractionInconclusive` (also an ``AssertionError``) when a
  sampled check can neither verify nor refute (a bound straddles the
  threshold; at the default threshold 1 a sample that finds no failure is
  always inconclusive), unless ``allow_inconclusive=True``.  Inconclusive is
  never silently passed as verified.

The claim's threshold defaults to 1 (an exact abstraction) in every mode,
as in :func:`causalabs.verify` and the CLI.

Defaults that a test run shares live here, set by the pytest plugin:

* the session seed (``pytest --causalabs-seed N``; 0 outside pytest), used
  when ``seed`` is not given;
* a settings *profile* (``pytest --causalabs-profile NAME``): sample size,
  falsify's ``max_examples`` and ``deadline_s``.  ``ci`` (the default),
  ``dev`` and ``thorough`` are built in; :func:`register_profile` adds more,
  :func:`load_profile` selects one -- like hypothesis' settings profiles.

Every call is recorded as a :class:`Claim` (see :func:`recorded_claims`);
the plugin prints them in a table at the end of the run.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import attrs

from causalabs.errors import CausalabsError, Refutation
from causalabs.verification.falsification import FalsifyResult, falsify
from causalabs.verification.pipeline import verify
from causalabs.verification.report.modes import falsify_report
from causalabs.verification.report.render import to_text
from causalabs.verification.report.report import Report

__all__ = [
    "AbstractionInconclusive",
    "AbstractionRefuted",
    "Claim",
    "Profile",
    "assert_abstraction",
    "current_profile",
    "current_seed",
    "load_profile",
    "recorded_claims",
    "register_profile",
    "set_seed",
]

MODES = ("exhaustive", "sample", "falsify")


# --- errors ------------------------------------------------------------------


class AbstractionRefuted(Refutation):
    """A claim checked by :func:`assert_abstraction` was refuted.

    ``outcome`` is the :class:`Report` (or :class:`FalsifyResult`) and
    ``counterexample`` its counterexample (None when a sampled check was
    refuted by its interval alone, without a failing pair to show).
    """

    def __init__(self, message: str, outcome: Report | FalsifyResult) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.counterexample = outcome.counterexample


class AbstractionInconclusive(CausalabsError, AssertionError):
    """A sampled check could neither verify nor refute the claim (see the report's reason)."""

    def __init__(self, message: str, outcome: Report) -> None:
        super().__init__(message)
        self.outcome = outcome


# --- profiles and the session seed ------------------------------------------------


@attrs.frozen
class Profile:
    """Defaults of :func:`assert_abstraction` for one kind of run.

    ``samples``: pairs per variable set in ``mode="sample"``;
    ``max_examples`` and ``deadline_s``: the budget of ``mode="falsify"``.
    """

    name: str
    samples: int = attrs.field(default=2000, validator=attrs.validators.ge(1))
    max_examples: int = attrs.field(default=300, validator=attrs.validators.ge(1))
    deadline_s: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))


_PROFILES: dict[str, Profile] = {}


def register_profile(name: str, parent: str | None = None, **settings: Any) -> Profile:
    """Register (or replace) profile ``name``: ``parent``'s settings (default ``ci``) updated by ``settings``."""
    base = _PROFILES[parent] if parent is not None else _PROFILES.get("ci", Profile("ci"))
    unknown = set(settings) - {"samples", "max_examples", "deadline_s"}
    if unknown:
        raise CausalabsError(f"register_profile({name!r}): unknown settings {sorted(unknown)}; use samples, max_examples, deadline_s")
    profile = attrs.evolve(base, name=name, **settings)
    _PROFILES[name] = profile
    return profile


def get_profile(name: str) -> Profile:
    try:
        return _PROFILES[name]
    except KeyError:
        raise CausalabsError(f"no causalabs profile {name!r}; registered: {', '.join(sorted(_PROFILES))}") from None


#: The plugin passes the session's settings through these variables, so that this module
#: need not be imported (torch and all) by a test run that never checks a claim.
SEED_ENV = "CAUSALABS_SEED"
PROFILE_ENV = "CAUSALABS_PROFILE"


@attrs.define
class _Session:
    """Settings shared by the calls of one run; None: from the environment (set by the pytest plugin)."""

    seed: int | None = None
    profile: Profile | None = None
    claims: list[Claim] = attrs.field(factory=list)


_SESSION = _Session()

register_profile("ci")  # verify's and falsify's own defaults
register_profile("dev", samples=500, max_examples=50, deadline_s=5.0)
register_profile("thorough", samples=20_000, max_examples=3000, deadline_s=600.0)


def load_profile(name: str) -> Profile:
    """Make profile ``name`` the current one (CausalabsError naming the registered ones if unknown)."""
    _SESSION.profile = get_profile(name)
    return _SESSION.profile


def current_profile() -> Profile:
    """The profile set by :func:`load_profile`, else ``$CAUSALABS_PROFILE`` (``--causalabs-profile``), else ``ci``."""
    if _SESSION.profile is not None:
        return _SESSION.profile
    return get_profile(os.environ.get(PROFILE_ENV) or "ci")


def set_seed(seed: int | None) -> None:
    """The seed :func:`assert_abstraction` uses when none is given; None: back to ``$CAUSALABS_SEED`` or 0."""
    _SESSION.seed = None if seed is None else int(seed)


def current_seed() -> int:
    """The seed set by :func:`set_seed`, else ``$CAUSALABS_SEED`` (``pytest --causalabs-seed``), else 0."""
    if _SESSION.seed is not None:
        return _SESSION.seed
    return int(os.environ.get(SEED_ENV) or 0)


# --- recording -----------------------------------------------------------------


@attrs.frozen
class Claim:
    """One checked claim: what was claimed, how, and the outcome."""

    hypothesis: str
    network: str
    mode: str
    verdict: str  # verified | refuted | inconclusive | not refuted (falsify found nothing)
    iia: str  # rendered estimate, or the search budget spent for falsify
    seed: int | None
    test: str = ""  # the pytest node id, when run under pytest

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def recorded_claims() -> tuple[Claim, ...]:
    """Every claim checked by :func:`assert_abstraction` in this process (since the last :func:`take_claims`)."""
    return tuple(_SESSION.claims)


def take_claims() -> list[Claim]:
    """Return the recorded claims and forget them (the plugin moves them onto test reports)."""
    out, _SESSION.claims = _SESSION.claims, []
    return out


def _current_test() -> str:
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    return current.rsplit(" (", 1)[0]


def _iia_text(outcome: Report | FalsifyResult) -> str:
    if isinstance(outcome, FalsifyResult):
        return f"{outcome.examples_run} examples, {outcome.pairs_run} pairs"
    e = outcome.iia
    if e.exact:
        return f"{e.value:.4f} (exact, n={e.n:,})"
    return f"{e.value:.4f} [{e.lo:.4f}, {e.hi:.4f}] (n={e.n:,})"


# --- messages ------------------------------------------------------------------


def _replay_call(name: str, mode: str, threshold: float, seed: int | None, extra: dict[str, Any]) -> str:
    parts = [name, "network", "alignment", f"mode={mode!r}"]
    if threshold != 1.0:
        parts.append(f"threshold={threshold!r}")
    if seed is not None:
        parts.append(f"seed={seed!r}")
    parts += [f"{k}={v!r}" for k, v in extra.items()]
    return f"assert_abstraction({', '.join(parts)})"


def _message(report: Report, rerun: str, session_seed: int | None) -> str:
    """The report's text (one shape with the command line's), then how to rerun the check.

    ``session_seed``: the seed when it came from the session (not the call),
    so that ``pytest --causalabs-seed N`` reruns the same check.
    """
    lines = [to_text(report), "", f"rerun the check with: {rerun}"]
    if session_seed is not None and _current_test():
        lines.append(f"or rerun this test with: pytest --causalabs-seed {session_seed}")
    return "\n".join(lines)


# --- the assertion -------------------------------------------------------------


def assert_abstraction(
    hypothesis: Any,
    network: Any,
    alignment: Any,
    *,
    mode: str = "exhaustive",
    threshold: float = 1.0,
    seed: int | None = None,
    samples: int | None = None,
    allow_inconclusive: bool = False,
    **kw: Any,
) -> Report | FalsifyResult:
    """Assert that ``network`` implements ``hypothesis`` under ``alignment``.

    ``mode``: ``"exhaustive"`` (exact, every pair), ``"sample"`` (``samples``
    pairs per variable set, one-sided Clopper-Pearson bounds) or
    ``"falsify"`` (a shrinking counterexample search; passing means *not
    refuted* within the budget, which is not a proof).  ``threshold``: the
    IIA each variable set must reach on its changed and on its unchanged
    pairs (default 1, an exact abstraction; a sampled check verifies only a
    threshold below 1).  ``seed`` defaults to the session seed
    (``pytest --causalabs-seed``), ``samples``, ``max_examples`` and
    ``deadline_s`` to the current profile.  Other keywords go to
    :func:`verify` (``confidence``, ``variables``, ``rivals``: with rivals a
    verified claim that is not identified among them is inconclusive) or :func:`falsify`
    (``variables``, ``max_examples``, ``deadline_s``, ``batch``, ``backend``).

    Returns the :class:`Report` (or :class:`FalsifyResult`); raises
    :class:`AbstractionRefuted` or :class:`AbstractionInconclusive`.
    """
    __tracebackhide__ = True  # pytest shows the caller's line and the message, not this body
    if mode not in MODES:
        raise CausalabsError(f"assert_abstraction: unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    profile = current_profile()
    from_session = seed is None
    seed = current_seed() if seed is None else int(seed)
    name = str(getattr(hypothesis, "__name__", None) or getattr(hypothesis, "name", "H"))
    extra: dict[str, Any] = {}
    outcome: Report | FalsifyResult
    if mode == "falsify":
        if threshold != 1.0:
            raise CausalabsError(
                f"assert_abstraction: mode='falsify' searches for one disagreement (threshold 1); got threshold={threshold!r}"
            )
        kw.setdefault("max_examples", profile.max_examples)
        kw.setdefault("deadline_s", profile.deadline_s)
        outcome = falsify(hypothesis, network, alignment, seed=seed, **kw)
        verdict = "refuted" if outcome.refuted else "not refuted"
        extra = {k: kw[k] for k in ("max_examples", "deadline_s")}
        used_seed: int | None = seed
    else:
        if mode == "sample":
            samples = profile.samples if samples is None else samples
            extra["samples"] = samples
        if samples is not None:
            kw["samples"] = samples
        outcome = verify(hypothesis, network, alignment, mode=mode, threshold=threshold, seed=seed, **kw)  # type: ignore[arg-type]
        verdict = outcome.verdict
        used_seed = seed if mode == "sample" else None
    if "variables" in kw:
        extra["variables"] = [getattr(v, "name", v) for v in kw["variables"]]
    net_name = str(getattr(network, "name", type(network).__name__))
    _SESSION.claims.append(Claim(name, net_name, mode, verdict, _iia_text(outcome), used_seed, _current_test()))
    rerun = _replay_call(name, mode, threshold, used_seed, extra)
    if verdict == "refuted":
        if isinstance(outcome, FalsifyResult):
            from causalabs.scm.semantics import model_of

            defaults = inspect.signature(falsify).parameters
            budget = {k: kw.get(k, defaults[k].default) for k in ("max_examples", "deadline_s", "batch")}
            report = falsify_report(outcome, model_of(hypothesis), network, alignment, budget=budget)
        else:
            report = outcome
        raise AbstractionRefuted(_message(report, rerun, used_seed if from_session else None), outcome)
    if verdict == "inconclusive" and not allow_inconclusive:
        assert isinstance(outcome, Report)
        raise AbstractionInconclusive(
            _message(outcome, rerun, used_seed if from_session else None)
            + "\n(inconclusive: sample more pairs, state a threshold below 1, use mode='exhaustive', "
            "or pass allow_inconclusive=True)",
            outcome,
        )
    ident = getattr(outcome, "identification", None)
    if ident is not None and verdict == "verified" and not ident["identified"] and not allow_inconclusive:
        survivors = ", ".join(e["name"] for e in ident["surviving"] + ident["undecided"])
        raise AbstractionInconclusive(
            _message(outcome, rerun, used_seed if from_session else None)  # type: ignore[arg-type]
            + f"\n(verified but not identified: rivals survive the same evidence: {survivors}; "
            "pass allow_inconclusive=True to accept)",
            outcome,  # type: ignore[arg-type]
        )
    return outcome
