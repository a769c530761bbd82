"""Every definition error is typed, names the class and the variable, and fits the error tree.

Errors in a class body are raised when the class is created (``class X(ca.Hypothesis)``);
errors in use (a value outside a domain, an unknown name) when run/do/interchange is called,
tested in test_scm_run_errors.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from _scm_checks import BASE, Reference, check

import causalabs as ca
from causalabs import errors as E

a_outside, b_outside = ca.inputs("a_outside b_outside", domain=range(2))  # not in any class body


# --- the error tree -----------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "builtins"),
    [
        (E.HypothesisDefinitionError, (TypeError,)),
        (E.CycleError, (E.HypothesisDefinitionError, ValueError)),
        (E.UnknownSymbolError, (E.HypothesisDefinitionError, NameError)),
        (E.DomainDefinitionError, (E.HypothesisDefinitionError, ValueError)),
        (E.MechanismRangeError, (E.HypothesisDefinitionError, ValueError)),
        (E.UnreachableOutputError, (E.HypothesisDefinitionError, ValueError)),
        (E.ValueOutOfDomainError, (ValueError,)),
        (E.UnknownVariableError, (KeyError,)),
        (E.BatchShapeError, (ValueError,)),
        (E.DomainTooLargeError, (ValueError,)),
    ],
)
def test_each_error_is_a_causalabs_error_and_a_builtin(error, builtins):
    assert issubclass(error, E.CausalabsError)
    for b in builtins:
        assert issubclass(error, b)


def test_a_key_error_message_is_not_quoted():
    with pytest.raises(KeyError) as info:
        ca.do(Reference, BASE, {"nope": 1})
    assert str(info.value).startswith("Reference has no variable 'nope'")


# --- cycles ---------------------------------------------------------------------


def test_a_cycle_through_string_parents_names_the_class_and_variables():
    with pytest.raises(E.CycleError) as info:

        class Loop(ca.Hypothesis):
            a = ca.input("a", domain=range(2))
            p = ca.var(lambda q, a: q ^ a, parents=("q", a), domain=range(2))
            q = ca.var(lambda p: p, parents=("p",), domain=range(2))
            out = ca.output(p + a)

    check(info, "Loop", "p", "q")


def test_a_self_loop_is_a_cycle():
    with pytest.raises(E.CycleError) as info:

        class SelfLoop(ca.Hypothesis):
            a = ca.input("a", domain=range(2))
            p = ca.var(lambda p, a: a, parents=("p", a), domain=range(2))
            out = ca.output(p + a)

    check(info, "SelfLoop", "p")


def test_an_unknown_string_parent_is_named():
    with pytest.raises(E.UnknownSymbolError) as info:

        class Typo(ca.Hypothesis):
            a = ca.input("a", domain=range(2))
            out = ca.output(lambda aa: aa, parents=("aa",), domain=range(2))

    check(info, "Typo.out", "'aa'")


# --- unknown symbols -----------------------------------------------------------


def test_a_free_sympy_symbol_is_unknown():
    with pytest.raises(E.UnknownSymbolError) as info:

        class FreeSymbol(ca.Hypothesis):
            a = ca.input("a", domain=range(2))
            out = ca.output(a + sp.Symbol("stray"))

    check(info, "FreeSymbol.out", "'stray'")


def test_a_symbol_of_another_class_is_unknown_even_with_the_same_name():
    with pytest.raises(E.UnknownSymbolError) as info:

        class Borrower(ca.Hypothesis):
            a = ca.input("a", domain=range(3))
            out = ca.output(Reference.a + 1)  # Reference's a, not Borrower's

    message = check(info, "Borrower.out", "'a'")
    assert "another hypothesis class" in message


def test_a_variable_declared_outside_the_class_body_is_unknown():
    with pytest.raises(E.UnknownSymbolError) as info:

        class Outsider(ca.Hypothesis):
            a = ca.input("a", domain=range(2))
            out = ca.output(a + a_outside)

    check(info, "Outsider.out", "a_outside")


def test_a_subclass_may_use_and_redeclare_its_bases_variables():
    class Extended(Reference):
        """Adds a variable over an inherited one."""

        double = ca.output(2 * Reference.s)

    class Redeclared(Reference):
        s = ca.var(Reference.a * Reference.b)

    assert ca.run(Extended, BASE)["double"].tolist() == [4, 6]
    assert ca.run(Redeclared, BASE)["out"].tolist() == [0, 0]
    assert ca.model_of(Redeclared).variables["s"].parents == ("a", "b")


# --- domains --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "says"),
    [
        (range(0), "empty"),
        ([], "empty"),
        ([0, 1.5], "integers"),
        ("01", "string"),
        (3, "iterable"),
    ],
    ids=["empty-range", "empty-list", "float", "string", "not-iterable"],
)
def test_a_bad_input_domain_names_the_class_and_the_variable(domain, says):
    with pytest.raises(E.DomainDefinitionError) as info:

        class BadInput(ca.Hypothesis):
            a = ca.input("a", domain=range(2))
            b = ca.input("b", domain=domain)
            out = ca.output(a + b)

    check(info, "BadInput.b", says)


@pytest.mark.parametrize("domain", [range(0), [0.0, 1.0], ["x"]], ids=["empty", "floats", "strings"])
def test_a_bad_variable_domain_names_the_class_and_the_variable(domain):
    with pytest.raises(E.DomainDefinitionError) as info:

        class BadVar(ca.Hypothesis):
            a, b = ca.inputs("a b", domain=range(2))
            s = ca.var(a + b, domain=domain)
            out = ca.output(s)

    check(info, "BadVar.s")


def test_domains_are_sorted_deduplicated_ints():
    class Messy(ca.Hypothesis):
        a = ca.input("a", domain=[3, 1, 1, np.int64(2), True])
        out = ca.output(a, domain=(np.int32(3), 2, 1, 0))

    model = ca.model_of(Messy)
    assert model.variables["a"].domain == (1, 2, 3)
    assert model.variables["out"].domain == (0, 1, 2, 3)


def test_a_callable_mechanism_needs_parents_and_a_domain():
    with pytest.raises(E.HypothesisDefinitionError) as info:

        class NoParents(ca.Hypothesis):
            a = ca.input("a", domain=range(2))
            out = ca.output(lambda a: a, domain=range(2))

    check(info, "NoParents.out", "parents")
    with pytest.raises(E.DomainDefinitionError) as info:

        class NoDomain(ca.Hypothesis):
            a = ca.input("a", domain=range(2))
            out = ca.output(lambda a: a, parents=(a,))

    check(info, "NoDomain.out", "domain")


def test_a_mechanism_that_is_neither_sympy_nor_callable_is_rejected():
    with pytest.raises(E.HypothesisDefinitionError) as info:

        class Stringly(ca.Hypothesis):
            a = ca.input("a", domain=range(2))
            out = ca.output("a + 1")

    check(info, "Stringly.out", "str")


def test_input_names_must_match_their_attributes():
    with pytest.raises(E.HypothesisDefinitionError) as info:

        class Misnamed(ca.Hypothesis):
            a, b = ca.inputs("b a", domain=range(2))
            out = ca.output(a + b)

    check(info, "Misnamed")


# --- mechanism ranges -----------------------------------------------------------


def test_a_mechanism_leaving_its_declared_domain_is_named():
    with pytest.raises(E.MechanismRangeError) as info:

        class Overflow(ca.Hypothesis):
            a, b = ca.inputs("a b", domain=range(2))
            s = ca.var(a + b, domain=range(2))
            out = ca.output(s)

    check(info, "Overflow.s", "[2]", "{0, 1}")


def test_the_range_check_covers_parent_combinations_reached_only_by_intervention():
    # a0 + b0 <= 8 on every input, so carry is always 0; but do(carry=1) reaches 18.
    with pytest.raises(E.MechanismRangeError) as info:

        class Tight(ca.Hypothesis):
            a0, b0 = ca.inputs("a0 b0", domain=range(5))
            carry = ca.var(sp.floor((a0 + b0) / 10), domain=range(2))
            s0 = ca.var(sp.Mod(a0 + b0, 10))
            total = ca.output(10 * carry + s0, domain=range(9))

    check(info, "Tight.total")


def test_a_callable_leaving_its_domain_is_named():
    with pytest.raises(E.MechanismRangeError) as info:

        class HatchOverflow(ca.Hypothesis):
            a = ca.input("a", domain=range(4))
            out = ca.output(lambda a: a * 2, parents=(a,), domain=range(4), vectorized=False)

    check(info, "HatchOverflow.out", "[4, 6]")


@pytest.mark.parametrize("vectorized", [True, False])
def test_a_non_integer_value_is_an_error_not_truncated(vectorized):
    with pytest.raises(E.MechanismRangeError) as info:

        class Half(ca.Hypothesis):
            a = ca.input("a", domain=range(4))
            h = ca.var(lambda a: a / 2, parents=(a,), domain=range(4), vectorized=vectorized)
            out = ca.output(h)

    check(info, "Half.h", "non-integer", "0.5")
    with pytest.raises(E.MechanismRangeError) as info:

        class HalfSympy(ca.Hypothesis):
            a = ca.input("a", domain=range(4))
            out = ca.output(a / 2)

    check(info, "HalfSympy.out", "non-integer")


def test_a_failing_mechanism_is_named():
    def boom(a):
        raise RuntimeError("kaput")

    with pytest.raises(E.HypothesisDefinitionError) as info:

        class Crashes(ca.Hypothesis):
            a = ca.input("a", domain=range(4))
            out = ca.output(boom, parents=(a,), domain=range(4))

    check(info, "Crashes.out", "kaput")


# --- unreachable outputs --------------------------------------------------------


@pytest.mark.parametrize("constant", [1, True, sp.Integer(3)], ids=["int", "bool", "sympy"])
def test_a_constant_output_is_unreachable(constant):
    with pytest.raises(E.UnreachableOutputError) as info:

        class Constant(ca.Hypothesis):
            a = ca.input("a", domain=range(2))
            out = ca.output(constant)

    check(info, "Constant.out")


def test_an_output_over_a_constant_variable_is_unreachable_and_shown_by_name():
    with pytest.raises(E.UnreachableOutputError) as info:

        class ConstantChain(ca.Hypothesis):
            a = ca.input("a", domain=range(2))
            k = ca.var(sp.Integer(3))
            out = ca.output(2 * k)

    message = check(info, "ConstantChain.out", "2*k")
    assert "_ca_" not in message  # no placeholder names leak


def test_missing_inputs_or_outputs_are_definition_errors():
    with pytest.raises(E.HypothesisDefinitionError, match="NoOutput"):

        class NoOutput(ca.Hypothesis):
            a = ca.input("a", domain=range(2))
            s = ca.var(a + 1)

    with pytest.raises(E.HypothesisDefinitionError, match="Empty"):

        class Empty(ca.Hypothesis):
            pass


def test_a_hypothesis_is_not_instantiated():
    with pytest.raises(TypeError, match="Reference"):
        Reference()
