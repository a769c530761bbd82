"""Text templates: prompts written as text, tokenized at run time by the network's own tokenizer.

A :class:`TextTemplate` is a format string with named slots
(``"When {a} and {b} went to the {place}, {s} gave a {obj} to"``), a
vocabulary of strings per slot, and a tokenizer (a ``transformers`` fast
tokenizer: from the model's folder, or the one carried in a GGUF file, see
:func:`causalabs.network.gguf.load_gguf_tokenizer`).  For a high-level batch
it writes each prompt's text, tokenizes the whole text (so the ids are the
ones the tokenizer gives the prompt, whatever a word becomes next to its
neighbours), and finds each slot's token span from the tokenizer's character
offsets.  Slot values may be several tokens; prompts may differ in length:
a batch is padded on the left (default) or the right and encoded as
``{"input_ids", "attention_mask", "position_ids"}`` (the mask and position
ids only when some row is padded).

Token positions are named, and resolve per example (:meth:`TextTemplate.position`):

=================  ==========================================================
``last``           the prompt's last token
``slot:S``         every token of slot ``S`` (every row's span must have the
                   same number of tokens in a batch)
``slot:S:first``   the first token of slot ``S``
``slot:S:last``    the last token of slot ``S``
an integer         that position (negative counts from the end of the prompt)
=================  ==========================================================

With left padding positions are returned counted from the end of each
prompt (negative), with right padding from its start: either way a row's
positions do not depend on which other rows share its batch.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np
import torch

from causalabs.errors import NetworkError, SiteError

Batch = dict[str, np.ndarray]
SlotIndex = str | Callable[[Batch], Any]


@attrs.frozen
class Tokenized:
    """One prompt: its token ids and each slot's token span ``(start, stop)``."""

    ids: tuple[int, ...]
    spans: Mapping[str, tuple[int, int]]


def _fields(text: str) -> tuple[str, ...]:
    names = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    bad = [f for f in names if not f.isidentifier()]
    if bad:
        raise NetworkError(f"text template {text!r}: slot {{{bad[0]}}} is not a name (write {{name}})")
    repeated = sorted({f for f in names if names.count(f) > 1})
    if repeated:
        raise NetworkError(f"text template {text!r}: slots {repeated} appear twice; name each place once")
    if not names:
        raise NetworkError(f"text template {text!r}: it has no {{slot}}")
    return tuple(names)


def _vocab(value: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    return {str(k): tuple(str(w) for w in v) for k, v in value.items()}


@attrs.frozen(eq=False)
class TextTemplate:
    """A text prompt with named slots, tokenized at run time (see the module docstring).

    ``vocab[S][v]`` is the text slot ``S`` holds when its index is ``v``;
    ``index[S]`` is an input variable's name or a function of the batch
    (default: the input named ``S``).  ``padding``: ``"left"`` or
    ``"right"``.  ``add_special_tokens``: let the tokenizer add its own
    (a BOS token, for example).
    """

    tokenizer: Any
    text: str
    vocab: Mapping[str, tuple[str, ...]] = attrs.field(converter=_vocab)
    index: Mapping[str, SlotIndex] = attrs.field(factory=dict, converter=dict)
    padding: Literal["left", "right"] = "left"
    add_special_tokens: bool = False
    _cache: dict[str, Tokenized] = attrs.field(factory=dict, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        slots = _fields(self.text)
        missing = [s for s in slots if s not in self.vocab]
        if missing:
            raise NetworkError(f"text template: slot {missing[0]!r} has no vocabulary (give vocab[{missing[0]!r}])")
        extra = [s for s in list(self.vocab) + list(self.index) if s not in slots]
        if extra:
            raise NetworkError(f"text template: {extra[0]!r} is not a slot of {self.text!r} (its slots: {', '.join(slots)})")
        empty = [s for s in slots if not self.vocab[s]]
        if empty:
            raise NetworkError(f"text template: the vocabulary of slot {empty[0]!r} is empty")
        if self.padding not in ("left", "right"):
            raise NetworkError(f"text template: padding must be 'left' or 'right', got {self.padding!r}")

    @property
    def slots(self) -> tuple[str, ...]:
        return _fields(self.text)

    @property
    def pad_id(self) -> int:
        tok = self.tokenizer
        for value in (getattr(tok, "pad_token_id", None), getattr(tok, "eos_token_id", None)):
            if value is not None:
                return int(value)
        return 0

    # --- text -------------------------------------------------------------------

    def rows(self, slot: str, batch: Batch) -> np.ndarray:
        """The vocabulary index of slot ``slot`` in each row, checked against its vocabulary."""
        index = self.index.get(slot, slot)
        if callable(index):
            idx = np.asarray(index(batch))
        else:
            if index not in batch:
                raise NetworkError(f"slot {slot!r}: the batch has no input {index!r} (its inputs: {', '.join(batch)})")
            idx = np.asarray(batch[index])
        idx = idx.reshape(-1).astype(np.int64)
        size = len(self.vocab[slot])
        if idx.size and (idx.min() < 0 or idx.max() >= size):
            bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
            raise NetworkError(f"slot {slot!r}: index {bad} is outside its vocabulary of {size} strings")
        return idx

    def texts(self, batch: Batch) -> list[str]:
        """Each row's prompt as text."""
        cols = {s: self.rows(s, batch) for s in self.slots}
        n = len(next(iter(batch.values()))) if batch else 0
        return [self.text.format(**{s: self.vocab[s][int(cols[s][i])] for s in self.slots}) for i in range(n)]

    def _char_spans(self, values: Mapping[str, str]) -> dict[str, tuple[int, int]]:
        spans: dict[str, tuple[int, int]] = {}
        at = 0
        for literal, field, _, _ in string.Formatter().parse(self.text):
            at += len(literal)
            if field is not None:
                spans[field] = (at, at + len(values[field]))
                at += len(values[field])
        return spans

    # --- tokens -----------------------------------------------------------------

    def tokenize_row(self, values: Mapping[str, str]) -> Tokenized:
        """Token ids and slot spans of the prompt with these slot strings."""
        text = self.text.format(**values)
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        try:
            enc = self.tokenizer(text, add_special_tokens=self.add_special_tokens, return_offsets_mapping=True)
        except NotImplementedError as exc:
            raise NetworkError(
                f"text template: the tokenizer {type(self.tokenizer).__name__} gives no character offsets "
                "(use a fast tokenizer)"
            ) from exc
        ids = tuple(int(t) for t in enc["input_ids"])
        offsets = [tuple(o) for o in enc["offset_mapping"]]
        spans: dict[str, tuple[int, int]] = {}
        for slot, (a, b) in self._char_spans(values).items():
            hits = [i for i, (s, e) in enumerate(offsets) if e > s and s < b and e > a]
            if not hits:
                raise NetworkError(f"text template: slot {slot!r} ({values[slot]!r}) covers no token of {text!r}")
            spans[slot] = (hits[0], hits[-1] + 1)
        out = Tokenized(ids, spans)
        self._cache[text] = out
        return out

    def tokenize(self, batch: Batch) -> list[Tokenized]:
        """Each row tokenized (cached per distinct prompt)."""
        cols = {s: self.rows(s, batch) for s in self.slots}
        n = len(next(iter(batch.values()))) if batch else 0
        return [self.tokenize_row({s: self.vocab[s][int(cols[s][i])] for s in self.slots}) for i in range(n)]

    def ids(self, batch: Batch) -> list[tuple[int, ...]]:
        """Each row's token ids, unpadded."""
        return [t.ids for t in self.tokenize(batch)]

    def encode(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``input_ids`` of shape (n, longest), padded; with ``attention_mask`` and ``position_ids`` if padded."""
        rows = self.ids(batch)
        n = len(rows)
        width = max((len(r) for r in rows), default=0)
        ids = np.full((n, width), self.pad_id, dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        for i, r in enumerate(rows):
            if self.padding == "left":
                ids[i, width - len(r):] = r
                mask[i, width - len(r):] = 1
            else:
                ids[i, : len(r)] = r
                mask[i, : len(r)] = 1
        out = {"input_ids": torch.from_numpy(ids)}
        if n and not mask.all():
            out["attention_mask"] = torch.from_numpy(mask)
            out["position_ids"] = torch.from_numpy(np.clip(np.cumsum(mask, axis=1) - 1, 0, None))
        if self.padding == "right" and n:
            out["last"] = torch.tensor([len(r) - 1 for r in rows], dtype=torch.long)
        return out

    def __call__(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self.encode(batch)

    # --- positions ---------------------------------------------------------------

    def tokens_at(self, name: str | int, row: Batch) -> str:
        """The text of the tokens at position ``name`` in the prompt of ``row`` (one example): for axis labels."""
        t = self.tokenize(row)[0]
        pos = np.asarray(self.position(name)(row)).reshape(-1)
        if self.padding == "left":
            pos = pos + len(t.ids)
        return "".join(self.tokenizer.decode([t.ids[int(p)]]) for p in pos)

    def position(self, name: str | int) -> Callable[[Batch], np.ndarray]:
        """The per-example positions called ``name`` (see the module docstring), as a function of the batch."""
        return PositionName(str(name), self)


def _frame(template: TextTemplate, rows: list[Tokenized], pos: np.ndarray) -> np.ndarray:
    """Positions from the start of each prompt -> the padded batch's frame (from the end under left padding)."""
    if template.padding == "right":
        return pos
    lengths = np.array([len(t.ids) for t in rows], dtype=np.int64).reshape(-1, *([1] * (pos.ndim - 1)))
    return pos - lengths


class PositionName:
    """Named token positions of a text template, resolved per example; its ``__name__`` is the name."""

    __slots__ = ("__name__", "template")

    def __init__(self, name: str, template: TextTemplate | None = None) -> None:
        self.__name__ = name
        self.template = template
        _parse(name, template.slots if template is not None else None)

    def __repr__(self) -> str:
        text = None if self.template is None else self.template.text
        return f"PositionName({self.__name__!r}, template={text!r})"

    def __call__(self, batch: Batch) -> np.ndarray:
        t = self.template
        if t is None:
            raise SiteError(f"position {self.__name__!r}: it names tokens of a text template; bind it to a network first")
        kind, slot, which = _parse(self.__name__, t.slots)
        rows = t.tokenize(batch)
        if kind == "int":
            k = int(self.__name__)
            pos = np.array([k if k >= 0 else len(r.ids) + k for r in rows], dtype=np.int64)
        elif kind == "last":
            pos = np.array([len(r.ids) - 1 for r in rows], dtype=np.int64)
        else:
            spans = [r.spans[slot] for r in rows]
            if which == "first":
                pos = np.array([a for a, _ in spans], dtype=np.int64)
            elif which == "last":
                pos = np.array([b - 1 for _, b in spans], dtype=np.int64)
            else:
                widths = {b - a for a, b in spans}
                if len(widths) > 1:
                    raise SiteError(
                        f"position slot:{slot}: its tokens number {sorted(widths)} in one batch; "
                        f"name one token (slot:{slot}:first or slot:{slot}:last)"
                    )
                pos = np.array([list(range(a, b)) for a, b in spans], dtype=np.int64).reshape(len(rows), -1)
        return _frame(t, rows, pos)


def _parse(name: str, slots: Sequence[str] | None) -> tuple[str, str | None, str | None]:
    try:
        int(name)
        return "int", None, None
    except ValueError:
        pass
    if name == "last":
        return "last", None, None
    parts = name.split(":")
    if parts[0] == "slot" and len(parts) in (2, 3) and parts[1] and (len(parts) == 2 or parts[2] in ("first", "last")):
        if slots is not None and parts[1] not in slots:
            raise SiteError(f"position {name!r}: the template has no slot {parts[1]!r} (its slots: {', '.join(slots)})")
        return "slot", parts[1], parts[2] if len(parts) == 3 else None
    raise SiteError(
        f"position {name!r}: expected an integer, 'last', 'slot:NAME', 'slot:NAME:first' or 'slot:NAME:last'"
    )


__all__ = ["PositionName", "TextTemplate", "Tokenized"]
