"""A learnable orthogonal featurizer for distributed alignment search.

The parameter is a ``width x k`` matrix ``U`` kept orthonormal by a
parametrisation: the sign-fixed Q factor of its QR decomposition (a Stiefel
parametrisation, like torch's ``orthogonal`` with a QR map; O(width k^2) per
step and no matrix exponential).  With ``k == width`` it is a full rotation;
with ``k < width`` only the ``k`` learned directions exist, and
interventions use the low-rank form ``h' = h + (s - h) U U^T``, which is
what an interchange on the first ``k`` coordinates of a full rotation does.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from causalabs.network.featurizers import Featurizer


class _QR(nn.Module):
    """Orthonormal columns of a ``width x k`` matrix: the Q of its QR decomposition, signs fixed by R's diagonal."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, r = torch.linalg.qr(x)
        return q * torch.sign(torch.diagonal(r)).unsqueeze(0)

    def right_inverse(self, q: torch.Tensor) -> torch.Tensor:
        return q  # an orthonormal matrix is its own preimage


class LearnedRotation(Featurizer):
    """Orthonormal directions ``U`` (``width x k``), learned by gradient descent.

    Wrap each optimisation step in ``torch.nn.utils.parametrize.cached()`` so
    the orthogonal matrix is computed once per step, not once per use.
    """

    def __init__(self, width: int, k: int | None = None, *, seed: int = 0) -> None:
        super().__init__()
        k = width if k is None else k
        if not 0 < k <= width:
            raise ValueError(f"LearnedRotation: need 0 < k <= width, got k={k}, width={width}")
        gen = torch.Generator().manual_seed(seed)
        a = torch.randn(width, k, generator=gen, dtype=torch.float64)
        q, r = torch.linalg.qr(a)
        self.weight = nn.Parameter((q * torch.sign(torch.diagonal(r))).float())
        parametrize.register_parametrization(self, "weight", _QR())
        self.width = width
        self.k = k
        self.coords = k

    @property
    def directions(self) -> torch.Tensor:
        """The ``width x k`` orthonormal basis (columns are coordinates)."""
        return self.weight

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.directions.to(h.dtype)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        if self.k != self.width:
            raise ValueError("a low-rank LearnedRotation has no inverse; use interchange()")
        return z @ self.directions.to(z.dtype).T

    def basis(self, start: int, stop: int) -> torch.Tensor:
        if stop > self.k:
            raise ValueError(f"dims [{start}:{stop}] exceed the {self.k} learned directions")
        return self.directions[:, start:stop]

    def frozen(self) -> torch.Tensor:
        """A detached copy of the current basis (``width x k``)."""
        return self.directions.detach().clone()
