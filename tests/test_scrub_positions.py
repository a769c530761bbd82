"""Scrubbing with position names (``[pos last]``) on a text network: bound to its template before batches are row gathers."""

from __future__ import annotations

import sys
from pathlib import Path

import attrs
import numpy as np
import pytest
import sympy as sp

import causalabs as ca
from causalabs.network import Alignment
from causalabs.network.site_names import parse_site
from causalabs.network.sites import bound_positions
from causalabs.scrub import scrub

sys.path.insert(0, str(Path(__file__).resolve().parent))


class TinyIOI(ca.Hypothesis):
    """io = b if s == 0 else a, over the first two places (claims at two blocks; right or not)."""

    a, b = ca.inputs("a b", domain=range(4))
    s = ca.input("s", domain=(0, 1))
    place = ca.input("place", domain=range(2))
    t = ca.var(1 - s)
    io = ca.var(b * t + a * (1 - t))
    out = ca.output(io)


def test_a_last_position_site_scrubs_as_the_same_site_bound_by_hand() -> None:
    pytest.importorskip("transformers")
    import _lm_tiny as tiny

    from causalabs.network.hf import answer_tokens, candidate_decoder, hf_network

    tok = tiny.tokenizer()
    names = tiny.NAMES[:4]
    net = hf_network(
        tiny.module("gpt2"), tiny.TEXT, candidate_decoder(answer_tokens(tok, names)), tokenizer=tok,
        vocab={"a": names, "b": names, "s": names, "place": tiny.PLACES},
        index={"s": lambda batch: np.where(np.asarray(batch["s"]) == 0, batch["a"], batch["b"])}, name="tiny_gpt2",
    )
    named = {"t": parse_site("transformer.h.0[pos last]"), "io": parse_site("transformer.h.1[pos last]")}
    by_hand = {k: attrs.evolve(s, positions=bound_positions(s, net)) for k, s in named.items()}
    data = ca.enumerate_inputs(TinyIOI)
    want = scrub(net, TinyIOI, by_hand, data, n=60, seed=0)
    for alignment in (named, Alignment(named)):  # a mapping of sites, and an Alignment
        got = scrub(net, TinyIOI, alignment, data, n=60, seed=0)
        assert got.execution == want.execution
        for key in ("scrubbed", "original", "random", "correct"):  # the same computations: to the bit
            np.testing.assert_array_equal(got.per_reference[key], want.per_reference[key])
