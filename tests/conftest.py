"""Shared test setup: hypothesis-library profiles and paths to the example hypotheses.

Profiles (choose with ``pytest --hypothesis-profile NAME``):

* ``causalabs`` (default): few examples, no deadline -- fast and not flaky on
  shared machines.
* ``thorough``: many more examples, for a deliberate bug hunt.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
HYPOTHESES_DIR = ROOT / "hypotheses"

settings.register_profile(
    "causalabs",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile("causalabs")


def pytest_configure(config: pytest.Config) -> None:
    """One intra-op thread: the networks under test are tiny, and on a shared
    2-core machine torch's thread pool makes their forwards tens of times slower."""
    try:
        import torch
    except ImportError:  # the hypothesis core is testable without torch
        return
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def hypotheses_dir() -> Path:
    """The folder of example hypothesis files (loaded by path, not a package)."""
    return HYPOTHESES_DIR
