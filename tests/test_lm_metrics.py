"""LM metrics (``metric="logit-diff" | "prob"``): the engine's readings against hand-written hooks, the
interval's coverage by simulation, the report section, and the default left unchanged."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from _nets import heq_encode, heq_hypotheses, heq_network

import _lm_tiny as tiny
from causalabs.data import random_pairs
from causalabs.engine import evaluate_pairs
from causalabs.errors import EstimateError, MetricError
from causalabs.metrics.lm import estimate, per_pair
from causalabs.network import Alignment, Network, site
from causalabs.network.decoded import Decoded
from causalabs.network.hf import answer_tokens, candidate_decoder, hf_network
from causalabs.network.site_names import parse_site
from causalabs.scm.semantics import model_of
from causalabs.verification.lm_metrics import check_logits, unpatched_readings

H = heq_hypotheses().HierarchicalEquality
ALIGN = Alignment({"left": site("2", units=[0]), "right": site("2", units=[1])})


# --- the organism: hierarchical equality, hand-built ---------------------------------------------------------


@torch.no_grad()
def heq_by_hand(net: Network, base: dict[str, np.ndarray], source: dict[str, np.ndarray], unit: int) -> torch.Tensor:
    """Logits of each base with unit ``unit`` of layer "2" taken from its source, one pair at a time, no hooks."""
    m = net.module
    out = []
    for i in range(len(base["w"])):
        b, s = ({k: v[i:i + 1] for k, v in d.items()} for d in (base, source))
        hb, hs = (m[2](m[1](m[0](heq_encode(x)))) for x in (b, s))
        hb = hb.clone()
        hb[0, unit] = hs[0, unit]
        out.append(m[6](m[5](m[4](m[3](hb))))[0])
    return torch.stack(out).double()


def test_the_engines_logit_diff_and_prob_equal_a_hand_computation_on_an_organism() -> None:
    net = heq_network()
    ds = random_pairs(H, ["left"], 64, seed=3)
    r = evaluate_pairs(net, ALIGN, ds, logits=True)
    logits = heq_by_hand(net, ds.base, ds.sources["left"], 0)
    rows = np.arange(len(ds))
    exp_col = [(0, 1).index(int(v)) for v in ds.expected]  # the decoder's classes are (0, 1)
    base_col = [(0, 1).index(int(v)) for v in ds.base_output]
    diff = (logits[rows, exp_col] - logits[rows, base_col]).numpy()
    prob = torch.softmax(logits, -1)[rows, exp_col].numpy()
    got_diff, counted = per_pair("logit-diff", r.logits, r.expected, r.base_output)
    got_prob, _ = per_pair("prob", r.logits, r.expected, r.base_output)
    assert np.abs(got_diff - diff).max() <= 1e-5 and np.abs(got_prob - prob).max() <= 1e-5
    assert (counted == (ds.expected != ds.base_output)).all() and 0 < counted.sum() < len(ds)
    assert ((got_prob >= 0) & (got_prob <= 1)).all()
    # the unpatched readings: the base alone, by hand
    with torch.no_grad():
        plain = torch.stack([net.module(heq_encode({k: v[i:i + 1] for k, v in ds.base.items()}))[0]
                             for i in range(len(ds))]).double()
    off = unpatched_readings(net, ds.base, ds.expected, ds.base_output)
    assert np.abs(off[:, 0] - off[:, 1] - (plain[rows, exp_col] - plain[rows, base_col]).numpy()).max() <= 1e-5


def test_reading_logits_leaves_the_decisions_and_soft_iia_unchanged() -> None:
    net = heq_network()
    ds = random_pairs(H, ["left", "right"], 48, seed=1)
    plain, read = evaluate_pairs(net, ALIGN, ds), evaluate_pairs(net, ALIGN, ds, logits=True)
    assert plain.logits is None and read.logits is not None and read.logits.shape == (48, 3)
    assert np.array_equal(plain.predicted, read.predicted)
    assert np.array_equal(plain.prob_expected, read.prob_expected)  # identical computation: bitwise


# --- a tiny random GPT-2 with a text template ------------------------------------------------------------------


NAMES = tiny.NAMES[:4]
TOK = tiny.tokenizer()


def subject(batch: dict[str, np.ndarray]) -> np.ndarray:
    return np.where(np.asarray(batch["s"]) == 0, batch["a"], batch["b"])


class TinyIOI:
    """The tiny IOI hypothesis of ``_lm_tiny`` (loaded once)."""

    _h: Any = None

    @classmethod
    def get(cls, folder: Any) -> Any:
        if cls._h is None:
            from causalabs.loading import load_hypothesis

            cls._h = load_hypothesis(tiny.write_files(folder)[0])
        return cls._h


@pytest.fixture(scope="module")
def ioi(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return TinyIOI.get(tmp_path_factory.mktemp("tiny"))


def gpt2() -> Network:
    vocab = {"a": NAMES, "b": NAMES, "s": NAMES, "place": tiny.PLACES}
    return hf_network(tiny.module("gpt2"), tiny.TEXT, candidate_decoder(answer_tokens(TOK, NAMES)),
                      tokenizer=TOK, vocab=vocab, index={"s": subject}, name="tiny-gpt2")


@torch.no_grad()
def gpt2_by_hand(net: Network, base: dict[str, np.ndarray], source: dict[str, np.ndarray]) -> torch.Tensor:
    """Full-vocabulary logits at each base prompt's last token with block 1's output at the last token taken from
    the source prompt, one pair at a time, with plain torch hooks."""
    t = net.encode.__wrapped__  # type: ignore[attr-defined]
    block = net.module.get_submodule("transformer.h.1")
    out = []
    for i in range(len(base["a"])):
        ids = [torch.tensor([t.tokenize({k: v[i:i + 1] for k, v in d.items()})[0].ids]) for d in (source, base)]
        saved: list[torch.Tensor] = []

        def read(mod: Any, args: Any, output: Any) -> None:
            saved.append((output[0] if isinstance(output, tuple) else output)[0, -1].clone())

        def write(mod: Any, args: Any, output: Any) -> Any:
            x = (output[0] if isinstance(output, tuple) else output).clone()
            x[0, -1] = saved[0]
            return (x, *output[1:]) if isinstance(output, tuple) else x

        h = block.register_forward_hook(read)
        try:
            net.module(input_ids=ids[0], use_cache=False)
        finally:
            h.remove()
        h = block.register_forward_hook(write)
        try:
            out.append(net.module(input_ids=ids[1], use_cache=False).logits[0, -1])
        finally:
            h.remove()
    return torch.stack(out).double()


def test_on_a_tiny_gpt2_logit_diff_and_vocabulary_prob_equal_a_hand_written_hook(ioi: Any) -> None:
    net = gpt2()
    ds = random_pairs(ioi, ["io"], 24, seed=5)
    al = Alignment({"io": parse_site("transformer.h.1[pos last]", net)})
    r = evaluate_pairs(net, al, ds, logits=True)
    logits = gpt2_by_hand(net, ds.base, ds.sources["io"])
    ids = answer_tokens(TOK, NAMES)
    rows = np.arange(len(ds))
    exp_tok = [ids[int(v)] for v in ds.expected]
    base_tok = [ids[int(v)] for v in ds.base_output]
    diff = (logits[rows, exp_tok] - logits[rows, base_tok]).numpy()
    prob = torch.softmax(logits, -1)[rows, exp_tok].numpy()  # over the whole vocabulary
    got_diff, counted = per_pair("logit-diff", r.logits, r.expected, r.base_output)
    got_prob, _ = per_pair("prob", r.logits, r.expected, r.base_output)
    assert counted.any() and np.abs(got_diff - diff)[counted].max() <= 1e-5
    assert np.abs(got_prob - prob).max() <= 1e-5 and ((got_prob >= 0) & (got_prob <= 1)).all()
    m = estimate("logit-diff", r.logits, unpatched_readings(net, ds.base, r.expected, r.base_output),
                 r.expected, r.base_output)
    assert m.excluded == int((~counted).sum()) and m.patched.n == int(counted.sum())
    assert abs(m.patched.value - diff[counted].mean()) <= 1e-5


def test_the_vocabulary_normaliser_is_said_and_a_decode_without_logits_is_refused(ioi: Any) -> None:
    assert "vocabulary" in check_logits(gpt2(), model_of(ioi), "prob")
    assert "2 output classes" in check_logits(heq_network(), model_of(H), "prob")
    bare = Network(heq_network().module, heq_encode, lambda out: Decoded(out.argmax(-1)), name="bare")
    with pytest.raises(MetricError, match="network bare: --metric logit-diff"):
        check_logits(bare, model_of(H), "logit-diff")
    probs = Network(heq_network().module, heq_encode,
                    lambda out: Decoded(out.argmax(-1), torch.softmax(out, -1), (0, 1)), name="probs")
    with pytest.raises(MetricError, match="probabilities"):
        check_logits(probs, model_of(H), "prob")


# --- the interval ----------------------------------------------------------------------------------------------


def test_the_t_interval_covers_the_mean_in_a_simulation() -> None:
    """2,000 samples of 40 skewed (gamma) logit differences with known mean 2: the 95% interval covers it in
    about 95% of them (binomial sd 0.5%; a lower bound 0.93 fails only a broken interval)."""
    rng = np.random.default_rng(0)
    reps, n, covered = 2000, 40, 0
    for _ in range(reps):
        d = rng.gamma(2.0, 1.0, n)  # mean 2
        patched = np.stack([d, np.zeros(n), np.zeros(n)], axis=1)
        e = estimate("logit-diff", patched, np.zeros((n, 3)), np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
        covered += e.patched.lo <= 2.0 <= e.patched.hi
    assert 0.93 <= covered / reps <= 0.97


def test_a_probability_interval_stays_in_0_1_and_pairs_with_equal_answers_are_excluded_from_logit_diff() -> None:
    n = 30
    r = np.zeros((n, 3))
    r[:, 0] = np.log(0.999)  # prob 0.999 of the expected answer against a normaliser of 0
    exp, base = np.arange(n) % 2, np.zeros(n, dtype=np.int64)
    e = estimate("prob", r, r, exp, base)
    assert 0.0 <= e.patched.lo <= e.patched.hi <= 1.0 and e.excluded == 0
    d = estimate("logit-diff", r, r, exp, base)
    assert d.excluded == n // 2 and d.patched.n == n - n // 2
    with pytest.raises(EstimateError, match="metric 'kl'"):
        estimate("kl", r, r, exp, base)


# --- the sweep's Python API ------------------------------------------------------------------------------------


def test_a_sweeps_held_out_metric_equals_the_metric_of_its_alignment_on_the_test_pairs(tmp_path: Any) -> None:
    from causalabs.align.store import load_alignment
    from causalabs.align.sweep import FullSite, sweep
    from causalabs.align.sweep_files import alignment_path
    from causalabs.engine.readout import unpatched_readings as off

    net = heq_network()
    test = [random_pairs(H, ["left"], 40, seed=11)]
    result = sweep(net, H, [site("2"), site("0")], ["left"], [random_pairs(H, ["left"], 8, seed=2)], test,
                   method=FullSite(), out_dir=tmp_path, alignments=True, progress=False, metric="logit-diff")
    plain = sweep(net, H, [site("2")], ["left"], [random_pairs(H, ["left"], 8, seed=2)], test, method=FullSite(),
                  progress=False)
    assert plain.records[0].metric is None and "metric" not in plain.records[0].to_dict()
    for r in result.records:
        al = load_alignment(alignment_path(tmp_path, r.site, r.variables), network=net)
        res = evaluate_pairs(net, al, test[0], logits=True)
        want = estimate("logit-diff", res.logits, off(net, test[0].base, res.expected, res.base_output),
                        res.expected, res.base_output)
        assert r.metric == want and r.metric.patched.n + r.metric.excluded == 40
    assert type(result.records[0]).from_dict(result.records[0].to_dict()).metric == result.records[0].metric


def test_sequential_and_exhaustive_modes_read_the_metric_on_pairs_drawn_as_sample_mode_draws_them() -> None:
    from causalabs.verification import verify

    sampled = verify(H, heq_network(), ALIGN, mode="sample", samples=40, metric="prob", sets=[("left",)])
    seq = verify(H, heq_network(), ALIGN, mode="sequential", max_pairs=200, samples=40, metric="prob", sets=[("left",)])
    exh = verify(H, heq_network(), ALIGN, mode="exhaustive", samples=40, metric="prob", sets=[("left",)])
    plain = verify(H, heq_network(), ALIGN, mode="exhaustive", sets=[("left",)])
    assert plain.metrics is None and exh.verdict == plain.verdict and exh.per_variable == plain.per_variable
    for r in (seq, exh):
        assert r.metrics is not None and "drawn as sample mode draws them" in r.metrics["pairs"]
        # the same seeded pairs as sample mode's, so the same numbers
        assert r.metrics["per_variable"] == sampled.metrics["per_variable"]  # type: ignore[index]
