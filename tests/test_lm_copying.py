"""List copying on SmolLM2 (``models/smollm2_copying.py``, marker ``lm``) and its hypotheses (no LM needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import causalabs as ca
from causalabs.loading import load_module
from tests._smollm2 import load_smollm2

ROOT = Path(__file__).resolve().parents[1]
HYP = load_module(ROOT / "hypotheses" / "copying.py")


def one(**values: int) -> dict[str, np.ndarray]:
    return {k: np.array([v]) for k, v in values.items()}


def test_the_inputs_are_lists_of_four_different_words() -> None:
    every = ca.enumerate_inputs(HYP.Copy)
    assert len(every["n"]) == 8 * 7 * 6 * 5 * 2
    words = np.stack([every[f"w{i}"] for i in range(4)], axis=1)
    assert all(len(set(row)) == 4 for row in words.tolist())
    assert set(every["n"].tolist()) == {2, 3}


def test_the_twin_agrees_on_every_output_and_differs_under_interchange() -> None:
    every = ca.enumerate_inputs(HYP.Copy)
    out = ca.run(HYP.Copy, every)["out"]
    assert np.array_equal(out, ca.run(HYP.PointerCopy, every)["out"])
    assert np.array_equal(out, np.where(every["n"] == 2, every["w2"], every["w3"]))
    base = one(w0=0, w1=1, w2=2, w3=3, n=2)
    source = one(w0=4, w1=5, w2=6, w3=7, n=3)
    assert ca.interchange(HYP.Copy, base, {"copied": source})["out"].tolist() == [7]  # the source's next word
    assert ca.interchange(HYP.PointerCopy, base, {"copied": source})["out"].tolist() == [3]  # the base's 4th word


@pytest.fixture(scope="module")
def smol() -> Any:
    return load_smollm2("smollm2_copying")


@pytest.mark.lm
def test_the_prompts_differ_in_length_and_last_is_each_prompts_own_comma(smol: Any) -> None:
    net, _ = smol
    template = net.encode.__wrapped__
    b = {"w0": np.array([0, 4]), "w1": np.array([1, 5]), "w2": np.array([2, 6]), "w3": np.array([3, 7]),
         "n": np.array([2, 3])}
    assert template.texts(b) == [
        "Words: cherries, grapes, watermelons, bananas. Repeat the words: cherries, grapes,",
        "Words: kiwis, mangoes, pineapples, lemons. Repeat the words: kiwis, mangoes, pineapples,",
    ]
    lengths = [len(ids) for ids in template.ids(b)]
    assert lengths[0] != lengths[1]
    enc = template.encode(b)
    assert enc["attention_mask"].sum(dim=1).tolist() == lengths
    assert template.position("last")(b).tolist() == [-1, -1]
    assert template.tokens_at("last", {k: v[:1] for k, v in b.items()}) == ","


def _prompts(count: int, *, seed: int) -> dict[str, np.ndarray]:
    """``count`` distinct inputs of the copying task, drawn at random."""
    every = ca.enumerate_inputs(HYP.Copy)
    rows = np.random.default_rng(seed).choice(len(every["n"]), count, replace=False)
    return {k: v[rows] for k, v in every.items()}


@pytest.mark.lm
def test_a_padded_batch_decodes_as_each_prompt_alone(smol: Any) -> None:
    """Left padding with a mask: measured max logit difference 1.5e-5 on 8 prompts of 23-26 tokens; checked to 1e-4."""
    import torch

    from causalabs.network import predict

    net, _ = smol
    b = _prompts(8, seed=1)
    assert len({len(ids) for ids in net.encode.__wrapped__.ids(b)}) > 1
    together = predict(net, b)
    alone = [predict(net, {k: v[i:i + 1] for k, v in b.items()}) for i in range(8)]
    assert torch.cat([a.values for a in alone]).tolist() == together.values.tolist()
    assert torch.allclose(torch.cat([a.scores for a in alone]), together.scores, atol=1e-4, rtol=0)


@pytest.mark.lm
@pytest.mark.slow
def test_smollm2_copies_the_next_word_and_carries_it_at_block_23(smol: Any) -> None:
    """Measured (docs/transformers.md): accuracy 0.972 on 960 prompts; block 23, last token: Copy 1.0, the twin 0.11 (64 pairs)."""
    from causalabs.data import random_pairs
    from causalabs.engine import evaluate_pairs
    from causalabs.network import predict

    net, net_file = smol
    b = _prompts(32, seed=0)
    accuracy = float(np.mean(predict(net, b).values.numpy() == ca.run(HYP.Copy, b)["out"]))
    assert accuracy >= 0.9
    ds = random_pairs(HYP.Copy, ["copied"], 24, seed=0)
    res = evaluate_pairs(net, net_file.alignment(23), ds)
    twin = ca.interchange(HYP.PointerCopy, ds.base, {"copied": ds.sources["copied"]})["out"]
    assert float(np.mean(res.correct)) >= 0.9
    assert float(np.mean(res.predicted == twin)) <= 0.35
