"""Capital recall on SmolLM2 (``models/smollm2_capitals.py``, marker ``lm``) and its hypotheses (no LM needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import causalabs as ca
from causalabs.loading import load_module
from tests._smollm2 import load_smollm2

ROOT = Path(__file__).resolve().parents[1]
HYP = load_module(ROOT / "hypotheses" / "capitals.py")


def every() -> dict[str, np.ndarray]:
    g = np.meshgrid(np.arange(12), np.arange(12), indexing="ij")
    return {"c1": g[0].reshape(-1), "c2": g[1].reshape(-1)}


def test_the_twin_agrees_on_every_output_and_differs_under_interchange() -> None:
    b = every()
    assert np.array_equal(ca.run(HYP.Capital, b)["out"], ca.run(HYP.OffsetCapital, b)["out"])
    base = {"c1": np.array([0]), "c2": np.array([1])}
    source = {"c1": np.array([5]), "c2": np.array([7])}
    assert ca.interchange(HYP.Capital, base, {"country": source})["out"].tolist() == [7]
    assert ca.interchange(HYP.OffsetCapital, base, {"country": source})["out"].tolist() == [2]  # 0 + (7 - 5)


@pytest.fixture(scope="module")
def smol() -> Any:
    return load_smollm2("smollm2_capitals")


@pytest.mark.lm
@pytest.mark.slow
def test_smollm2_recalls_capitals_and_carries_the_country_at_block_24(smol: Any) -> None:
    """Measured (docs/transformers.md): accuracy 144/144; block 24, last token: Capital 1.0, the twin 0.04 (48 pairs)."""
    from causalabs.data import random_pairs
    from causalabs.engine import evaluate_pairs
    from causalabs.network import predict

    net, net_file = smol
    rows = np.random.default_rng(0).choice(144, 36, replace=False)
    b = {k: v[rows] for k, v in every().items()}
    accuracy = float(np.mean(predict(net, b).values.numpy() == ca.run(HYP.Capital, b)["out"]))
    assert accuracy >= 0.9
    ds = random_pairs(HYP.Capital, ["country"], 24, seed=0)
    res = evaluate_pairs(net, net_file.alignment(24), ds)
    twin = ca.interchange(HYP.OffsetCapital, ds.base, {"country": ds.sources["country"]})["out"]
    assert float(np.mean(res.correct)) >= 0.9
    assert float(np.mean(res.predicted == twin)) <= 0.35
