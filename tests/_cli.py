"""The command line under test: ``run(*args)`` invokes ``causalabs`` in process, at a fixed terminal width."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from causalabs.cli import app

_runner = CliRunner()


def run(*args: str) -> Result:
    """``causalabs ARGS...`` in this process, 200 columns wide (tables unfolded): its exit code and output."""
    return _runner.invoke(app, list(args), env={"COLUMNS": "200"})
