"""DAS and Boundless DAS train until held-out IIA stops improving: the rule, the record, the kept epoch, the errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import causalabs as ca
from causalabs.align.boundless import fit_boundless
from causalabs.align.das import fit_das
from causalabs.align.settings import DAS_SETTINGS
from causalabs.align.stopping import HeldOut, Stopper, describe, holdout_split
from causalabs.engine import evaluate_pairs
from causalabs.errors import AlignmentError, DatasetError
from causalabs.loading import load_attr
from causalabs.network import Site, load_network

ROOT = Path(__file__).resolve().parent.parent
HEQ = load_attr(str(ROOT / "hypotheses/hierarchical_equality.py:HierarchicalEquality"))
ROTATED = ROOT / "models/heq_rotated.py"


def _score(correct: int, n: int, loss: float) -> HeldOut:
    return HeldOut((correct,), (n,), loss * n, ("v",))


def test_the_rule_counts_iia_first_then_a_real_fall_of_the_loss() -> None:
    p = torch.zeros(1)
    s = Stopper([p], cap=20, patience=2, min_delta=0.1)
    assert not s.step(1, 1.0, _score(90, 100, 0.5))  # first epoch: the best so far
    p += 1
    assert not s.step(2, 1.0, _score(91, 100, 0.9))  # IIA rose: improves although the loss grew
    p += 1
    assert not s.step(3, 1.0, _score(91, 100, 0.85))  # equal IIA, loss fell by 5.6% < min_delta: no gain
    p += 1
    assert s.step(4, 1.0, _score(90, 100, 0.1))  # IIA fell: no gain, whatever the loss; patience 2 is spent
    t = s.finish()
    assert (t.best, t.used, t.stopped, t.converged) == (2, 4, "patience", True)
    assert float(p) == 1.0  # the best epoch's parameters are back
    s = Stopper([torch.zeros(1)], cap=20, patience=2, min_delta=0.1)
    s.step(1, 1.0, _score(9, 10, 0.5))
    assert not s.step(2, 1.0, _score(9, 10, 0.44))  # equal IIA, loss fell by 12%: a gain
    assert s.best == 2


def test_a_run_that_reaches_its_cap_still_improving_did_not_converge() -> None:
    s = Stopper([torch.zeros(1)], cap=3, patience=2, min_delta=0.0)
    for e, c in ((1, 5), (2, 6), (3, 7)):
        assert not s.step(e, 1.0, _score(c, 10, 1.0))
    t = s.finish()
    assert (t.stopped, t.converged, t.best) == ("cap", False, 3)
    assert "did not converge" in describe(t.to_dict())
    s = Stopper([torch.zeros(1)], cap=3, patience=2, min_delta=0.0)
    for e, c in ((1, 7), (2, 6), (3, 6)):  # no gain in the last 2 epochs: the cap and the patience agree
        s.step(e, 1.0, _score(c, 10, 1.0))
    assert s.finish().converged is True
    s = Stopper([torch.zeros(1)], cap=3, patience=None, min_delta=0.0)
    for e in (1, 2, 3):
        assert not s.step(e, 1.0, None)
    t = s.finish()
    assert (t.stopped, t.converged, t.best) == ("fixed", None, 3)


def test_holdout_split_is_seeded_disjoint_and_refuses_tiny_datasets() -> None:
    ds = ca.random_pairs(HEQ, ["left"], 50, seed=0)
    (fit,), (held,) = holdout_split("DAS", [ds], 0.2, seed=3)
    assert (len(fit), len(held)) == (40, 10)
    (fit2,), (held2,) = holdout_split("DAS", [ds], 0.2, seed=3)
    assert fit2.digest == fit.digest and held2.digest == held.digest
    (_,), (held3,) = holdout_split("DAS", [ds], 0.2, seed=4)
    assert held3.digest != held.digest
    with pytest.raises(DatasetError, match=r"training dataset 0 \(left\) has 2 pair"):
        holdout_split("DAS", [ds.subset(slice(0, 2))], 0.2, seed=0)
    with pytest.raises(AlignmentError, match="holdout"):
        holdout_split("DAS", [ds], 1.0, seed=0)


@pytest.fixture(scope="module")
def rotated():
    net = load_network(ROTATED)
    train = [ca.balanced(HEQ, v, 400, seed=i) for i, v in enumerate(["left", "right", ["left", "right"]])]
    return net, train


def test_fit_das_stops_on_its_own_and_keeps_the_best_epoch(rotated) -> None:
    net, train = rotated
    res = fit_das(net, Site("2"), {"left": 1, "right": 1}, train, seed=0)
    t = res.training
    assert t.stopped == "patience" and t.converged
    assert t.used < DAS_SETTINGS.epochs and t.used - t.best == DAS_SETTINGS.patience
    assert res.losses == [e.loss for e in t.epochs] and len(res.losses) == t.used
    # the returned alignment is the kept epoch's: its held-out IIA and loss are the ones recorded for that epoch
    _, held = holdout_split("DAS", train, DAS_SETTINGS.holdout, seed=0)
    results = [evaluate_pairs(net, res.alignment, ds) for ds in held]
    kept = t.kept.heldout
    assert kept is not None and kept.pairs == tuple(len(ds) for ds in held) == (80, 80, 80)
    assert tuple(int(r.correct.sum()) for r in results) == kept.correct
    loss = -sum(float(np.log(r.prob_expected).sum()) for r in results)
    assert loss == pytest.approx(kept.loss_sum, rel=1e-4)
    info = res.alignment.info["training"]
    assert info["best_epoch"] == t.best and info["converged"] is True
    assert set(info["heldout_iia_by_set"]) == {"left", "right", "left+right"}
    assert len(info["heldout_iia_curve"]) == len(info["loss"]) == t.used


def test_fit_das_stopping_is_deterministic_and_patience_none_trains_on_every_pair(rotated) -> None:
    net, train = rotated
    a = fit_das(net, Site("2"), {"left": 1, "right": 1}, train, seed=0)
    b = fit_das(net, Site("2"), {"left": 1, "right": 1}, train, seed=0)
    assert torch.equal(a.basis, b.basis) and a.training == b.training
    fixed = fit_das(net, Site("2"), {"left": 1, "right": 1}, train, epochs=3, patience=None, seed=0)
    assert fixed.training.stopped == "fixed" and fixed.training.used == 3
    assert fixed.training.kept.heldout is None and "heldout_iia" not in fixed.alignment.info["training"]


def test_fit_das_autograd_path_stops_by_the_same_rule(rotated) -> None:
    net, train = rotated
    slow = fit_das(net, Site("2"), {"left": 1, "right": 1}, train, seed=0, fast_mlp=False)
    assert slow.training.stopped == "patience" and slow.training.converged
    assert slow.training.kept.heldout is not None and slow.training.kept.heldout.iia == 1.0


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        ({"patience": 0}, AlignmentError, "patience must be at least 1"),
        ({"epochs": 0}, AlignmentError, "epochs must be at least 1"),
        ({"lr": 0.0}, AlignmentError, "learning rate must be positive"),
        ({"holdout": 0.0}, AlignmentError, "holdout must lie strictly between 0 and 1"),
    ],
)
def test_bad_training_settings_are_refused(rotated, kw, error, message) -> None:
    net, train = rotated
    with pytest.raises(error, match=message):
        fit_das(net, Site("2"), {"left": 1, "right": 1}, train, seed=0, **kw)
    with pytest.raises(error, match=message):
        fit_boundless(net, Site("2"), ["left", "right"], train, seed=0, **kw)


def test_boundless_stops_on_its_own_with_the_hard_alignment_scored(rotated) -> None:
    net, train = rotated
    res = fit_boundless(net, Site("2"), ["left", "right"], train, seed=0, penalty=1.0)
    t = res.training
    assert t.stopped == "patience" and t.converged and t.used < DAS_SETTINGS.epochs
    assert len(res.temperatures) == t.used
    both = evaluate_pairs(net, res.alignment, ca.random_pairs(HEQ, ["left", "right"], 2_000, seed=7))
    assert bool(np.all(both.correct))
    assert res.alignment.info["training"]["heldout_iia"] == 1.0
