"""Text and LaTeX renderings name every variable with its domain and mechanism."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

import causalabs as ca
from causalabs.loading import load_module
from causalabs.scm.render import format_domain, latex_domain, summary

HYPOTHESES = Path(__file__).resolve().parents[1] / "hypotheses"
HE = load_module(HYPOTHESES / "hierarchical_equality.py")
ADD = load_module(HYPOTHESES / "addition.py")
BOOL = load_module(HYPOTHESES / "boolean_circuit.py")


class Hatch(ca.Hypothesis):
    """A callable mechanism among sympy ones."""

    a_in, b_in = ca.inputs("a_in b_in", domain=(0, 3, 8))
    my_sum = ca.var(lambda a_in, b_in: a_in + b_in, parents=("a_in", "b_in"), domain=range(17))
    out = ca.output(sp.Eq(my_sum, 6))


class Undocumented(ca.Hypothesis):
    a = ca.input("a", domain=range(2))
    out = ca.output(1 - a)


ALL = [
    HE.HierarchicalEquality,
    HE.LeftOnly,
    HE.SwappedEquality,
    ADD.TwoDigitAddition,
    ADD.TensCarryAddition,
    BOOL.BooleanCircuit,
    Hatch,
]


def _line(text: str, name: str) -> str:
    section = text.split("variables (topological order):\n")[1].split("\n\n")[0]
    (line,) = [ln for ln in section.splitlines() if ln.split()[1] == name]
    return line


@pytest.mark.parametrize("hyp", ALL, ids=[h.__name__ for h in ALL])
def test_text_names_each_variable_with_its_domain_and_mechanism(hyp):
    text = ca.render_text(hyp)
    model = ca.model_of(hyp)
    assert text.splitlines()[0] == f"hypothesis {model.name}"
    for name, v in model.variables.items():
        line = _line(text, name)
        assert format_domain(v.domain) in line
        if v.is_input:
            assert line.endswith(":= input")
        elif v.symbolic:
            assert line.endswith(f":= {sp.sstr(v.mechanism)}")
        else:
            assert "<python" in line
        if v.parents:  # the graph section lists every edge
            assert f"{', '.join(v.parents)} -> {name}" in text


@pytest.mark.parametrize("hyp", ALL, ids=[h.__name__ for h in ALL])
def test_latex_names_each_variable_with_its_domain_and_mechanism(hyp):
    tex = ca.render_latex(hyp)
    model = ca.model_of(hyp)
    assert tex.startswith("\\begin{align*}\n") and tex.endswith("\n\\end{align*}")
    lines = tex.splitlines()[1:-1]
    assert len(lines) == len(model.variables)
    for line, (name, v) in zip(lines, model.variables.items()):
        sym = sp.latex(v.symbol)
        assert line.startswith(sym + " &")
        assert latex_domain(v.domain) in line
        if v.is_input:
            assert "&\\in" in line
        else:
            assert "&:=" in line
            for p in v.parents:
                assert sp.latex(model.variables[p].symbol) in line
    assert tex.count("{") == tex.count("}")


def test_text_shows_domains_compactly():
    assert format_domain((0, 1)) == "{0, 1}"
    assert format_domain(tuple(range(10))) == "{0..9}"
    assert format_domain((0, 3, 8)) == "{0, 3, 8}"
    assert latex_domain(tuple(range(10))) == r"\{0, \ldots, 9\}"
    assert latex_domain((0, 3, 8)) == r"\{0, 3, 8\}"


def test_text_of_hierarchical_equality():
    text = ca.render_text(HE.HierarchicalEquality)
    assert "  var left  in {0, 1}     := Eq(w, x)" in text
    assert "  out out   in {0, 1}     := Eq(left, right)" in text
    assert "  left, right -> out" in text


def test_latex_brackets_nested_relations():
    # sympy alone prints Eq(left, Eq(y, z)) as "left = y = z", which reads as a chain.
    tex = ca.render_latex(HE.LeftOnly)
    assert r"out &:= \left[left = \left[y = z\right]\right] && out \in \{0, 1\}" in tex
    assert r"left &:= \left[w = x\right]" in tex


def test_latex_of_a_callable_mechanism_names_its_parents():
    tex = ca.render_latex(Hatch)
    assert r"f_{\mathrm{my_{sum}}}(a_{in}, b_{in})" in tex
    assert r"\{0, 3, 8\}" in tex
    assert "<python <lambda>(a_in, b_in)>" in ca.render_text(Hatch)


def test_text_shows_the_classes_own_docstring_only():
    assert "A callable mechanism among sympy ones." in ca.render_text(Hatch)
    text = ca.render_text(Undocumented)
    assert "Base class" not in text
    assert text.splitlines()[1] == ""


def test_summary_lists_inputs_internals_and_outputs():
    line = summary(ca.model_of(ADD.TwoDigitAddition))
    assert line == "TwoDigitAddition: inputs a1, a0, b1, b0; internal carry, s0; outputs total"
