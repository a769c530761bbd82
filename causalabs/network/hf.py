"""HuggingFace causal language models as causalabs networks.

Three pieces connect a ``transformers`` causal LM to a hypothesis:

* :class:`TokenTemplate` -- a tokenizer-free encoder.  A prompt is a fixed
  sequence of literal token ids and :class:`Slot` s; each slot picks one row
  of its vocabulary (a table of token ids) per example, by the value of an
  input variable or of a function of the batch.  Every row of a slot has the
  same number of tokens, so every example has the same length and every slot
  sits at known positions (:meth:`TokenTemplate.positions`).
* :func:`candidate_decoder` -- reads the logits at one position (the last by
  default) over a set of candidate token ids; the decoded value is the
  high-level value of the best candidate and the scores are the logits over
  the candidates.
* Site helpers (from :mod:`causalabs.network.hf_sites`, re-exported here) --
  :func:`block_site`, :func:`attention_site` and :func:`mlp_site` name the
  residual stream and the attention/MLP sublayers of layer ``N`` by module
  path, for GPT-2 (``transformer.h.N``), Llama (``model.layers.N``) and
  other families.

:func:`hf_network` puts them together.  Loading a GGUF file (a quantised LM
shipped in a wheel) lives in :mod:`causalabs.network.gguf`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn

from causalabs.errors import NetworkError, SiteError
from causalabs.network.hf_sites import (
    ATTENTION_NAMES,
    BLOCK_CONTAINERS,
    MLP_NAMES,
    attention_site,
    block_path,
    block_site,
    blocks_path,
    mlp_site,
    num_layers,
)
from causalabs.network.decoded import output_tensor
from causalabs.network.network import Decoded, Network
from causalabs.network.text import TextTemplate

Batch = dict[str, np.ndarray]
#: Which row of a slot's vocabulary each example uses: an input name, or a
#: function of the high-level batch returning an int array of shape (n,).
SlotIndex = str | Callable[[Batch], Any]


# --- encoding ---------------------------------------------------------------


def _vocab(value: Any) -> tuple[tuple[int, ...], ...]:
    rows: list[tuple[int, ...]] = []
    for row in value:
        if isinstance(row, (int, np.integer)):
            rows.append((int(row),))
        else:
            rows.append(tuple(int(t) for t in row))
    return tuple(rows)


@attrs.frozen(eq=False)
class Slot:
    """A place in a prompt filled per example from a vocabulary of token-id rows.

    ``vocab[v]`` are the token ids used when the slot's index is ``v``; a row
    may be one id (``5099``) or several (``(2427, 5099)``), but all rows have
    the same length.  ``index`` is an input variable's name or a function of
    the batch.  ``label`` names the slot in positions and errors.
    """

    label: str
    vocab: tuple[tuple[int, ...], ...] = attrs.field(converter=_vocab)
    index: SlotIndex | None = None

    def __attrs_post_init__(self) -> None:
        if self.index is None:
            object.__setattr__(self, "index", self.label)
        if not self.vocab:
            raise NetworkError(f"slot {self.label!r}: the vocabulary is empty")
        widths = {len(r) for r in self.vocab}
        if len(widths) != 1 or 0 in widths:
            lengths = sorted(widths)
            raise NetworkError(
                f"slot {self.label!r}: every vocabulary row needs the same positive number of "
                f"tokens, got rows of lengths {lengths}"
            )

    @property
    def width(self) -> int:
        """Tokens per row."""
        return len(self.vocab[0])

    def rows(self, batch: Batch) -> np.ndarray:
        """The vocabulary index of each example, checked against the vocabulary size."""
        if callable(self.index):
            idx = np.asarray(self.index(batch))
        else:
            if self.index not in batch:
                raise NetworkError(
                    f"slot {self.label!r}: the batch has no input {self.index!r} "
                    f"(its inputs: {', '.join(batch)})"
                )
            idx = np.asarray(batch[self.index])
        idx = idx.reshape(-1).astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self.vocab)):
            bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
            raise NetworkError(
                f"slot {self.label!r}: index {bad} is outside its vocabulary of {len(self.vocab)} rows"
            )
        return idx


Piece = Slot | int | Sequence[int]


def _piece(p: Any) -> Slot | tuple[int, ...]:
    if isinstance(p, Slot):
        return p
    if isinstance(p, (int, np.integer)):
        return (int(p),)
    return tuple(int(t) for t in p)


@attrs.frozen(eq=False)
class TokenTemplate:
    """A prompt of literal token ids and slots, encoded without a tokenizer.

    Example (ids from the model's tokenizer, computed once)::

        name = Slot("a", vocab=[5099, 2322, 8590])
        t = TokenTemplate([2427, name, 284, Slot("b", vocab=[5099, 2322, 8590])])
        t.encode({"a": np.array([0, 1]), "b": np.array([1, 2])})  # (2, 4) LongTensor
        t.positions("a")  # (1,)
    """

    pieces: tuple[Slot | tuple[int, ...], ...] = attrs.field(
        converter=lambda ps: tuple(_piece(p) for p in ps)
    )

    def __attrs_post_init__(self) -> None:
        labels = [p.label for p in self.pieces if isinstance(p, Slot)]
        repeated = sorted({x for x in labels if labels.count(x) > 1})
        if repeated:
            raise NetworkError(f"token template: slot labels {repeated} are used twice; label each slot once")

    @property
    def length(self) -> int:
        """Tokens per example."""
        return sum(p.width if isinstance(p, Slot) else len(p) for p in self.pieces)

    @property
    def slots(self) -> tuple[Slot, ...]:
        return tuple(p for p in self.pieces if isinstance(p, Slot))

    def positions(self, label: str) -> tuple[int, ...]:
        """The token positions that the slot ``label`` fills."""
        offset = 0
        for p in self.pieces:
            width = p.width if isinstance(p, Slot) else len(p)
            if isinstance(p, Slot) and p.label == label:
                return tuple(range(offset, offset + width))
            offset += width
        raise SiteError(
            f"token template has no slot {label!r}; its slots are {', '.join(s.label for s in self.slots)}"
        )

    def position(self, name: str | int) -> tuple[int, ...]:
        """The positions called ``name``: an integer, ``last``, ``slot:S``, ``slot:S:first`` or ``slot:S:last``."""
        from causalabs.network.text import _parse

        kind, slot, which = _parse(str(name), [s.label for s in self.slots])
        if kind == "int":
            return (int(name),)
        if kind == "last":
            return (self.length - 1,)
        assert slot is not None
        span = self.positions(slot)
        return span[:1] if which == "first" else span[-1:] if which == "last" else span

    def encode(self, batch: Batch) -> torch.Tensor:
        """Token ids of shape (n, length) for a high-level batch (int64, on the CPU)."""
        n = len(next(iter(batch.values()))) if batch else 0
        out = np.empty((n, self.length), dtype=np.int64)
        offset = 0
        for p in self.pieces:
            if isinstance(p, Slot):
                table = np.asarray(p.vocab, dtype=np.int64)
                idx = p.rows(batch)
                if idx.shape[0] != n:
                    raise NetworkError(f"slot {p.label!r}: its index has {idx.shape[0]} rows for {n} examples")
                out[:, offset : offset + p.width] = table[idx]
                offset += p.width
            else:
                out[:, offset : offset + len(p)] = np.asarray(p, dtype=np.int64)
                offset += len(p)
        return torch.from_numpy(out)

    def __call__(self, batch: Batch) -> torch.Tensor:
        return self.encode(batch)


# --- decoding ---------------------------------------------------------------


def logits_of(out: Any) -> torch.Tensor:
    """The logits tensor of a model output (a ``ModelOutput``, a tuple or a tensor)."""
    logits = output_tensor(out)
    if logits is not None:
        return logits
    raise NetworkError(f"cannot find logits in a model output of type {type(out).__name__}")


def candidate_decoder(
    candidates: Sequence[int],
    values: Sequence[int] | None = None,
    *,
    position: int = -1,
) -> Callable[[Any], Decoded]:
    """Decode = the high-level value of the best candidate token at ``position``.

    ``candidates[j]`` is a token id and ``values[j]`` the high-level value it
    stands for (default ``j``).  ``Decoded.scores`` are the logits over the
    candidates, ``Decoded.classes`` the values, ``Decoded.log_normalizer`` the
    ``logsumexp`` of the logits over the whole vocabulary at ``position`` (so
    ``--metric prob`` is the token's probability under the language model).
    """
    ids = tuple(int(c) for c in candidates)
    vals = tuple(range(len(ids))) if values is None else tuple(int(v) for v in values)
    if not ids:
        raise NetworkError("candidate_decoder: give at least one candidate token id")
    if len(set(ids)) != len(ids):
        raise NetworkError(f"candidate_decoder: candidate token ids {list(ids)} repeat an id")
    if len(vals) != len(ids):
        raise NetworkError(f"candidate_decoder: {len(ids)} candidate tokens but {len(vals)} values")
    cache: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def decode(out: Any) -> Decoded:
        logits = logits_of(out)
        if logits.ndim != 3:
            raise NetworkError(f"candidate_decoder: expected (batch, seq, vocab) logits, got {tuple(logits.shape)}")
        if max(ids) >= logits.shape[-1]:
            raise NetworkError(
                f"candidate_decoder: candidate token {max(ids)} is outside the vocabulary of {logits.shape[-1]}"
            )
        if not -logits.shape[1] <= position < logits.shape[1]:
            raise NetworkError(f"candidate_decoder: position {position} is outside a sequence of {logits.shape[1]}")
        if logits.device not in cache:
            cache[logits.device] = (
                torch.tensor(ids, device=logits.device),
                torch.tensor(vals, device=logits.device),
            )
        id_t, val_t = cache[logits.device]
        at = logits[:, position]
        scores = at.index_select(-1, id_t)
        return Decoded(val_t[scores.argmax(-1)], scores, vals, at.float().logsumexp(-1))

    return decode


# --- the network --------------------------------------------------------------


def lm_call(module: nn.Module, input_ids: Any, *, logits_to_keep: int = 0) -> Any:
    """Run a causal LM on token ids without a key/value cache.

    ``input_ids`` is a tensor of ids, or the mapping a :class:`TextTemplate`
    encodes (ids, and for padded batches the attention mask and position
    ids; with right padding ``"last"``, each row's last real position, whose
    logits alone are returned, as a ``(n, 1, vocab)`` tensor).
    ``logits_to_keep=k > 0`` computes the logits of the last ``k`` positions
    only (``transformers``' own argument; 0 keeps all).
    """
    kwargs: dict[str, Any] = {"use_cache": False}
    if logits_to_keep:
        kwargs["logits_to_keep"] = logits_to_keep
    if not isinstance(input_ids, Mapping):
        return module(input_ids=input_ids, **kwargs)
    inputs = dict(input_ids)
    last = inputs.pop("last", None)
    out = module(**inputs, **kwargs)
    if last is None:
        return out
    logits = logits_of(out)
    rows = torch.arange(logits.shape[0], device=logits.device)
    return logits[rows, last.to(logits.device)][:, None]


def answer_tokens(tokenizer: Any, words: Sequence[str], *, prefix: str = " ") -> tuple[int, ...]:
    """The token id of each answer word (``prefix + word``, one token each), for :func:`candidate_decoder`."""
    ids = []
    for w in words:
        got = tokenizer.encode(prefix + w, add_special_tokens=False)
        if len(got) != 1:
            raise NetworkError(f"answer {prefix + w!r} is {len(got)} tokens for this tokenizer; an answer must be one token")
        ids.append(int(got[0]))
    return tuple(ids)


def hf_network(
    module: nn.Module,
    template: TokenTemplate | TextTemplate | str | Callable[[Batch], Any],
    decode: Callable[[Any], Decoded],
    *,
    name: str = "network",
    info: Mapping[str, Any] | None = None,
    logits_to_keep: int = 0,
    tokenizer: Any = None,
    vocab: Mapping[str, Sequence[str]] | None = None,
    index: Mapping[str, Any] | None = None,
    padding: str = "left",
) -> Network:
    """A :class:`Network` over a ``transformers`` causal LM (put in eval mode).

    ``template`` encodes a high-level batch into token ids: a
    :class:`TokenTemplate` (fixed ids, no tokenizer), a
    :class:`~causalabs.network.text.TextTemplate`, a format string with
    ``{slot}`` s (then give ``tokenizer``, ``vocab`` and optionally
    ``index`` and ``padding``: a TextTemplate is built from them), or any
    function.  ``decode`` reads the output (see :func:`candidate_decoder`).
    With ``logits_to_keep=1`` only the last position's logits are computed
    (the decoder must then read position -1; not with right padding).
    Named positions (``last``, ``slot:S``...) of the template resolve through
    :func:`causalabs.network.site_names.parse_site`.
    """
    if logits_to_keep < 0:
        raise NetworkError(f"hf_network {name!r}: logits_to_keep must be >= 0, got {logits_to_keep}")
    if isinstance(template, str):
        if tokenizer is None or vocab is None:
            raise NetworkError(f"hf_network {name!r}: a text template needs tokenizer= and vocab=")
        template = TextTemplate(tokenizer, template, vocab, index or {}, padding)  # type: ignore[arg-type]
    elif tokenizer is not None or vocab is not None:
        raise NetworkError(f"hf_network {name!r}: tokenizer= and vocab= go with a text template (a str)")
    if isinstance(template, TextTemplate) and template.padding == "right" and logits_to_keep:
        raise NetworkError(f"hf_network {name!r}: logits_to_keep reads the last positions, which right padding moves")
    module.eval()
    meta: dict[str, Any] = {"blocks": blocks_path(module), "layers": num_layers(module)}
    meta.update(info or {})
    call = functools.partial(lm_call, logits_to_keep=logits_to_keep) if logits_to_keep else lm_call
    return Network(module, template, decode, name=name, call=call, info=meta)


__all__ = [
    "ATTENTION_NAMES",
    "BLOCK_CONTAINERS",
    "MLP_NAMES",
    "Slot",
    "TextTemplate",
    "TokenTemplate",
    "answer_tokens",
    "attention_site",
    "block_path",
    "block_site",
    "blocks_path",
    "candidate_decoder",
    "hf_network",
    "lm_call",
    "logits_of",
    "mlp_site",
    "num_layers",
]
