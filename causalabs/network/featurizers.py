"""Featurizers: invertible maps of a site's activation whose leading coordinates hold variables.

A featurizer maps an activation vector ``h`` (last dimension ``width``) to
coordinates ``z = f(h)`` and back.  An intervention on coordinates
``[a:b]`` replaces them with the source's and maps back.  An orthogonal
featurizer also offers :meth:`Featurizer.basis`, a ``width x (b - a)``
orthonormal block ``U``; the engine then uses the cheaper low-rank form
``h' = h + (s - h) U U^T`` and never builds the full map.
"""

from __future__ import annotations

import torch
from torch import nn

from causalabs.errors import SiteError


class Featurizer(nn.Module):
    """Base class: subclasses implement ``forward`` (h -> z) and ``inverse`` (z -> h).

    ``width`` is the activation width it takes.  A subclass whose ``forward``
    gives fewer coordinates than ``width`` sets ``coords`` to that number, so
    that sites with dims beyond them are refused (the default is ``width``).
    """

    width: int

    def inverse(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def basis(self, start: int, stop: int) -> torch.Tensor | None:
        """A ``width x (stop - start)`` orthonormal block, or None if the map is not orthogonal."""
        return None

    def interchange(
        self, h: torch.Tensor, s: torch.Tensor, start: int, stop: int
    ) -> torch.Tensor:
        """``h`` with coordinates ``[start:stop]`` taken from ``s`` (differentiable, out of place)."""
        u = self.basis(start, stop)
        if u is not None:
            u = u.to(device=h.device, dtype=h.dtype)
            return h + ((s - h) @ u) @ u.T
        zh, zs = self(h), self(s)
        mask = torch.zeros(zh.shape[-1], dtype=zh.dtype, device=zh.device)
        mask[start:stop] = 1
        return self.inverse(zh + (zs - zh) * mask)


class Rotation(Featurizer):
    """A fixed orthogonal map given by a ``width x width`` matrix ``R``: ``z = h @ R``.

    Column ``j`` of ``R`` is the direction of coordinate ``j``; a variable on
    coordinates ``[a:b]`` lives in the span of columns ``a..b-1``.  A
    ``width x k`` matrix with orthonormal columns is accepted too (a partial
    basis); then only coordinates ``[0:k]`` exist.
    """

    def __init__(self, matrix: torch.Tensor, *, check: bool = True, atol: float = 1e-4) -> None:
        super().__init__()
        m = torch.as_tensor(matrix)
        if m.ndim != 2 or m.shape[0] < m.shape[1]:
            raise SiteError(f"Rotation: expected a width x k matrix with k <= width, got {tuple(m.shape)}")
        if check:
            gram = m.T.double() @ m.double()
            err = (gram - torch.eye(m.shape[1], dtype=torch.float64, device=m.device)).abs().max().item()
            if not err <= atol:  # NaN fails too
                raise SiteError(
                    f"Rotation: columns are not orthonormal (max |U^T U - I| = {err:.2e}, tolerance {atol:g})"
                )
        # canonical layout: a column-major matrix (LAPACK's QR output) would take other matmul
        # kernels than the same values stored row-major, and so give other bits
        self.register_buffer("matrix", m.detach().clone(memory_format=torch.contiguous_format))
        self.width = int(m.shape[0])
        self.coords = int(m.shape[1])

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.matrix.to(device=h.device, dtype=h.dtype)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.matrix.to(device=z.device, dtype=z.dtype).T

    def basis(self, start: int, stop: int) -> torch.Tensor:
        return self.matrix[:, start:stop]


def random_rotation(width: int, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A seeded Haar-random ``width x width`` orthogonal matrix (QR of a Gaussian, sign-fixed)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(width, width, generator=g, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))
    return q.to(dtype)
