"""``prove`` on any module whose torch.fx graph is one chain of Linear / ReLU / identity / flatten steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from _replay import replay as replay_by_hand
from causalabs.errors import NetworkError, SiteError
from causalabs.network import Alignment, Network, argmax_decoder, site
from causalabs.verification.prove.proof import UnsupportedNetworkError, prove
from test_verify_prove import boolean, heq, organism


# --- any module that traces to one chain of Linear / ReLU / identity / flatten -------------


class _Hidden(nn.Module):
    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.fc = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.relu(self.fc(x))


class _CustomHeq(nn.Module):
    """heq_handbuilt's layers in a custom module: a functional ReLU, a flatten, a nested container."""

    def __init__(self, seq: nn.Sequential) -> None:
        super().__init__()
        self.hidden = _Hidden(seq[0])
        self.variables = seq[2]
        self.flat = nn.Flatten()
        self.head = nn.Sequential(seq[3], nn.ReLU(), nn.Identity(), seq[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.flat(self.variables(self.hidden(x).flatten(1))))


def _custom_twin(name: str) -> tuple[Network, Alignment]:
    net, alignment = organism(name)
    twin = Network(_CustomHeq(net.module), net.encode, net.decode, name=f"{name}_custom")
    moved = Alignment({v: attrs_evolve(s, module="variables") for v, s in alignment.sites.items()})
    return twin, moved


def attrs_evolve(s: object, **changes: object) -> object:
    import attrs

    return attrs.evolve(s, **changes)


@pytest.mark.parametrize("organism_name", ["heq_handbuilt", "heq_rotated"])
@pytest.mark.parametrize("hyp_name", ["HierarchicalEquality", "SwappedEquality", "CrossedEquality"])
@pytest.mark.parametrize("method", ["auto", "z3"])
def test_traced_custom_module_is_decided_like_its_sequential_twin(organism_name: str, hyp_name: str, method: str) -> None:
    net, alignment = organism(organism_name)
    twin, moved = _custom_twin(organism_name)
    hyp = heq(hyp_name)
    a = prove(hyp, net, alignment, method=method)
    b = prove(hyp, twin, moved, method=method)
    assert (a.status, a.methods, a.checked) == (b.status, b.methods, b.checked)
    assert a.status != "unknown", a.reason
    if b.refuted:
        cx = b.counterexample
        assert cx is not None and a.counterexample is not None
        assert replay_by_hand(hyp, twin, moved, cx) == (cx.expected, cx.observed)
        assert cx.expected != cx.observed
        if method == "auto":  # the enumeration visits the same entries in the same order
            assert (cx.base, cx.sources) == (a.counterexample.base, a.counterexample.sources)


def test_a_site_may_name_a_container_or_its_input() -> None:
    net, alignment = organism("heq_handbuilt")
    twin, _ = _custom_twin("heq_handbuilt")
    at_head = Alignment({"left": site("head", io="input", units=[0]), "right": site("head", io="input", units=[1])})
    assert prove(heq("HierarchicalEquality"), twin, at_head).proved
    assert prove(heq("SwappedEquality"), twin, at_head).refuted


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(x + self.a(x))


class _Sigmoid(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.sigmoid(self.a(x)))


class _TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.a(x)


class _Untraceable(nn.Module):
    """Control flow on a tensor's value: torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) if x.sum() > 0 else -self.a(x)


class _Twice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.act, self.b = nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.act(self.act(self.a(x))))


@pytest.mark.parametrize(
    "module, message",
    [
        (_Residual(), r"the output of 'x' is used by 'a', 'add': the graph branches"),
        (_Sigmoid(), r"node 'sigmoid' calls sigmoid"),
        (nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)), r"module '1' is Tanh"),
        (nn.Sequential(nn.Linear(4, 4), nn.Flatten(0), nn.Linear(4, 2)), r"module '1' is Flatten"),
        (_TwoInputs(), r"_TwoInputs.*takes 2 inputs"),
        (_Untraceable(), r"prove decides networks built from Linear, ReLU.*cannot trace _Untraceable.*--mode exhaustive"),
    ],
)
def test_unsupported_graph_names_the_first_node_at_fault(module: nn.Module, message: str) -> None:
    net = Network(module, lambda b: torch.zeros(len(b["a"]), 4), argmax_decoder((0, 1)), name="odd")
    _, alignment = organism("boolean_circuit")
    with pytest.raises(UnsupportedNetworkError, match=message) as info:
        prove(boolean("BooleanCircuit"), net, alignment)
    assert isinstance(info.value, NetworkError) and isinstance(info.value, TypeError)


def test_a_site_on_a_module_that_runs_twice_is_refused() -> None:
    enc = lambda b: torch.as_tensor(np.stack([np.asarray(b[k]) for k in "abcd"], 1), dtype=torch.float32)
    net = Network(_Twice(), enc, argmax_decoder((0, 1)), name="twice")
    with pytest.raises(SiteError, match="'act' runs more than once"):
        prove(boolean("BooleanCircuit"), net, Alignment({"g1": site("act", units=[0])}))


