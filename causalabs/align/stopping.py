"""When an interchange-intervention training stops: a held-out split of the training pairs, judged each epoch.

Each training dataset (one per intervened variable set) is split once, by a
seeded permutation, into pairs that train and pairs held out
(:func:`holdout_split`).  After every epoch the held-out pairs are scored
(IIA, and the mean cross-entropy of the expected output); an epoch
*improves* when the pooled held-out IIA rises, or stays level while the
held-out loss falls by at least ``min_delta`` of its best value (IIA on a
few hundred pairs saturates long before the alignment is exact; the loss
keeps telling).  Training stops after ``patience`` epochs in a row without
improvement, or at the epoch cap, and the parameters of the best epoch are
restored (:class:`Stopper`).  A run *converged* when it stopped for lack of
improvement; one that reached the cap with its best epoch among the last
``patience`` was still improving, and its result is not the search's last
word (:attr:`Training.converged` is False).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import torch

from causalabs.errors import AlignmentError, DatasetError


@attrs.frozen
class HeldOut:
    """One epoch's score on the held-out pairs: correct counts and summed loss per variable set."""

    correct: tuple[int, ...]
    pairs: tuple[int, ...]
    loss_sum: float
    sets: tuple[str, ...]  # "+"-joined intervened variables, one per dataset

    @property
    def n(self) -> int:
        return sum(self.pairs)

    @property
    def iia(self) -> float:
        return sum(self.correct) / self.n

    @property
    def loss(self) -> float:
        return self.loss_sum / self.n

    def by_set(self) -> dict[str, float]:
        """Held-out IIA per variable set (datasets intervening on the same set are pooled)."""
        got: dict[str, list[int]] = {}
        for s, c, n in zip(self.sets, self.correct, self.pairs):
            got.setdefault(s, [0, 0])
            got[s][0] += c
            got[s][1] += n
        return {s: c / n for s, (c, n) in got.items()}


@attrs.frozen
class Epoch:
    """One epoch of a training run: the mean training loss, and the held-out score when there is one."""

    epoch: int
    loss: float
    heldout: HeldOut | None = None


@attrs.frozen
class Training:
    """How a training run went: every epoch, the epoch kept, and why it stopped.

    ``stopped`` is ``"patience"`` (``patience`` epochs without held-out
    improvement), ``"cap"`` (the ``epochs`` cap was reached) or ``"fixed"``
    (no held-out split: ``patience=None`` runs every epoch and keeps the
    last).  ``converged`` is True when the run stopped for lack of
    improvement or reached the cap with no improvement in its last
    ``patience`` epochs, False when it reached the cap still improving, and
    None for a fixed run (nothing was measured).
    """

    epochs: tuple[Epoch, ...]
    cap: int
    patience: int | None
    best: int  # 1-based epoch whose parameters were kept
    stopped: str

    @property
    def used(self) -> int:
        """Epochs run."""
        return len(self.epochs)

    @property
    def converged(self) -> bool | None:
        if self.patience is None:
            return None
        return self.stopped == "patience" or self.used - self.best >= self.patience

    @property
    def kept(self) -> Epoch:
        return self.epochs[self.best - 1]

    @property
    def losses(self) -> list[float]:
        return [e.loss for e in self.epochs]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary: settings, outcome, the kept epoch's held-out IIA per set, and the curves."""
        out: dict[str, Any] = {
            "epochs": self.used,
            "cap": self.cap,
            "patience": self.patience,
            "best_epoch": self.best,
            "stopped": self.stopped,
            "converged": self.converged,
            "loss": [round(e.loss, 6) for e in self.epochs],
        }
        held = self.kept.heldout
        if held is not None:
            out["heldout_pairs"] = held.n
            out["heldout_iia"] = round(held.iia, 6)
            out["heldout_iia_by_set"] = {s: round(v, 6) for s, v in held.by_set().items()}
            out["heldout_iia_curve"] = [round(e.heldout.iia, 6) if e.heldout else None for e in self.epochs]
            out["heldout_loss_curve"] = [round(e.heldout.loss, 6) if e.heldout else None for e in self.epochs]
        return out


def describe(training: dict[str, Any]) -> str:
    """One line from :meth:`Training.to_dict`: epochs used of the cap, why it stopped, loss and held-out IIA."""
    used, cap, best = training["epochs"], training["cap"], training["best_epoch"]
    if training["stopped"] == "fixed":
        how = f"{used} epochs (fixed, nothing held out)"
    elif training["converged"]:
        how = f"{used} of at most {cap} epochs, best {best}, converged"
    else:
        how = (
            f"{used} of at most {cap} epochs, best {best}: the cap came before {training['patience']} epochs "
            "without held-out gain, did not converge"
        )
    loss = training["loss"][best - 1] if training["loss"] else float("nan")
    line = f"{how}; training loss {loss:.4g}"
    if "heldout_iia_by_set" in training:
        sets = ", ".join(f"{s} {v:.4f}" for s, v in training["heldout_iia_by_set"].items())
        line += f"; held-out IIA {sets} ({training['heldout_pairs']:,} pairs)"
    return line


def holdout_split(what: str, train: Sequence[Any], fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    """Each dataset split by a seeded permutation into (training part, held-out part); ``round(n * fraction)`` held out.

    Raises :class:`DatasetError` naming the dataset when either part would
    be empty.
    """
    if not 0.0 < fraction < 1.0:
        raise AlignmentError(f"{what}: holdout must lie strictly between 0 and 1, got {fraction!r}")
    fit, held = [], []
    for j, ds in enumerate(train):
        n = len(ds.expected)
        k = int(round(n * fraction))
        if k < 1 or k >= n:
            raise DatasetError(
                f"{what}: training dataset {j} ({'+'.join(ds.intervened)}) has {n} pair(s), too few to hold out "
                f"{fraction:g} of them and train on the rest; give more pairs or patience=None"
            )
        perm = np.random.default_rng([seed, j, 0x5EED]).permutation(n)
        fit.append(ds.subset(np.sort(perm[k:])))
        held.append(ds.subset(np.sort(perm[:k])))
    return fit, held


class Stopper:
    """Keeps the best epoch's parameters and says when to stop (see the module docstring)."""

    def __init__(self, params: Sequence[torch.Tensor], cap: int, patience: int | None, min_delta: float) -> None:
        if cap < 1:
            raise AlignmentError(f"epochs must be at least 1, got {cap}")
        if patience is not None and patience < 1:
            raise AlignmentError(f"patience must be at least 1 (or None for a fixed number of epochs), got {patience}")
        if not min_delta >= 0:
            raise AlignmentError(f"min_delta must be >= 0, got {min_delta}")
        self.params = list(params)
        self.cap = cap
        self.patience = patience
        self.min_delta = min_delta
        self.epochs: list[Epoch] = []
        self.best = 0
        self._best_score: HeldOut | None = None
        self._saved: list[torch.Tensor] | None = None

    def _improves(self, score: HeldOut) -> bool:
        best = self._best_score
        if best is None:
            return True
        got, had = sum(score.correct), sum(best.correct)
        if got * best.n != had * score.n:  # exact comparison of the two IIA fractions
            return got * best.n > had * score.n
        return score.loss < best.loss * (1.0 - self.min_delta)

    def step(self, epoch: int, loss: float, score: HeldOut | None) -> bool:
        """Record ``epoch``; True when training should stop now."""
        self.epochs.append(Epoch(epoch, loss, score))
        if self.patience is None or score is None:
            self.best = epoch
            return False
        if self._improves(score):
            self.best, self._best_score = epoch, score
            with torch.no_grad():
                self._saved = [p.detach().clone() for p in self.params]
        return epoch - self.best >= self.patience

    def finish(self) -> Training:
        """Restore the best epoch's parameters; the record of the run."""
        if self._saved is not None:
            with torch.no_grad():
                for p, saved in zip(self.params, self._saved):
                    p.copy_(saved)
        if self.patience is None:
            stopped = "fixed"
        else:
            stopped = "patience" if len(self.epochs) - self.best >= self.patience and len(self.epochs) < self.cap else "cap"
        return Training(tuple(self.epochs), self.cap, self.patience, self.best, stopped)
