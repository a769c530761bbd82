"""Text templates tokenized at run time: ids, slot spans, padding, named positions (tiny tokenizer, tiny models)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import _lm_tiny as tiny
from causalabs.backends.native import NativeBackend
from causalabs.errors import NetworkError, SiteError
from causalabs.network import site
from causalabs.network.hf import TokenTemplate, Slot, candidate_decoder, hf_network, logits_of
from causalabs.network.text import PositionName, TextTemplate

TOK = tiny.tokenizer()
VOCAB = {"a": tiny.NAMES, "b": tiny.NAMES, "s": tiny.NAMES, "place": tiny.PLACES}


def subject(batch: dict[str, np.ndarray]) -> np.ndarray:
    return np.where(np.asarray(batch["s"]) == 0, batch["a"], batch["b"])


def template(padding: str = "left") -> TextTemplate:
    return TextTemplate(TOK, tiny.TEXT, VOCAB, {"s": subject}, padding)  # type: ignore[arg-type]


def batch(n: int = 12, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = len(tiny.NAMES)
    return {"a": rng.integers(0, k, n), "b": rng.integers(0, k, n), "s": rng.integers(0, 2, n),
            "place": rng.integers(0, len(tiny.PLACES), n)}


def test_ids_are_the_tokenizers_ids_of_the_whole_text_and_spans_cover_the_slot_values() -> None:
    t, b = template(), batch(40)
    rows, texts = t.tokenize(b), t.texts(b)
    widths = set()
    for r, text in zip(rows, texts):
        assert list(r.ids) == TOK.encode(text, add_special_tokens=False)
        for slot, (lo, hi) in r.spans.items():
            widths.add(hi - lo)
            value = VOCAB[slot][int(t.rows(slot, b)[rows.index(r)])]
            assert TOK.decode(list(r.ids[lo:hi])).strip() == value
    assert max(widths) > 1 and min(widths) == 1  # multi-token and one-token values both occur
    assert len({len(r.ids) for r in rows}) > 1  # prompts of different lengths


@pytest.mark.parametrize("padding", ["left", "right"])
def test_padding_marks_the_real_tokens_and_keeps_them_in_order(padding: str) -> None:
    t, b = template(padding), batch(10)
    enc, rows = t.encode(b), t.ids(b)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    for i, r in enumerate(rows):
        assert ids[i][mask[i].bool()].tolist() == list(r)
        assert enc["position_ids"][i][mask[i].bool()].tolist() == list(range(len(r)))
    assert (ids[~mask.bool()] == TOK.pad_token_id).all()


@pytest.mark.parametrize("padding", ["left", "right"])
@pytest.mark.parametrize("name", ["last", "slot:s", "slot:place:first", "slot:place:last", "0", "-2"])
def test_named_positions_point_at_their_tokens_in_the_padded_batch(padding: str, name: str) -> None:
    t, b = template(padding), batch(10)
    if name == "slot:s":  # one-token subject names only: a span's width must agree across the batch
        b = {k: v for k, v in b.items()}
        b["a"], b["b"] = b["a"] % 4, b["b"] % 4
    enc, rows = t.encode(b), t.tokenize(b)
    pos = np.asarray(t.position(name)(b)).reshape(len(rows), -1)
    width = enc["input_ids"].shape[1]
    for i, r in enumerate(rows):
        if name == "last":
            want = [len(r.ids) - 1]
        elif name.startswith("slot:"):
            lo, hi = r.spans[name.split(":")[1]]
            want = {"first": [lo], "last": [hi - 1]}.get(name.split(":")[-1], list(range(lo, hi)))
        else:
            want = [int(name) % len(r.ids)]
        got = [int(p) % width for p in pos[i]]
        shift = width - len(r.ids) if padding == "left" else 0
        assert got == [w + shift for w in want]


def test_a_slot_span_of_different_widths_in_one_batch_is_refused() -> None:
    t = template()
    b = {"a": np.array([0, 4]), "b": np.array([1, 1]), "s": np.array([0, 0]), "place": np.array([0, 0])}
    with pytest.raises(SiteError, match="slot:s:first or slot:s:last"):
        t.position("slot:s")(b)


@pytest.mark.parametrize("make,match", [
    (lambda: TextTemplate(TOK, "no slots", {}), "has no"),
    (lambda: TextTemplate(TOK, "{a} {a}", {"a": ["x"]}), "appear twice"),
    (lambda: TextTemplate(TOK, "{a} {b}", {"a": ["x"]}), "no vocabulary"),
    (lambda: TextTemplate(TOK, "{a}", {"a": ["x"], "c": ["y"]}), "not a slot"),
    (lambda: TextTemplate(TOK, "{a}", {"a": []}), "is empty"),
    (lambda: TextTemplate(TOK, "{a}", {"a": ["x"]}, padding="middle"), "padding"),  # type: ignore[arg-type]
    (lambda: template().encode({"a": np.array([0])}), "no input"),
    (lambda: template().encode({"a": np.array([99]), "b": np.array([0]), "s": np.array([0]),
                                "place": np.array([0])}), "outside its vocabulary"),
    (lambda: PositionName("slot:nope", template()), "no slot 'nope'"),
    (lambda: PositionName("middle"), "expected an integer"),
])
def test_template_errors_are_typed_and_name_the_fault(make, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((NetworkError, SiteError), match=match):
        make()


@pytest.mark.parametrize("family", ["gpt2", "llama", "gpt_neox"])
@pytest.mark.parametrize("padding", ["left", "right"])
def test_a_padded_batch_decodes_as_each_prompt_alone(family: str, padding: str) -> None:
    module = tiny.module(family)
    ids = [TOK.encode(" " + w)[0] for w in tiny.NAMES[:4]]
    net = hf_network(module, tiny.TEXT, candidate_decoder(ids), tokenizer=TOK, vocab=VOCAB, index={"s": subject},
                     padding=padding)
    b = batch(8)
    together = logits_of(net.call(net.module, net.encode(b)))[:, -1] if padding == "left" else None
    raw = net.call(net.module, net.encode(b))
    got = net.decode(raw).scores
    for i in range(8):
        row = {k: v[i : i + 1] for k, v in b.items()}
        alone = module(input_ids=torch.tensor([template().ids(row)[0]]), use_cache=False).logits[0, -1]
        torch.testing.assert_close(got[i], alone[ids], atol=1e-5, rtol=0)
        if together is not None:
            torch.testing.assert_close(together[i], alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("padding", ["left", "right"])
def test_a_rows_vector_at_a_named_position_does_not_depend_on_its_batch(padding: str) -> None:
    module = tiny.module("llama")
    net = hf_network(module, tiny.TEXT, candidate_decoder([1, 2]), tokenizer=TOK, vocab=VOCAB, index={"s": subject},
                     padding=padding)
    b = batch(8)
    s = site("model.layers.0", positions="slot:place:last")
    many = NativeBackend().collect(net, b, [s])[s.location_key()]
    for i in (0, 5):
        one = NativeBackend().collect(net, {k: v[i : i + 1] for k, v in b.items()}, [s])[s.location_key()]
        torch.testing.assert_close(many[i], one[0], atol=1e-5, rtol=0)


def test_token_templates_resolve_the_same_position_names() -> None:
    t = TokenTemplate([1, Slot("x", [10, 11]), [2, 3], Slot("y", [(20, 30), (21, 31)]), 4])
    assert t.position("last") == (6,)
    assert t.position("slot:y") == (4, 5) and t.position("slot:y:first") == (4,) and t.position("slot:y:last") == (5,)
    assert t.position("slot:x") == (1,) and t.position(-2) == (-2,)
    with pytest.raises(SiteError, match="no slot"):
        t.position("slot:z")
