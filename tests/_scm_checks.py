"""Shared by the hypothesis error tests: a small valid hypothesis, and a check that an error's message names
each thing at fault on one line (not a test module).
"""

from __future__ import annotations

import pytest
import sympy as sp

import causalabs as ca


class Reference(ca.Hypothesis):
    """A small valid hypothesis for the run-time errors."""

    a, b = ca.inputs("a b", domain=range(3))
    s = ca.var(a + b)
    out = ca.output(sp.Mod(s, 2))


BASE = {"a": [0, 1], "b": [2, 2]}


def check(exc_info: pytest.ExceptionInfo, *names: str) -> str:
    message = str(exc_info.value)
    for name in names:
        assert name in message, f"{name!r} not in {message!r}"
    assert "\n" not in message
    return message
