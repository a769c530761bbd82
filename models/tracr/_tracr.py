"""Shared helpers of the tracr organism files in this folder (not an organism itself).

Every ``tracr_<program>.py`` here loads the export that ``export.py`` wrote
to ``weights/tracr_<program>.{safetensors,json}`` and wraps it as a
:class:`causalabs.network.Network` whose high-level inputs follow
``hypotheses/tracr_programs.py``:

* inputs ``x0 .. x{L-1}`` are indices into the sorted vocabulary, and
  ``n`` (when the program takes shorter inputs) the number of real tokens;
  :func:`encoder` turns them into tracr's input ids, BOS first, pads after
  the ``n`` real tokens;
* the output is the whole output sequence as one integer (position 0 least
  significant); :func:`categorical_decoder` and :func:`numerical_decoder`
  read it from the output dimensions of the residual stream;
* the known alignment puts each variable on the residual dimensions tracr
  labelled with its feature, at its position, right after the block that
  writes the feature (:func:`feature_site`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from causalabs.errors import NetworkFileError
from causalabs.network import Alignment, Decoded, Network, Site, site
from causalabs.network.tracr_transformer import (
    TracrConfig,
    TracrOutput,
    TracrTransformer,
    load_tracr,
)
from causalabs.organisms import OrganismInfo

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE / "weights"
HYPOTHESES = "hypotheses/tracr_programs.py"
#: A categorical position reads out a class only when its score reaches this
#: (one selected value: score 1; disagreeing selected values: at most 3/4).
UNANIMOUS = 0.9

Batch = Mapping[str, np.ndarray]


def paths(name: str) -> tuple[Path, Path]:
    """``(weights, config)`` of the export ``name`` (``tracr_reverse``)."""
    return WEIGHTS / f"{name}.safetensors", WEIGHTS / f"{name}.json"


def config(name: str) -> TracrConfig:
    """The configuration of an export (JSON only; no weights read)."""
    return TracrConfig.from_json(paths(name)[1])


def load_module(name: str) -> TracrTransformer:
    """The plain-torch transformer with the export's weights."""
    weights, cfg = paths(name)
    return load_tracr(weights, cfg)


def encoder(cfg: TracrConfig) -> Callable[[Batch], torch.Tensor]:
    """High-level batch (``x0..``, and ``n`` if the program takes shorter inputs) -> (B, L + 1) token ids."""
    vocab = cfg.extra["vocab"]
    table = torch.tensor([cfg.token_id(t) for t in vocab], dtype=torch.long)
    length = cfg.max_seq_len
    variable = bool(cfg.extra.get("variable_length", False))
    bos, pad = cfg.bos_id, cfg.pad_id

    def encode(batch: Batch) -> torch.Tensor:
        x = torch.as_tensor(
            np.stack([np.asarray(batch[f"x{p}"]) for p in range(length)], axis=1),
            dtype=torch.long,
        )
        ids = table[x]
        if variable:
            n = torch.tensor(np.asarray(batch["n"]), dtype=torch.long)
            ids = torch.where(
                torch.arange(length)[None, :] < n[:, None],
                ids,
                torch.full_like(ids, pad),
            )
        return torch.cat([torch.full((ids.shape[0], 1), bos, dtype=torch.long), ids], dim=1)

    return encode


def categorical_decoder(
    cfg: TracrConfig, value_of: Sequence[int], *, none: int | None, base: int
) -> Callable[[TracrOutput], Decoded]:
    """Decoder of a categorical program: ``out = sum(y_p * base**p)`` over the real positions 1..L.

    ``y_p`` is ``value_of[class]`` for the best-scoring output class; with
    ``none`` given, a position whose best score is below :data:`UNANIMOUS`
    reads ``none`` instead.
    """
    if cfg.output_values is None or len(value_of) != len(cfg.output_values):
        raise NetworkFileError(
            f"{cfg.name}: value_of has {len(value_of)} entries for the output classes {cfg.output_values}"
        )
    table = torch.tensor(list(value_of), dtype=torch.long)
    places = torch.tensor([base**p for p in range(cfg.max_seq_len)], dtype=torch.long)

    def decode(out: TracrOutput) -> Decoded:
        scores = out.readout[:, 1:, :]
        best, idx = scores.max(dim=-1)
        y = table.to(idx.device)[idx]
        if none is not None:
            y = torch.where(best >= UNANIMOUS, y, torch.full_like(y, none))
        return Decoded((y * places.to(y.device)).sum(dim=1))

    return decode


def numerical_decoder(cfg: TracrConfig, places: Sequence[int]) -> Callable[[TracrOutput], Decoded]:
    """Decoder of a numerical mean: position ``p`` holds ``count_p / (p + 1)``; ``out = sum(count_p * places[p])``."""
    scale = torch.arange(1, cfg.max_seq_len + 1, dtype=torch.float32)
    weights = torch.tensor(list(places), dtype=torch.long)

    def decode(out: TracrOutput) -> Decoded:
        value = out.readout[:, 1:, 0]
        count = torch.round(value * scale.to(value.device)).to(torch.long)
        return Decoded((count * weights.to(count.device)).sum(dim=1))

    return decode


def feature_site(cfg: TracrConfig, feature: str, positions: Sequence[int]) -> Site:
    """The residual stream right after the block that first writes ``feature``, at ``positions``, on its dimensions.

    ``positions`` are RASP positions (0-based over the real tokens); the
    network's positions are one further on, after BOS.
    """
    writers = cfg.extra.get("writers", {})
    if feature not in writers or not writers[feature]:
        raise NetworkFileError(
            f"{cfg.name}: the export records no block writing {feature!r}; re-run export.py"
        )
    return site(
        writers[feature][0],
        positions=[p + 1 for p in positions],
        units=cfg.units(feature),
    )


def alignment(cfg: TracrConfig, variables: Mapping[str, tuple[str, Sequence[int]]]) -> Alignment:
    """An alignment from ``variable -> (feature, RASP positions)``."""
    return Alignment({v: feature_site(cfg, f, pos) for v, (f, pos) in variables.items()})


def network(
    name: str,
    *,
    decode: Callable[[TracrConfig], Callable[[TracrOutput], Decoded]],
    known: Alignment,
    task: str,
    hypothesis: str,
    wrong: Sequence[str],
    description: str,
) -> Network:
    """The organism: module, encoder, decoder and checked organism metadata."""
    module = load_module(name)
    cfg = module.config
    info: dict[str, object] = {
        "task": task,
        "hypothesis": f"{HYPOTHESES}:{hypothesis}",
        "wrong": [f"{HYPOTHESES}:{w}" for w in wrong],
        "alignment": {v: s.name for v, s in known.sites.items()},
        "accuracy": 1.0,
        "weights": f"weights/{name}.safetensors",
        "description": description,
        "tracr_source": cfg.extra.get("source", ""),
        "max_abs_diff_vs_tracr": cfg.extra.get("check", {}).get("domain_max_abs_diff", {}).get("max"),
    }
    OrganismInfo.from_mapping(info, where=name)
    return Network(module, encoder(cfg), decode(cfg), name=name, info=info)
