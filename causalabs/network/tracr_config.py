"""The configuration of a tracr export: the JSON file that ``models/tracr/export.py`` writes.

A tracr export is a safetensors file (the state dict of
:class:`~causalabs.network.tracr_transformer.TracrTransformer`) and a JSON
file read into a :class:`TracrConfig`: model sizes, tracr's residual labels,
its input vocabulary (BOS and pad included), the output dimensions, and the
names of the RASP program's expressions with their tracr labels.

Residual labels are ``name:value`` for one dimension of a categorical
feature (``opp_idx_4:3``) and ``name`` for a numerical feature's single
dimension (``frac_prevs_1``); tracr's names end in ``_<id>``, so
``features`` maps the program's own names (``opp_idx``) to them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from causalabs.errors import NetworkFileError, SiteError


def split_label(label: str) -> tuple[str, str | None]:
    """``'opp_idx_4:3'`` -> ``('opp_idx_4', '3')``; a numerical ``'frac_prevs_14'`` -> ``(..., None)``."""
    name, sep, value = label.partition(":")
    return (name, value) if sep else (name, None)


@attrs.frozen
class TracrConfig:
    """Everything but the weights of a tracr export (the JSON file).

    ``input_tokens`` lists the token of each input id (tracr's input
    encoder, BOS and pad included); ``output_dims`` are the residual
    dimensions read out, ``output_values`` the value each one stands for
    (categorical) or ``None`` (numerical, one dimension).  ``features`` maps
    a RASP expression's name to its tracr label (the residual labels are
    ``label`` or ``label:value``).
    """

    name: str
    residual_labels: tuple[str, ...] = attrs.field(converter=tuple)
    num_layers: int
    num_heads: int
    key_size: int
    mlp_hidden_size: int
    max_seq_len: int
    input_tokens: tuple[Any, ...] = attrs.field(converter=tuple)
    bos_token: str
    pad_token: str | None
    categorical_output: bool
    output_dims: tuple[int, ...] = attrs.field(converter=tuple)
    output_values: tuple[Any, ...] | None = attrs.field(converter=lambda v: None if v is None else tuple(v))
    causal: bool = False
    features: dict[str, str] = attrs.field(factory=dict)
    extra: dict[str, Any] = attrs.field(factory=dict)

    @property
    def width(self) -> int:
        """Width of the residual stream."""
        return len(self.residual_labels)

    @property
    def bos_id(self) -> int:
        return self.input_tokens.index(self.bos_token)

    @property
    def pad_id(self) -> int | None:
        return None if self.pad_token is None else self.input_tokens.index(self.pad_token)

    def token_id(self, token: Any) -> int:
        """The input id of ``token``; NetworkFileError naming the export if it has none."""
        try:
            return self.input_tokens.index(token)
        except ValueError:
            raise NetworkFileError(
                f"tracr export {self.name!r}: token {token!r} is not in its vocabulary {list(self.input_tokens)}"
            ) from None

    def label_of(self, feature: str) -> str:
        """The tracr label of a RASP expression name (or the label itself)."""
        if feature in self.features:
            return self.features[feature]
        if any(split_label(lab)[0] == feature for lab in self.residual_labels):
            return feature
        raise SiteError(
            f"tracr export {self.name!r} has no feature {feature!r}; "
            f"its features are {', '.join(sorted(self.features)) or 'none named'}"
        )

    def units(self, feature: str) -> tuple[int, ...]:
        """The residual dimensions labelled with ``feature`` (a name or a tracr label), in label order."""
        label = self.label_of(feature)
        dims = tuple(i for i, lab in enumerate(self.residual_labels) if split_label(lab)[0] == label)
        if not dims:
            raise SiteError(f"tracr export {self.name!r}: no residual dimension is labelled {label!r}")
        return dims

    def values(self, feature: str) -> tuple[str | None, ...]:
        """The value each of :meth:`units` stands for (``None`` for a numerical feature)."""
        return tuple(split_label(self.residual_labels[i])[1] for i in self.units(feature))

    @classmethod
    def from_json(cls, path: str | Path) -> TracrConfig:
        """Read the JSON file written by the export script."""
        p = Path(path)
        if not p.is_file():
            raise NetworkFileError(f"{p}: tracr export config missing; run models/tracr/export.py")
        try:
            raw = json.loads(p.read_text())
            model = raw["model"]
            return cls(
                name=raw["name"],
                residual_labels=raw["residual_labels"],
                num_layers=model["num_layers"],
                num_heads=model["num_heads"],
                key_size=model["key_size"],
                mlp_hidden_size=model["mlp_hidden_size"],
                max_seq_len=raw["max_seq_len"],
                input_tokens=raw["input_tokens"],
                bos_token=raw["bos_token"],
                pad_token=raw.get("pad_token"),
                categorical_output=raw["output"]["categorical"],
                output_dims=raw["output"]["dims"],
                output_values=raw["output"].get("values"),
                causal=model.get("causal", False),
                features=raw.get("features", {}),
                extra={k: v for k, v in raw.items() if k not in _CONFIG_KEYS},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise NetworkFileError(f"{p}: not a tracr export config ({type(exc).__name__}: {exc})") from None


_CONFIG_KEYS = (
    "name",
    "residual_labels",
    "model",
    "max_seq_len",
    "input_tokens",
    "bos_token",
    "pad_token",
    "output",
    "features",
)
