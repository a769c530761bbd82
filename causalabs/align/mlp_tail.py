"""DAS training with a hand-derived gradient, for a site followed only by Linear and ReLU layers.

``fit_das`` uses this (unless ``fast_mlp=False``) when the network is an
``nn.Sequential`` whose site is the output of one of its children (no
token positions), every later child is ``nn.Linear``, ``nn.ReLU`` or
``nn.Identity``, no dropout or batch norm is in training mode, and
``decode`` scores the classes with the module's raw output.  The frozen
network's vector at the site is then computed once per distinct base and
source input, and each training step is

    U = Q(W) sign(diag R(W))                       (the QR parametrisation)
    h' = h_b + sum_v ((h_v - h_b) U_v) U_v^T       (the interchange)
    loss = cross-entropy(tail(h'), target)

with the backward pass written out (through the tail, the interchange and
the QR factorisation) and Adam applied by hand: no autograd graph and no
module calls, so a step costs a few dozen small tensor operations.  It is
the same loss, the same parametrisation, the same batches in the same
order and the same Adam update (default betas and eps) as the autograd
path; the numbers agree with it up to float rounding, not to the bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from causalabs.align.rotation import LearnedRotation
from causalabs.backends.native import NativeBackend
from causalabs.data.ops import stack_rows
from causalabs.engine.collect import collect_distinct
from causalabs.errors import AlignmentError
from causalabs.network.network import Network, is_default_call
from causalabs.network.sites import Site

BETAS = (0.9, 0.999)
EPS = 1e-8
#: The fast path keeps every training row's base and source vectors; above this many numbers it steps aside.
MAX_ELEMENTS = 50_000_000


def tail_layers(network: Network, location: Site) -> list[nn.Module] | None:
    """The Linear/ReLU/Identity children after ``location``'s module, or None if the fast path does not apply."""
    module = network.module
    if not isinstance(module, nn.Sequential) or not is_default_call(network):
        return None
    random = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)
    if any(m.training and isinstance(m, random) for m in module.modules()):
        return None  # a pass that changes from call to call: each step must run it again
    if location.io != "output" or location.positions is not None:
        return None
    names = [name for name, _ in module.named_children()]
    if location.module not in names:
        return None
    tail = list(module.children())[names.index(location.module) + 1 :]
    if not tail or not all(isinstance(m, (nn.Linear, nn.ReLU, nn.Identity)) for m in tail):
        return None
    if not any(isinstance(m, nn.Linear) for m in tail):
        return None
    out = next(m for m in reversed(tail) if isinstance(m, nn.Linear)).out_features
    probe = torch.linspace(-1.0, 1.0, 2 * out, device=network.device).reshape(2, out)
    dec = network.decode(probe)
    if dec.scores is None or dec.classes is None or not torch.equal(dec.scores, probe):
        return None  # the loss must be the cross-entropy of the raw output
    return tail


def fast_path_fits(prepared: Sequence[Any], rot: LearnedRotation) -> bool:
    """Site vectors in the rotation's dtype, and every row's vectors small enough to keep."""
    if any(p.vectors.dtype != rot.directions.dtype for p in prepared):
        return False
    width = int(prepared[0].vectors.shape[-1])
    return sum(len(p.dataset.expected) * width * (1 + len(p.intervened)) for p in prepared) <= MAX_ELEMENTS


Layer = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor] | None  # (W^T, bias, W) of a Linear; None: ReLU


def _layers(tail: Sequence[nn.Module]) -> list[Layer]:
    """The tail as plain tensors (Identity dropped), read once per fit."""
    out: list[Layer] = []
    for m in tail:
        if isinstance(m, nn.Linear):
            w = m.weight.detach()
            out.append((w.T.contiguous(), None if m.bias is None else m.bias.detach(), w))
        elif isinstance(m, nn.ReLU):
            out.append(None)
    return out


def _forward(layers: Sequence[Layer], h: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Logits and each ReLU's output (its backward pass reads where the output is positive)."""
    masks = []
    for layer in layers:
        if layer is None:
            h = torch.relu(h)
            masks.append(h)
        else:
            h = h @ layer[0] if layer[1] is None else torch.addmm(layer[1], h, layer[0])
    return h, masks


def _backward(layers: Sequence[Layer], g: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
    """Gradient at the site from the gradient ``g`` at the logits."""
    k = len(masks)
    for layer in reversed(layers):
        if layer is None:
            k -= 1
            g = torch.ops.aten.threshold_backward(g, masks[k], 0)
        else:
            g = g @ layer[2]
    return g


def qr_basis(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(U, Q, R, signs)``: the orthonormal basis of the parametrisation, its QR factors and R's diagonal signs."""
    q, r = torch.linalg.qr(w)
    sign = torch.sign(torch.diagonal(r))
    return q * sign, q, r, sign


def qr_backward(grad_u: torch.Tensor, q: torch.Tensor, r: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    """Gradient on ``W`` from the gradient on ``U = Q sign(diag R)`` (reduced QR, full column rank).

    With ``Qbar = dU sign`` and ``Rbar = 0`` (the signs are locally constant):
    ``M = -Qbar^T Q``, ``Wbar = (Qbar + Q copyltu(M)) R^{-T}``, where
    ``copyltu`` mirrors the lower triangle onto the upper one.
    """
    gq = grad_u * sign
    x = gq.T @ q
    sym = torch.tril(x) + torch.tril(x, -1).T
    return torch.linalg.solve_triangular(r.T, torch.addmm(gq, q, sym, alpha=-1.0), upper=False, left=False)


def _base_vectors(backend: NativeBackend, network: Network, location: Site, dataset: Any) -> torch.Tensor:
    names = list(dataset.base)
    store, inverse = collect_distinct(backend, network, stack_rows(dataset.base, names), names, [location], 256)
    return store[location.location_key()].index_select(0, torch.as_tensor(inverse, device=network.device))


def train_mlp_tail(
    network: Network,
    tail: Sequence[nn.Module],
    prepared: Sequence[Any],
    location: Site,
    rot: LearnedRotation,
    spans: dict[str, tuple[int, int]],
    epochs: Any,
    *,
    lr: float,
    class_index: Callable[[Sequence[int], torch.Tensor], torch.Tensor],
    after_epoch: Callable[[int, float], bool | None] | None = None,
) -> list[float]:
    """Train ``rot`` in place on ``epochs`` (per epoch, ``(dataset, rows)`` batches); the mean loss per epoch.

    ``rot`` holds the current parameters whenever ``after_epoch(epoch,
    loss)`` runs; a true answer stops training there.
    """
    device = network.device
    backend = NativeBackend()
    layers = _layers(tail)
    width_out = next(layer for layer in reversed(layers) if layer is not None)[0].shape[1]
    with torch.no_grad():
        probe = network.decode(torch.zeros(1, width_out, device=device))
        if probe.classes is None:
            raise AlignmentError(f"DAS: {network.name}'s decode gives no classes to train on")
        data = []
        for p in prepared:  # per dataset, every row's site vectors and one-hot target, gathered once
            sources = [(spans[v], p.vectors.index_select(0, p.index[i])) for i, v in enumerate(p.intervened)]
            onehot = torch.nn.functional.one_hot(class_index(probe.classes, p.expected), width_out)
            data.append((_base_vectors(backend, network, location, p.dataset), sources, onehot.to(torch.float32)))
        weight: torch.Tensor = rot.parametrizations["weight"].original  # type: ignore[union-attr,index]
        w = weight.detach().clone()
        m1, m2 = torch.zeros_like(w), torch.zeros_like(w)
        losses: list[float] = []
        t = 0
        for epoch, batches in enumerate(epochs):
            total, count = torch.zeros((), device=device), 0
            for d, idx in batches:
                t += 1
                total = total - _step(layers, data[d], w, m1, m2, t, lr, torch.as_tensor(idx, device=device), len(idx))
                count += len(idx)
            losses.append(float(total) / max(count, 1))
            weight.copy_(w)
            if after_epoch is not None and after_epoch(epoch + 1, losses[-1]):
                break
    return losses


def _step(
    layers: Sequence[Layer],
    data: tuple[torch.Tensor, list[tuple[tuple[int, int], torch.Tensor]], torch.Tensor],
    w: torch.Tensor,
    m1: torch.Tensor,
    m2: torch.Tensor,
    t: int,
    lr: float,
    rows: torch.Tensor,
    n: int,
) -> torch.Tensor:
    """One step on ``rows`` of one dataset: updates ``w``, ``m1``, ``m2`` in place; returns minus the summed loss."""
    neg_loss, grad_w = loss_and_grad(layers, data, w, rows, n)
    # Adam: p -= lr / c1 * m / (sqrt(v) / sqrt(c2) + eps), written as lr sqrt(c2) / c1 * m / (sqrt(v) + eps sqrt(c2))
    c1, c2 = 1 - BETAS[0] ** t, (1 - BETAS[1] ** t) ** 0.5
    m1.lerp_(grad_w, 1 - BETAS[0])
    m2.mul_(BETAS[1]).addcmul_(grad_w, grad_w, value=1 - BETAS[1])
    w.addcdiv_(m1, m2.sqrt().add_(EPS * c2), value=-lr * c2 / c1)
    return neg_loss


def loss_and_grad(
    layers: Sequence[Layer],
    data: tuple[torch.Tensor, list[tuple[tuple[int, int], torch.Tensor]], torch.Tensor],
    w: torch.Tensor,
    rows: torch.Tensor,
    n: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Minus the summed cross-entropy on ``rows`` and the gradient of the mean on ``W`` (the raw parameter)."""
    bases, sources, onehot = data
    hb = bases.index_select(0, rows)
    u, q, r, sign = qr_basis(w)
    h = hb
    parts = []
    for (a, b), src in sources:
        ub = u[:, a:b]
        delta = src.index_select(0, rows) - hb
        c = delta @ ub
        h = torch.addmm(h, c, ub.T)
        parts.append((a, b, ub, delta, c))
    logits, masks = _forward(layers, h)
    target = onehot.index_select(0, rows)
    logp = torch.log_softmax(logits.float(), -1)
    g_h = _backward(layers, ((logp.exp() - target) / n).to(h.dtype), masks)
    grad_u = torch.zeros_like(u)
    for a, b, ub, delta, c in parts:
        grad_u[:, a:b] = torch.addmm(delta.T @ (g_h @ ub), g_h.T, c)
    return (logp * target).sum(), qr_backward(grad_u, q, r, sign)
