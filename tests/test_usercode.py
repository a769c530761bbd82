"""The boundary to user code in Python: who is blamed, what is kept, what passes through.

A network's encode, decode and forward run behind guards: an exception in
the user's code becomes a ``UserCodeError`` naming this file's line (the
original is its ``__cause__``), one raised in causalabs' own code passes
through unchanged, ``KeyboardInterrupt`` is never caught, and no hook is
left on the module whichever way a pass fails.
"""

from __future__ import annotations

import attrs
import numpy as np
import pytest
import torch
from _nets import all_heq_inputs, heq_encode, heq_module, heq_network
from torch import nn

from causalabs.backends.hooks import hook_count
from causalabs.backends.native import NativeBackend
from causalabs.errors import DecodedValueError, NonFiniteError, UnknownVariableError, UserCodeError
from causalabs.network import Decoded, Network, argmax_decoder, predict, site
from causalabs.network.network import is_default_call
from causalabs.usercode import call_user

BE = NativeBackend()


def _line_of(fn: object, text: str) -> int:
    import inspect

    lines, start = inspect.getsourcelines(fn)  # type: ignore[arg-type]
    return start + next(i for i, line in enumerate(lines) if text in line)


def test_an_exception_in_encode_names_the_line_and_keeps_the_original() -> None:
    def enc(batch: dict[str, np.ndarray]) -> torch.Tensor:
        raise KeyError("vocab")

    net = Network(heq_module(), enc, argmax_decoder((0, 1)), name="mine")
    with pytest.raises(UserCodeError) as info:
        predict(net, all_heq_inputs())
    line = _line_of(enc, "raise KeyError")
    assert str(info.value).endswith(
        f"test_usercode.py:{line} (test_an_exception_in_encode_names_the_line_and_keeps_the_original.<locals>.enc): "
        "encode() raised KeyError: 'vocab'"
    )
    assert isinstance(info.value.__cause__, KeyError)
    assert isinstance(info.value, RuntimeError)  # the fitting builtin


def test_a_forward_that_raises_under_a_hook_leaves_no_hook() -> None:
    class Boom(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise ValueError("boom")

    m = list(heq_module())
    net = Network(nn.Sequential(*m[:3], Boom(), *m[3:]).eval(), heq_encode, argmax_decoder((0, 1)), name="boom")
    batch = all_heq_inputs()
    with pytest.raises(UserCodeError, match=r"\(.*Boom\.forward\): the module's forward raised ValueError: boom"):
        BE.interchange(net, batch, [(site("2", units=[0]), batch)])
    assert hook_count(net.module) == 0


def test_a_plain_module_fed_the_wrong_shape_is_blamed_on_the_network() -> None:
    net = Network(heq_module(), lambda b: heq_encode(b)[:, :15], argmax_decoder((0, 1)), name="narrow")
    with pytest.raises(UserCodeError, match=r"^network narrow: the module's forward raised RuntimeError: mat1 and mat2"):
        predict(net, all_heq_inputs())


def test_a_failure_in_causalabs_own_hook_passes_through(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug of ours inside the user's forward (here: the patch's mixing step) is not the user's fault."""
    import causalabs.backends.locations as locations

    monkeypatch.setattr(locations, "mix", divmod)  # a builtin: no frame of its own, raises TypeError
    net = heq_network()
    batch = all_heq_inputs()
    with pytest.raises(TypeError) as info:
        BE.interchange(net, batch, [(site("2", units=[0]), {k: v[::-1].copy() for k, v in batch.items()})])
    assert not isinstance(info.value, UserCodeError)
    assert hook_count(net.module) == 0


def test_sys_exit_in_user_code_is_a_user_code_error_and_keyboard_interrupt_is_not_caught() -> None:
    import sys

    def quits(batch: object) -> object:
        sys.exit(0)

    net = Network(heq_module(), quits, argmax_decoder((0, 1)), name="quits")
    with pytest.raises(UserCodeError, match=r"encode\(\) called sys.exit\(0\)"):
        predict(net, all_heq_inputs())

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        call_user(interrupted, role="load()", where="x.py")


def test_encode_reading_a_missing_input_names_the_line_and_the_inputs() -> None:
    def enc(batch: dict[str, np.ndarray]) -> torch.Tensor:
        return heq_encode({"w": batch["a"], **batch})

    net = Network(heq_module(), enc, argmax_decoder((0, 1)), name="mine")
    with pytest.raises(UnknownVariableError, match=rf"test_usercode.py:{_line_of(enc, 'batch[')} .*encode\(\) of network "
                       r"mine reads the input 'a', which the hypothesis does not have \(its inputs: w, x, y, z\)"):
        predict(net, all_heq_inputs())


@pytest.mark.parametrize(
    ("decode", "error", "message"),
    [
        (lambda out: Decoded(out.argmax(-1).double()), DecodedValueError, "float64 values"),
        (lambda out: Decoded(out.argmax(-1)[:-1]), DecodedValueError, "gave 255 values for 256 output rows"),
        (lambda out: Decoded(out.argmax(-1), out, (0,)), DecodedValueError, "1 classes for 2 score columns"),
        (lambda out: Decoded(out.argmax(-1), out * float("inf"), (0, 1)), NonFiniteError, "NaN or infinity (in 256 of 256 rows)"),
        (lambda out: Decoded(out.argmax(-1).tolist()), DecodedValueError, "values of type list"),
    ],
)
def test_decode_results_are_checked(decode: object, error: type[Exception], message: str) -> None:
    net = Network(heq_module(), heq_encode, decode, name="dec")  # type: ignore[arg-type]
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        predict(net, all_heq_inputs())


def test_guards_wrap_once_and_keep_the_users_function() -> None:
    net = heq_network()
    renamed = attrs.evolve(net, name="other")
    assert renamed.encode.__wrapped__ is heq_encode  # not a guard around a guard
    assert "network other" in repr(renamed.encode)
    assert is_default_call(renamed)
    assert not is_default_call(attrs.evolve(net, call=lambda m, x: m(x)))
    torch.testing.assert_close(predict(renamed, all_heq_inputs()).values, predict(net, all_heq_inputs()).values,
                               rtol=0, atol=0)  # the same computation: bitwise
