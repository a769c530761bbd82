"""The RASP programs ``export.py`` compiles with tracr, and the finite domain of each (not an organism).

Each :class:`Program` names a builder (imported lazily: importing this file
does not import tracr or JAX), its vocabulary, its length and whether shorter
inputs occur.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Program:
    """A RASP program to compile: builder, vocabulary, length and whether shorter inputs occur."""

    name: str
    build: Callable[[], Any]  # () -> rasp.SOp
    vocab: tuple[Any, ...]
    max_seq_len: int
    variable_length: bool
    source: str  # how the program is built, for the JSON


def _reverse() -> Any:
    from tracr.compiler import lib
    from tracr.rasp import rasp

    return lib.make_reverse(rasp.tokens)


def _hist() -> Any:
    from tracr.compiler import lib

    return lib.make_hist()


def _sort() -> Any:
    from tracr.compiler import lib
    from tracr.rasp import rasp

    # lib.make_sort(tokens, tokens, max_seq_len=4, min_key=1), with its keys named.
    keys = rasp.SequenceMap(lambda x, i: x + 1 * i / 4, rasp.tokens, rasp.indices).named("keys")
    return lib.make_sort_unique(rasp.tokens, keys)


def _frac_prevs() -> Any:
    from tracr.compiler import lib
    from tracr.rasp import rasp

    return lib.make_frac_prevs(rasp.numerical(rasp.tokens == "x").named("is_x"))


PROGRAMS: dict[str, Program] = {
    p.name: p
    for p in (
        Program(
            "reverse",
            _reverse,
            ("a", "b", "c"),
            4,
            True,
            "lib.make_reverse(rasp.tokens)",
        ),
        Program("hist", _hist, ("a", "b", "c"), 4, True, "lib.make_hist()"),
        Program(
            "sort",
            _sort,
            (1, 2, 3),
            4,
            False,
            "lib.make_sort_unique(rasp.tokens, keys), keys = SequenceMap(x + i/4, tokens, indices) "
            "(= lib.make_sort(tokens, tokens, max_seq_len=4, min_key=1))",
        ),
        Program(
            "frac_prevs",
            _frac_prevs,
            ("x", "y", "z"),
            4,
            False,
            'lib.make_frac_prevs(rasp.numerical(rasp.tokens == "x").named("is_x"))',
        ),
    )
}


def domain(program: Program) -> Iterator[tuple[Any, ...]]:
    """Every input sequence (without BOS): all lengths 1..L if variable, else exactly L."""
    lengths = range(1, program.max_seq_len + 1) if program.variable_length else (program.max_seq_len,)
    for n in lengths:
        yield from itertools.product(program.vocab, repeat=n)
