"""What the LM metrics read from a decoded pass: the scores of two values per row, and the normaliser.

A decoder's :class:`~causalabs.network.decoded.Decoded` holds ``scores``
(n, C) whose column ``j`` scores the value ``classes[j]`` (logits: the output
classes of an organism, the logits of the answer tokens of a language model,
``causalabs.network.hf.candidate_decoder``).  :func:`readings` gives, per row,
the score of one value (the hypothesis' expected output), the score of
another (the base's output), and the log of the softmax normaliser: the
decoder's ``log_normalizer`` when it gives one (a language model's
``logsumexp`` over its whole vocabulary), else ``logsumexp`` over the
scores (the output classes).  A value that is not among the classes reads NaN.
"""

from __future__ import annotations

import numpy as np
import torch

from causalabs.data.ops import row_ids, stack_rows
from causalabs.engine.collect import rows_per_pass
from causalabs.errors import MetricError
from causalabs.network.decoded import Decoded
from causalabs.network.network import Network, predict

Batch = dict[str, np.ndarray]


def class_columns(decoded: Decoded, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row, the score column of ``values[row]`` and whether that value is among the classes."""
    assert decoded.classes is not None
    classes = torch.tensor(decoded.classes, device=values.device)
    order = torch.argsort(classes)
    sorted_classes = classes[order]
    pos = torch.searchsorted(sorted_classes, values).clamp(max=len(classes) - 1)
    return order[pos], sorted_classes[pos] == values


def score_of(decoded: Decoded, values: torch.Tensor) -> torch.Tensor:
    """Float64 (n,): the decoder's score of ``values[row]`` in each row (NaN where it is not a class)."""
    assert decoded.scores is not None
    col, found = class_columns(decoded, values.to(decoded.scores.device))
    got = decoded.scores.gather(1, col[:, None]).squeeze(1).double()
    return torch.where(found, got, torch.full_like(got, float("nan")))


def log_normalizer(decoded: Decoded) -> torch.Tensor:
    """Float64 (n,): the decoder's ``log_normalizer``, else ``logsumexp`` of its scores."""
    assert decoded.scores is not None
    if decoded.log_normalizer is not None:
        return decoded.log_normalizer.double()
    return decoded.scores.double().logsumexp(-1)


def readings(decoded: Decoded, expected: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """Float64 (n, 3): score of ``expected``, score of ``base``, log normaliser (scores must exist)."""
    return torch.stack([score_of(decoded, expected), score_of(decoded, base), log_normalizer(decoded)], dim=1)


@torch.no_grad()
def unpatched_readings(
    network: Network, base: Batch, expected: np.ndarray, base_output: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Float64 (n, 3) readings of each pair on its base run without intervention (one pass per distinct base)."""
    names = list(base)
    first, inverse = row_ids(stack_rows(base, names))
    rows = {k: np.asarray(v)[first] for k, v in base.items()}
    step = rows_per_pass(batch_size)
    parts = [predict(network, {k: v[i:i + step] for k, v in rows.items()}) for i in range(0, len(first), step)]
    if any(p.scores is None for p in parts):
        raise MetricError(f"network {network.name}: decode() gave no scores on the base run")
    inv = torch.as_tensor(inverse, device=parts[0].scores.device)  # type: ignore[union-attr]
    norms = [p.log_normalizer for p in parts]
    dec = Decoded(
        torch.cat([p.values for p in parts])[inv], torch.cat([p.scores for p in parts])[inv],  # type: ignore[misc]
        parts[0].classes, None if any(x is None for x in norms) else torch.cat(norms)[inv],  # type: ignore[arg-type]
    )
    device = dec.values.device
    got = readings(dec, torch.tensor(np.asarray(expected, dtype=np.int64), device=device),
                   torch.tensor(np.asarray(base_output, dtype=np.int64), device=device))
    return got.cpu().numpy()


__all__ = ["class_columns", "log_normalizer", "readings", "score_of", "unpatched_readings"]
