"""A learnable orthogonal featurizer for distributed alignment search.

The parameter is a ``k x width`` matrix with orthonormal rows (torch's
orthogonal parametrization).  With ``k == width`` it is a full rotation;
with ``k < width`` it is the low-rank variant for wide sites: only the ``k``
learned directions exist, and interventions use the low-rank form
``h' = h + (s - h) U U^T`` with ``U`` the transposed rows.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrizations

from causalabs.network.featurizers import Featurizer


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
        layer = nn.Linear(width, k, bias=False)
        with torch.no_grad():
            a = torch.randn(width, k, generator=gen, dtype=torch.float64)
            q, r = torch.linalg.qr(a)
            layer.weight.copy_((q * torch.sign(torch.diagonal(r))).T.float())
        self.layer = parametrizations.orthogonal(layer)
        self.width = width
        self.k = k
        self.coords = k

    @property
    def directions(self) -> torch.Tensor:
        """The ``width x k`` orthonormal basis (columns are coordinates)."""
        return self.layer.weight.T

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
