"""tracr's compiled model against the plain-torch transformer: both forwards on one batch and their differences.

Used by ``export.py`` (not an organism).  Importing this file does not import
JAX; :func:`tracr_forward` does, when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def tracr_forward(assembled: Any, pad_id: int) -> Callable[[np.ndarray], Any]:
    """tracr's own compiled model with its pad masking switched on (keys equal to ``pad_id`` ignored)."""
    import haiku as hk

    @hk.without_apply_rng
    @hk.transform
    def forward(tokens: Any) -> Any:
        model = assembled.get_compiled_model()
        model.pad_token = pad_id
        return model(tokens, use_dropout=False)

    return lambda tokens: forward.apply(assembled.params, tokens)


def tracr_tensors(out: Any, output_dims: list[int]) -> dict[str, np.ndarray]:
    """tracr's tensors of one batch: (B, T, D) arrays, residuals and layer outputs stacked on axis 0."""
    t = out.transformer_output
    final = np.asarray(t.output, dtype=np.float32)
    return {
        "input_embeddings": np.asarray(t.input_embeddings, dtype=np.float32),
        "residuals": np.stack([np.asarray(r, dtype=np.float32) for r in t.residuals]),
        "layer_outputs": np.stack([np.asarray(r, dtype=np.float32) for r in t.layer_outputs]),
        "readout": final[..., output_dims],
        "unembedded": np.asarray(out.unembedded_output),
    }


def torch_tensors(module: Any, tokens: np.ndarray) -> dict[str, np.ndarray]:
    import torch

    with torch.no_grad():
        out = module(torch.as_tensor(tokens, dtype=torch.long))
    return {
        "input_embeddings": out.input_embeddings.numpy(),
        "residuals": torch.stack(out.residuals).numpy(),
        "layer_outputs": torch.stack(out.layer_outputs).numpy(),
        "readout": out.readout.numpy(),
    }


def max_diffs(ref: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> dict[str, Any]:
    """Max |tracr - torch| per tensor (per block for residuals and layer outputs)."""
    out: dict[str, Any] = {}
    for key in ("input_embeddings", "readout"):
        out[key] = float(np.max(np.abs(ref[key] - got[key])))
    for key in ("residuals", "layer_outputs"):
        out[key] = [float(np.max(np.abs(a - b))) for a, b in zip(ref[key], got[key])]
    out["max"] = max(
        out["input_embeddings"],
        out["readout"],
        *out["residuals"],
        *out["layer_outputs"],
    )
    return out
