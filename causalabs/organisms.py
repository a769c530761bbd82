"""Model organisms: network files whose mechanisms are known, found in a folder with their metadata.

An *organism* is a network file (a Python file whose ``load()`` returns a
:class:`~causalabs.network.Network`) that assigns a module-level ``TASK``
(the marker :func:`find_organisms` looks for) and whose network carries
metadata in ``info``:

``task``
    one line saying what the network computes (required);
``hypothesis``
    ``path/file.py:ClassName`` of the hypothesis it implements (required);
``wrong``
    references of hypotheses it does *not* implement at its known alignment
    (typically twins that agree on every output);
``also_correct``
    coarser hypotheses that it implements at the same alignment;
``alignment``
    variable -> site name of the known alignment (for display; the file's
    ``alignment()`` function returns the :class:`~causalabs.network.Alignment`);
``accuracy``
    task accuracy on the hypothesis' whole input domain;
``weights``, ``twin_of``, ``rotation_seed``, ``description``
    optional.

Hypothesis paths are resolved against the working directory first, then
against the organism's folder and each folder above it, so ``causalabs
models`` works from anywhere inside a checkout.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import numpy as np
import torch

from causalabs.errors import CausalabsError, LoadError, NetworkFileError, OrganismError
from causalabs.loading import load_hypothesis, load_module, split_ref
from causalabs.metrics.estimate import Estimate, proportion
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network, load_network, predict
from causalabs.scm.semantics import enumerate_inputs, model_of, run

#: Keys of ``info`` that this module reads; anything else is kept in ``OrganismInfo.extra``.
KNOWN_KEYS = (
    "task",
    "hypothesis",
    "wrong",
    "also_correct",
    "alignment",
    "accuracy",
    "weights",
    "twin_of",
    "rotation_seed",
    "description",
)


def _refs(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


@attrs.frozen
class OrganismInfo:
    """The checked metadata of an organism (see the module docstring for each field)."""

    task: str
    hypothesis: str
    wrong: tuple[str, ...] = ()
    also_correct: tuple[str, ...] = ()
    alignment: dict[str, str] = attrs.field(factory=dict)
    accuracy: float | None = None
    weights: str | None = None
    twin_of: str | None = None
    rotation_seed: int | None = None
    description: str = ""
    extra: dict[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_mapping(cls, info: Mapping[str, Any], *, where: str) -> OrganismInfo:
        """Check ``info``; raise :class:`OrganismError` naming ``where`` and the field at fault."""
        if not isinstance(info, Mapping):
            raise OrganismError(f"{where}: info must be a mapping, got {type(info).__name__}")
        for key in ("task", "hypothesis"):
            value = info.get(key)
            if not isinstance(value, str) or not value.strip():
                raise OrganismError(f"{where}: info[{key!r}] must be a non-empty string, got {value!r}")
        for ref in (info["hypothesis"], *_refs(info.get("wrong")), *_refs(info.get("also_correct"))):
            if split_ref(ref)[1] is None:
                raise OrganismError(f"{where}: hypothesis reference {ref!r} is not of the form path/file.py:ClassName")
        accuracy = info.get("accuracy")
        if accuracy is not None:
            if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not 0 <= accuracy <= 1:
                raise OrganismError(f"{where}: info['accuracy'] must be a number in [0, 1], got {accuracy!r}")
            accuracy = float(accuracy)
        alignment = info.get("alignment") or {}
        if not isinstance(alignment, Mapping):
            raise OrganismError(f"{where}: info['alignment'] must map variable -> site name, got {alignment!r}")
        seed = info.get("rotation_seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise OrganismError(f"{where}: info['rotation_seed'] must be an int, got {seed!r}")
        return cls(
            task=info["task"],
            hypothesis=info["hypothesis"],
            wrong=_refs(info.get("wrong")),
            also_correct=_refs(info.get("also_correct")),
            alignment={str(k): str(v) for k, v in alignment.items()},
            accuracy=accuracy,
            weights=None if info.get("weights") is None else str(info["weights"]),
            twin_of=None if info.get("twin_of") is None else str(info["twin_of"]),
            rotation_seed=seed,
            description=str(info.get("description", "")),
            extra={k: v for k, v in info.items() if k not in KNOWN_KEYS},
        )

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def is_organism_info(info: Mapping[str, Any]) -> bool:
    """True when ``info`` looks like organism metadata (it has a ``task`` and a ``hypothesis``)."""
    return isinstance(info, Mapping) and "task" in info and "hypothesis" in info


def resolve_ref(ref: str, near: str | Path) -> str:
    """``ref`` with its file path made absolute: the working directory first, then ``near`` and its parents."""
    path, attr = split_ref(ref)
    if attr is None:
        raise LoadError(f"{ref}: name the hypothesis as path/file.py:ClassName")
    p = Path(path)
    if p.is_absolute():
        return ref
    start = Path(near).resolve()
    folder = start if start.is_dir() else start.parent
    for base in (Path.cwd(), folder, *folder.parents):
        candidate = base / p
        if candidate.is_file():
            return f"{candidate}:{attr}"
    raise LoadError(f"{ref}: no file {path} in the working directory or above {folder}")


@attrs.frozen(eq=False)
class Organism:
    """A loaded organism: its network, checked metadata and the file it came from."""

    path: Path
    network: Network
    info: OrganismInfo
    source: ModuleType = attrs.field(repr=False)

    @property
    def name(self) -> str:
        return self.network.name

    @property
    def parameters(self) -> int:
        """Number of trainable and frozen parameters of the module."""
        return sum(p.numel() for p in self.network.module.parameters())

    def alignment(self) -> Alignment:
        """The known alignment, from the file's ``alignment()``."""
        return self._call("alignment")

    def neuron_alignment(self) -> Alignment | None:
        """For a rotated twin: the alignment that works on its unrotated twin (None otherwise)."""
        if not callable(getattr(self.source, "neuron_alignment", None)):
            return None
        return self._call("neuron_alignment")

    def hypothesis(self) -> type:
        """The hypothesis class the organism implements."""
        return load_hypothesis(resolve_ref(self.info.hypothesis, self.path))

    def wrong_hypotheses(self) -> tuple[type, ...]:
        return tuple(load_hypothesis(resolve_ref(r, self.path)) for r in self.info.wrong)

    def also_correct(self) -> tuple[type, ...]:
        return tuple(load_hypothesis(resolve_ref(r, self.path)) for r in self.info.also_correct)

    def _call(self, fn: str) -> Alignment:
        f = getattr(self.source, fn, None)
        if not callable(f):
            raise OrganismError(f"{self.path}: an organism file needs a {fn}() function returning an Alignment")
        out = f()
        if not isinstance(out, Alignment):
            raise OrganismError(f"{self.path}: {fn}() returned {type(out).__name__}, not a causalabs Alignment")
        return out


def load_organism(path: str | Path) -> Organism:
    """Load an organism file; OrganismError if its network has no organism metadata."""
    p = Path(path)
    try:
        source = load_module(p)
    except LoadError as exc:
        raise NetworkFileError(str(exc)) from exc
    network = load_network(p)
    if not is_organism_info(network.info):
        raise OrganismError(f"{p}: load() returned a network without organism metadata (info needs 'task' and 'hypothesis')")
    return Organism(p, network, OrganismInfo.from_mapping(network.info, where=str(p)), source)


def not_an_organism(path: Path) -> str | None:
    """Why ``path`` is not an organism file, read from its syntax tree (nothing is imported), or None."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, OSError) as exc:
        return f"cannot be parsed: {type(exc).__name__}: {exc}"
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    if "load" not in names:
        return "no load() function"
    if "TASK" not in names:
        return "no module-level TASK: a network file, not an organism (not loaded)"
    return None


@attrs.frozen
class Catalogue:
    """What :func:`find_organisms` found: organisms, and the files it skipped with the reason."""

    organisms: tuple[Organism, ...]
    skipped: tuple[tuple[Path, str], ...]


def find_organisms(folder: str | Path) -> Catalogue:
    """Every organism file in ``folder`` and its subfolders, by path.

    A file counts when it is ``*.py`` (names starting with ``_`` are helpers
    and skipped silently), binds a module-level ``load`` (a ``def``, or a
    plain assignment such as ``load = twin.load``) and assigns a module-level
    ``TASK``, and its network's ``info`` is valid organism metadata.  The
    first two are read from the file's syntax tree before anything is
    imported, so network files that are not organisms (a language model,
    say) are neither imported nor loaded.  Every other ``*.py`` file is
    reported in ``Catalogue.skipped`` with the reason.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NetworkFileError(f"{root}: no such folder of organisms")
    found: list[Organism] = []
    skipped: list[tuple[Path, str]] = []
    for p in sorted(root.rglob("*.py")):
        if any(part.startswith(("_", ".")) for part in p.relative_to(root).parts):
            continue
        reason = not_an_organism(p)
        if reason is not None:
            skipped.append((p, reason))
            continue
        try:
            found.append(load_organism(p))
        except CausalabsError as exc:
            skipped.append((p, str(exc)))
    return Catalogue(tuple(found), tuple(skipped))


@torch.no_grad()
def task_accuracy(network: Network, hypothesis: Any, *, batch_size: int = 4096) -> Estimate:
    """Exact accuracy of ``network`` against the hypothesis' output over its whole input domain."""
    model = model_of(hypothesis)
    inputs = enumerate_inputs(model)
    expected = run(model, inputs)[model.output]
    n = len(expected)
    correct = 0
    for start in range(0, n, batch_size):
        chunk = {k: v[start : start + batch_size] for k, v in inputs.items()}
        got = predict(network, chunk).values.cpu().numpy()
        correct += int(np.sum(got == expected[start : start + batch_size]))
    return proportion(correct, n, exact=True)
