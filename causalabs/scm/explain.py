"""Python mistakes in a hypothesis class body, explained in the user's names.

While a class body runs, its variables are placeholder symbols
(``_ca_3_a``; see :mod:`causalabs.scm.declare`), and Python code that asks
a symbolic expression for a truth value or a number fails inside sympy:
``max(a, b)`` asks ``b > a`` to be True or False.  :func:`explain` turns
such a failure into one sentence that names the user's variables and
suggests the sympy form (``sp.Max(a, b)``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sympy as sp

_PLACEHOLDER = re.compile(r"\b_ca_\d+_([A-Za-z_][A-Za-z0-9_]*)\b")


def user_names(namespace: Mapping[str, Any]) -> dict[str, str]:
    """Placeholder name -> attribute name, for the symbols bound in a class body so far."""
    out: dict[str, str] = {}
    for attr, value in namespace.items():
        if isinstance(value, sp.Symbol) and _PLACEHOLDER.fullmatch(value.name):
            out.setdefault(value.name, attr)
    return out


def readable(text: str, names: Mapping[str, str] | None = None) -> str:
    """``text`` with placeholder symbols written as the user's names (their labels when unknown)."""
    names = names or {}
    return _PLACEHOLDER.sub(lambda m: names.get(m.group(0), m.group(1)), text)


def _call_of(name: str, code: str) -> re.Match[str] | None:
    return re.search(rf"(?<![\w.]){name}\s*\(([^()]*)\)", code) or re.search(rf"(?<![\w.]){name}\s*\(", code)


def _sympy_form(name: str, match: re.Match[str]) -> str:
    args = match.group(1) if match.groups() and match.group(1) is not None else "..."
    return f"sp.{name}({args.strip() or '...'})"


def _suggestion(line: str) -> str:
    code = line.split("#", 1)[0]
    if m := _call_of("max", code):
        return f"Python's max() compares with >, which a symbolic variable cannot answer; write {_sympy_form('Max', m)}"
    if m := _call_of("min", code):
        return f"Python's min() compares with <, which a symbolic variable cannot answer; write {_sympy_form('Min', m)}"
    if re.search(r"\bif\b.*\belse\b", code):
        return "a Python `x if cond else y` cannot test a symbolic condition; write sp.Piecewise((x, cond), (y, True))"
    if re.search(r"\b(and|or|not)\b", code):
        return "Python's and/or/not cannot test symbolic conditions; write sp.And(...), sp.Or(...), sp.Not(...)"
    if re.search(r"(?<![\w.])sorted\s*\(|\.sort\s*\(", code):
        return "sorting compares with <, which a symbolic variable cannot answer; use sp.Max/sp.Min or a callable mechanism"
    return (
        "a symbolic comparison was used as a Python True/False; use sp.Piecewise, sp.Max, sp.Min, sp.And, sp.Or, "
        "or a callable mechanism (ca.var(fn, parents=..., domain=...))"
    )


def explain(exc: BaseException, line: str, names: Mapping[str, str] | None = None) -> str | None:
    """One sentence for a failure of Python code on symbolic variables (``line``: the source line), or None.

    None means the failure is not one of these mistakes.
    """
    message = readable(str(exc), names)
    if isinstance(exc, TypeError) and "truth value of the symbolic variable" in message:  # declare.Placeholder
        variable = message.rsplit(" ", 1)[-1]
        return f"{_suggestion(line)} (Python asked whether {variable} is true)"
    if isinstance(exc, TypeError) and "truth value of Relational" in message:
        relation = message.rsplit(":", 1)[-1].strip()
        return f"{_suggestion(line)} (Python asked whether {relation})"
    if isinstance(exc, TypeError) and "convert expression to float" in message:
        return (
            "a Python number function (math.floor, float(), round()...) got a symbolic variable; use the sympy "
            "function: sp.floor, sp.ceiling, sp.Mod, sp.Abs, or integer arithmetic"
        )
    if isinstance(exc, TypeError) and re.search(r"(?i)convert symbols to int|indices must be integers|interpreted as an integer", message):
        return (
            "a symbolic variable was used where Python needs an int (int(), an index, range()); "
            "use sp.Piecewise or sp.floor, or a callable mechanism (ca.var(fn, parents=..., domain=...))"
        )
    return None


__all__ = ["explain", "readable", "user_names"]
