"""Networks dispatched across devices by accelerate (device_map with CPU and disk offload): the same exhaustive
verdict, IIA and counterexample, sampled report and weights digest as the same network on one device."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import causalabs as ca
from causalabs.align.store import network_fingerprint
from causalabs.loading import load_attr
from causalabs.network import load_network
from causalabs.network.dispatch import dispatch_device, state_tensors

accelerate = pytest.importorskip("accelerate")

ROOT = Path(__file__).resolve().parents[1]
HEQ = load_attr(f"{ROOT}/hypotheses/hierarchical_equality.py:HierarchicalEquality")
NET = str(ROOT / "models/heq_handbuilt.py")
#: Every layer of heq_handbuilt's Sequential, placed on the CPU or offloaded to disk.
DEVICE_MAP = {"0": "disk", "1": "cpu", "2": "disk", "3": "cpu", "4": "cpu", "5": "disk"}


@pytest.fixture(scope="module")
def plain():
    return load_network(NET)


@pytest.fixture(scope="module")
def dispatched(tmp_path_factory):
    net = load_network(NET)
    accelerate.dispatch_model(net.module, device_map=DEVICE_MAP, offload_dir=str(tmp_path_factory.mktemp("offload")))
    return net


def _alignments():
    al = load_attr(f"{NET}:alignment")()
    return {"correct": al, "swapped": ca.Alignment({"left": al.sites["right"], "right": al.sites["left"]})}


def _untimed(report) -> str:
    doc = json.loads(report.to_json())
    doc.pop("timing")
    return json.dumps(doc, sort_keys=True)


def test_the_dispatched_network_really_is_offloaded(dispatched) -> None:
    meta = [n for n, p in dispatched.module.named_parameters() if p.device.type == "meta"]
    assert set(meta) == {"0.weight", "0.bias", "2.weight", "2.bias", "5.weight", "5.bias"}
    assert dispatched.device == torch.device("cpu")  # the driver's device, not a parameter's "meta"


def test_weights_digest_reads_offloaded_values(plain, dispatched) -> None:
    assert network_fingerprint(dispatched) == network_fingerprint(plain)
    for (a, x), (b, y) in zip(state_tensors(dispatched.module), state_tensors(plain.module)):
        assert a == b and torch.equal(x, y)


@pytest.mark.parametrize("which", ["correct", "swapped"])
def test_exhaustive_verdict_and_iia_match_the_undispatched_network(plain, dispatched, which) -> None:
    al = _alignments()[which]
    one = ca.verify(HEQ, plain, al)
    spread = ca.verify(HEQ, dispatched, al)
    assert one.verdict == ("verified" if which == "correct" else "refuted")
    assert _untimed(spread) == _untimed(one)  # verdict, IIA per set and stratum, counterexample, digests


def test_sampled_report_and_evaluation_match(plain, dispatched) -> None:
    al = _alignments()["correct"]
    kw = {"mode": "sample", "samples": 200, "seed": 1, "threshold": 0.9}
    assert _untimed(ca.verify(HEQ, dispatched, al, **kw)) == _untimed(ca.verify(HEQ, plain, al, **kw))
    ds = ca.random_pairs(HEQ, ["left", "right"], 64, seed=5)
    a, b = ca.evaluate_pairs(plain, al, ds), ca.evaluate_pairs(dispatched, al, ds)
    assert (a.predicted == b.predicted).all() and (a.correct == b.correct).all()


def test_cpu_offload_gives_the_same_report(plain) -> None:
    net = load_network(NET)
    accelerate.cpu_offload(net.module, execution_device="cpu")
    assert all(p.device.type == "meta" for p in net.module.parameters())
    al = _alignments()["swapped"]
    assert _untimed(ca.verify(HEQ, net, al)) == _untimed(ca.verify(HEQ, plain, al))


def test_dispatch_device_reads_the_device_map() -> None:
    m = torch.nn.Linear(2, 2)
    assert dispatch_device(m) is None
    m.hf_device_map = {"a": "cpu", "b": 1, "c": "disk"}
    assert dispatch_device(m) == torch.device("cuda", 1)
    m.hf_device_map = {"a": "cpu", "b": "disk"}
    assert dispatch_device(m) == torch.device("cpu")
