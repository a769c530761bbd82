"""``CounterfactualDataset``: seeded (base, sources, expected) arrays with a content digest.

A dataset is a value: its arrays are copied on construction and made
read-only, and its ``digest`` is a sha256 over the content (hypothesis name,
intervened variables, input names and every array), so two datasets with the
same digest hold the same rows.  Row operations (``subset``, ``concat``,
``split``) return new datasets with the digest recomputed; ``to_npz`` and
``from_npz`` round-trip a dataset and check the digest on load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import attrs
import numpy as np

from causalabs.errors import DatasetError

#: Version tag of the digest and the npz layout; bump when either changes.
FORMAT = "causalabs.CounterfactualDataset/1"

Index = Union[slice, Sequence[int], np.ndarray]


def _frozen_column(where: str, values: Any, *, dtype: type = np.int64) -> np.ndarray:
    """A read-only 1-D copy of ``values`` (integers only), or DatasetError naming ``where``."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DatasetError(f"{where}: expected a 1-D array, got shape {arr.shape}")
    if dtype is np.int64 and arr.dtype.kind not in "iub":
        if arr.size or arr.dtype.kind != "f":  # an empty float array is an empty column
            raise DatasetError(f"{where}: expected integers, got dtype {arr.dtype}")
    out = np.array(arr, dtype=dtype, copy=True, order="C")
    out.flags.writeable = False
    return out


def _frozen_batch(where: str, batch: Mapping[str, Any]) -> dict[str, np.ndarray]:
    if not isinstance(batch, Mapping) or not batch:
        raise DatasetError(f"{where}: expected a non-empty mapping of input name -> array")
    return {str(k): _frozen_column(f"{where}[{k!r}]", v) for k, v in batch.items()}


def content_digest(
    hypothesis: str,
    intervened: Sequence[str],
    base: Mapping[str, np.ndarray],
    sources: Mapping[str, Mapping[str, np.ndarray]],
    expected: np.ndarray,
    base_output: np.ndarray,
) -> str:
    """sha256 hex over the dataset's content, independent of mode, seed and dict order.

    The hash covers a format tag, the hypothesis name, the intervened
    variables (in order), each input name, and the little-endian int64 bytes
    of every array, each preceded by its role and length.
    """
    h = hashlib.sha256()

    def text(s: str) -> None:
        b = s.encode()
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)

    def array(role: str, arr: np.ndarray) -> None:
        text(role)
        a = np.ascontiguousarray(arr, dtype="<i8")
        h.update(len(a).to_bytes(8, "little"))
        h.update(memoryview(a).cast("B"))

    text(FORMAT)
    text(hypothesis)
    h.update(len(intervened).to_bytes(8, "little"))
    for v in intervened:
        text(v)
    for name in sorted(base):
        array(f"base.{name}", base[name])
    for v in intervened:
        for name in sorted(sources[v]):
            array(f"source.{v}.{name}", sources[v][name])
    array("expected", expected)
    array("base_output", base_output)
    return h.hexdigest()


@attrs.frozen(eq=False, repr=False)
class CounterfactualDataset:
    """Rows of (base, one source per intervened variable, expected output).

    ``expected[i]`` is the hypothesis' output on ``base`` row ``i`` with each
    intervened variable set to its value on its own source row ``i``;
    ``base_output[i]`` is the output without intervention.  Arrays are int64,
    copied and read-only.  Treat the dicts as read-only too: the digest is
    computed once, at construction.

    Passing ``digest`` checks it: a mismatch raises :class:`DatasetError`.
    Equality is identity; compare contents with ``a.digest == b.digest``.
    """

    hypothesis: str
    base: dict[str, np.ndarray]
    sources: dict[str, dict[str, np.ndarray]]
    intervened: tuple[str, ...]
    expected: np.ndarray
    base_output: np.ndarray
    mode: str = "custom"
    seed: int | None = None
    digest: str = ""

    def __attrs_post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.hypothesis, str) or not self.hypothesis:
            raise DatasetError(f"hypothesis: expected the hypothesis name, got {self.hypothesis!r}")
        where = f"CounterfactualDataset({self.hypothesis})"
        intervened = (self.intervened,) if isinstance(self.intervened, str) else tuple(self.intervened)
        if not intervened or not all(isinstance(v, str) for v in intervened):
            raise DatasetError(f"{where}.intervened: expected variable names, got {self.intervened!r}")
        if len(set(intervened)) != len(intervened):
            raise DatasetError(f"{where}.intervened: a variable is listed twice in {intervened}")
        if not isinstance(self.sources, Mapping) or set(self.sources) != set(intervened):
            got = sorted(self.sources) if isinstance(self.sources, Mapping) else type(self.sources).__name__
            raise DatasetError(
                f"{where}.sources: expected one source batch per intervened variable "
                f"{list(intervened)}, got {got}"
            )
        base = _frozen_batch(f"{where}.base", self.base)
        sources = {v: _frozen_batch(f"{where}.sources[{v!r}]", self.sources[v]) for v in intervened}
        expected = _frozen_column(f"{where}.expected", self.expected)
        base_output = _frozen_column(f"{where}.base_output", self.base_output)
        names = list(base)
        for v, src in sources.items():
            if sorted(src) != sorted(names):
                raise DatasetError(
                    f"{where}.sources[{v!r}]: expected the base's inputs {names}, got {list(src)}"
                )
        n = len(expected)
        lengths = {"expected": n, "base_output": len(base_output)}
        lengths.update({f"base[{k!r}]": len(a) for k, a in base.items()})
        for v, src in sources.items():
            lengths.update({f"sources[{v!r}][{k!r}]": len(a) for k, a in src.items()})
        bad = {k: m for k, m in lengths.items() if m != n}
        if bad:
            raise DatasetError(f"{where}: arrays disagree in length; expected {n} rows, got {bad}")
        if self.seed is not None and not isinstance(self.seed, (int, np.integer)):
            raise DatasetError(f"{where}.seed: expected an int or None, got {self.seed!r}")
        digest = content_digest(self.hypothesis, intervened, base, sources, expected, base_output)
        if self.digest and self.digest != digest:
            raise DatasetError(
                f"{where}.digest: the given digest {self.digest[:12]}... does not match the content "
                f"({digest[:12]}...); the arrays were changed or belong to another dataset"
            )
        set_(self, "intervened", intervened)
        set_(self, "base", base)
        set_(self, "sources", sources)
        set_(self, "expected", expected)
        set_(self, "base_output", base_output)
        set_(self, "mode", str(self.mode))
        set_(self, "seed", None if self.seed is None else int(self.seed))
        set_(self, "digest", digest)

    # --- views ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.expected)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The input names, in the order of ``base``."""
        return tuple(self.base)

    @property
    def changed(self) -> np.ndarray:
        """Bool mask of the rows where the intervention changes the output."""
        out = self.expected != self.base_output
        out.flags.writeable = False
        return out

    def __repr__(self) -> str:
        n = len(self)
        frac = f"{self.changed.mean():.3f}" if n else "n/a"
        return (
            f"CounterfactualDataset(hypothesis={self.hypothesis!r}, n={n}, "
            f"intervened={self.intervened!r}, mode={self.mode!r}, seed={self.seed!r}, "
            f"changed={frac}, digest={self.digest[:12]!r})"
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Rebuild through the constructor so unpickled arrays are read-only and the digest is checked.
        return (
            type(self),
            (
                self.hypothesis,
                self.base,
                self.sources,
                self.intervened,
                self.expected,
                self.base_output,
                self.mode,
                self.seed,
                self.digest,
            ),
        )

    # --- row operations (new datasets, digest recomputed) ----------------------

    def subset(self, index: Index) -> CounterfactualDataset:
        """The rows picked by ``index`` (int positions, a bool mask or a slice), in that order."""
        idx = _as_index(self, index)
        return attrs.evolve(
            self,
            base={k: a[idx] for k, a in self.base.items()},
            sources={v: {k: a[idx] for k, a in s.items()} for v, s in self.sources.items()},
            expected=self.expected[idx],
            base_output=self.base_output[idx],
            digest="",
        )

    def concat(self, *others: CounterfactualDataset) -> CounterfactualDataset:
        """This dataset's rows followed by the others' (see :func:`causalabs.data.concat`)."""
        return concat([self, *others])

    def split(
        self, test_fraction: float = 0.2, *, seed: int | None = 0
    ) -> tuple[CounterfactualDataset, CounterfactualDataset]:
        """A seeded random (train, test) split; ``round(n * test_fraction)`` rows go to test.

        Each part keeps the rows' original relative order.  Rows are split,
        not inputs: with a pool the same input can appear in both parts.
        """
        f = float(test_fraction)
        if not 0.0 <= f <= 1.0:
            raise DatasetError(f"split: test_fraction must lie in [0, 1], got {test_fraction!r}")
        n = len(self)
        n_test = int(round(n * f))
        perm = np.random.default_rng(seed).permutation(n)
        test = np.sort(perm[:n_test])
        train = np.sort(perm[n_test:])
        return self.subset(train), self.subset(test)

    # --- files -------------------------------------------------------------------

    def to_npz(self, path: str | Path, *, compress: bool = True) -> Path:
        """Write the dataset to ``path`` (exactly that name) as an npz file; returns the path."""
        p = Path(path)
        meta = {
            "format": FORMAT,
            "hypothesis": self.hypothesis,
            "intervened": list(self.intervened),
            "inputs": list(self.base),
            "mode": self.mode,
            "seed": self.seed,
            "digest": self.digest,
        }
        arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
        arrays.update({f"base.{k}": a for k, a in self.base.items()})
        for v, src in self.sources.items():
            arrays.update({f"source.{v}.{k}": a for k, a in src.items()})
        arrays["expected"] = self.expected
        arrays["base_output"] = self.base_output
        save = np.savez_compressed if compress else np.savez
        with open(p, "wb") as f:
            save(f, **arrays)
        return p

    @classmethod
    def from_npz(cls, path: str | Path) -> CounterfactualDataset:
        """Read a dataset written by :meth:`to_npz`; the stored digest must match the arrays."""
        p = Path(path)
        if not p.is_file():
            raise DatasetError(f"{p}: no such dataset file")
        try:
            with np.load(p, allow_pickle=False) as z:
                files = {k: z[k] for k in z.files}
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a DatasetError
            raise DatasetError(f"{p}: not a readable npz file: {exc}") from exc
        try:
            meta = json.loads(str(files.pop("meta")))
            if meta.get("format") != FORMAT:
                raise DatasetError(f"{p}: format {meta.get('format')!r}, expected {FORMAT!r}")
            names, intervened = meta["inputs"], tuple(meta["intervened"])
            base = {k: files[f"base.{k}"] for k in names}
            sources = {v: {k: files[f"source.{v}.{k}"] for k in names} for v in intervened}
            expected, base_output = files["expected"], files["base_output"]
        except DatasetError:
            raise
        except (KeyError, ValueError, TypeError) as exc:
            raise DatasetError(f"{p}: not a causalabs dataset file (missing or bad {exc})") from exc
        try:
            return cls(
                meta["hypothesis"],
                base,
                sources,
                intervened,
                expected,
                base_output,
                meta["mode"],
                meta["seed"],
                meta["digest"],
            )
        except DatasetError as exc:
            raise DatasetError(f"{p}: {exc}") from exc


def _as_index(ds: CounterfactualDataset, index: Index) -> np.ndarray | slice:
    if isinstance(index, slice):
        return index
    idx = np.asarray(index)
    n = len(ds)
    if idx.dtype == np.bool_:
        if idx.shape != (n,):
            raise DatasetError(f"subset: a bool mask needs shape ({n},), got {idx.shape}")
        return np.flatnonzero(idx)
    if idx.size == 0:
        return np.zeros(0, dtype=np.int64)
    if idx.dtype.kind not in "iu" or idx.ndim != 1:
        raise DatasetError(f"subset: expected 1-D int positions, a bool mask or a slice; got {idx.dtype} {idx.shape}")
    if idx.min() < -n or idx.max() >= n:
        raise DatasetError(f"subset: positions must lie in [-{n}, {n}), got {int(idx.min())}..{int(idx.max())}")
    return idx


def concat(datasets: Sequence[CounterfactualDataset]) -> CounterfactualDataset:
    """The rows of several datasets of one hypothesis and intervened variables, in order.

    The mode and seed are kept when all parts share them; otherwise the mode
    is ``"concat"`` and the seed None.
    """
    parts = list(datasets)
    if not parts:
        raise DatasetError("concat: give at least one dataset")
    first = parts[0]
    for i, d in enumerate(parts[1:], 1):
        for field in ("hypothesis", "intervened", "inputs"):
            a, b = getattr(first, field), getattr(d, field)
            if (sorted(a) if field == "inputs" else a) != (sorted(b) if field == "inputs" else b):
                raise DatasetError(f"concat: dataset {i} has {field} {b!r}, dataset 0 has {a!r}")
    cat = np.concatenate
    modes = {d.mode for d in parts}
    seeds = {d.seed for d in parts}
    return CounterfactualDataset(
        first.hypothesis,
        {k: cat([d.base[k] for d in parts]) for k in first.base},
        {v: {k: cat([d.sources[v][k] for d in parts]) for k in first.base} for v in first.intervened},
        first.intervened,
        cat([d.expected for d in parts]),
        cat([d.base_output for d in parts]),
        modes.pop() if len(modes) == 1 else "concat",
        seeds.pop() if len(seeds) == 1 else None,
    )
