"""Run options shared by the commands that run a network: ``--device``, ``--threads``, ``--batch-size``, ``--dtype``.

They change where and how fast the work runs, never which work: the same
pairs, the same seeds.  ``--dtype`` changes the network's arithmetic (its
numbers may then differ from float32's in the last bits, or more in half
precision); the report records the network as loaded.

A command declares the options with the ``*Option`` aliases below, checks
and applies them with :func:`run_options` around its work, and loads the
network with :func:`load_network` (which moves it to ``--device`` and
``--dtype``).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import attrs
import typer

from causalabs.errors import LoadError

if TYPE_CHECKING:
    from causalabs.network.network import Network

DTYPES = ("float32", "float64", "bfloat16", "float16")

DeviceOption = Annotated[
    "str | None",
    typer.Option("--device", metavar="DEVICE", help="run the network on DEVICE (cpu, cuda, cuda:1, mps; default: "
                 "where its load() put it)"),
]
ThreadsOption = Annotated[
    "int | None", typer.Option("--threads", metavar="N", help="CPU threads for torch (default: torch's choice)")
]
BatchSizeOption = Annotated[
    "int | None",
    typer.Option("--batch-size", metavar="N", help="at most N input rows per forward pass (memory and pace, not results)"),
]
DtypeOption = Annotated[
    "str | None", typer.Option("--dtype", metavar="DTYPE", help=f"cast the network to DTYPE ({', '.join(DTYPES)})")
]
#: ``verify --budget-seconds`` (the logic: :mod:`causalabs.cli.budget`).
BudgetOption = Annotated[
    float,
    typer.Option("--budget-seconds", metavar="SECONDS", help="exhaustive and sample: refuse (exit 2) a check "
                 "estimated, from a measured forward pass, to take longer; inf: no limit"),
]
#: ``search --layers`` and ``--positions`` (the logic: :mod:`causalabs.cli.lm_sweep`).
LayersOption = Annotated[
    "str | None", typer.Option("--layers", metavar="A-B", help="also search the residual stream after these decoder "
                               "blocks (20-29, 0,12,24, all)"),
]
PositionsOption = Annotated[
    "str | None", typer.Option("--positions", metavar="P,Q", help="with --layers: at these token positions (last, "
                               "slot:S, integers)"),
]


@attrs.frozen
class RunOptions:
    """Where and how the network runs (None: leave as it is)."""

    device: str | None = None
    threads: int | None = None
    batch_size: int | None = None
    dtype: str | None = None

    def check(self) -> None:
        """Refuse bad values before anything loads (a :class:`LoadError` naming the option)."""
        if self.threads is not None and self.threads < 1:
            raise LoadError(f"--threads {self.threads}: give at least 1")
        if self.batch_size is not None and self.batch_size < 1:
            raise LoadError(f"--batch-size {self.batch_size}: give at least 1")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise LoadError(f"--dtype {self.dtype!r}: choose one of {', '.join(DTYPES)}")
        if self.device is not None:
            import torch

            try:
                device = torch.device(self.device)
            except (RuntimeError, ValueError):
                raise LoadError(f"--device {self.device!r}: not a device (cpu, cuda, cuda:1, mps)") from None
            if device.type == "cuda" and not torch.cuda.is_available():
                raise LoadError(f"--device {self.device}: no CUDA device is available here")
            if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
                raise LoadError(f"--device {self.device}: there are {torch.cuda.device_count()} CUDA devices")
            if device.type == "mps" and not torch.backends.mps.is_available():
                raise LoadError(f"--device {self.device}: MPS is not available here")

    def prepare(self, network: Network) -> Network:
        """``network`` moved to the device and cast to the dtype asked for."""
        import torch

        if self.device is not None:
            network.module.to(torch.device(self.device))
        if self.dtype is not None:
            network.module.to(getattr(torch, self.dtype))
        return network


_CURRENT: contextvars.ContextVar[RunOptions] = contextvars.ContextVar("run_options", default=RunOptions())


@contextlib.contextmanager
def run_options(
    device: str | None = None, threads: int | None = None, batch_size: int | None = None, dtype: str | None = None
) -> Iterator[RunOptions]:
    """Check the options, then apply them within the block (threads restored, rows per pass capped)."""
    options = RunOptions(device, threads, batch_size, dtype)
    options.check()
    import torch

    from causalabs.engine.collect import rows_per_pass_at_most

    threads_before = torch.get_num_threads()
    token = _CURRENT.set(options)
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        with rows_per_pass_at_most(batch_size):
            yield options
    finally:
        _CURRENT.reset(token)
        torch.set_num_threads(threads_before)


def current() -> RunOptions:
    """The options of the command being run."""
    return _CURRENT.get()


def load_network(path: str | Path) -> Any:
    """The network file's network, on the device and in the dtype of the current run options."""
    from causalabs.network.network import load_network as load

    return current().prepare(load(path))


__all__ = ["DTYPES", "RunOptions", "current", "load_network", "run_options"]
