"""pytest plugin for causalabs claims (registered through the ``pytest11`` entry point)."""

from __future__ import annotations

import pytest


def pytest_report_header(config: pytest.Config) -> str:
    import causalabs

    return f"causalabs {causalabs.__version__}"
