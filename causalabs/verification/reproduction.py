"""``reproduce``: one counterexample, re-run from the files that state the claim, both answers as ints.

Every refutation prints one *replay line*, a Python statement that runs as
pasted into a fresh interpreter::

    import causalabs as ca; print(ca.reproduce("hypotheses/h.py:Swapped", "models/net.py", {...}, {...}))

It loads the hypothesis from its file, the network from its network file and
the alignment (the network file's ``alignment()`` unless ``alignment=`` names
a saved ``.json`` or a ``file.py:function``), runs the hypothesis'
counterfactual and the network under the aligned interchange on the one
(base, sources) pair, and prints ``out: hypothesis 0, network 1 (disagree)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from causalabs.errors import AlignmentError, LoadError

__all__ = ["Reproduction", "reproduce", "resolve_alignment"]


@attrs.frozen
class Reproduction:
    """The two answers on one interchange: the hypothesis' counterfactual output and the network's."""

    variable: str
    hypothesis: int
    network: int

    @property
    def agree(self) -> bool:
        return self.hypothesis == self.network

    def __str__(self) -> str:
        return (
            f"{self.variable}: hypothesis {self.hypothesis}, network {self.network} "
            f"({'agree' if self.agree else 'disagree'})"
        )


def resolve_alignment(ref: str | None, network_file: str | Path | None, net: Any = None, hyp: Any = None) -> Any:
    """An alignment from a saved file, a ``file.py:function`` reference, or the network file's ``alignment()``.

    A saved file is checked against ``net`` (and ``hyp``) when given: its sites must exist and fit.
    """
    from causalabs.loading import load_attr, load_module, split_ref
    from causalabs.network.alignment import Alignment
    from causalabs.usercode import call_user

    if ref is None:
        if network_file is None:
            raise AlignmentError("no alignment given and no network file whose alignment() to use; pass alignment=")
        fn = getattr(load_module(network_file), "alignment", None)
        if not callable(fn):
            raise AlignmentError(f"{network_file}: no alignment() in the network file; pass --alignment")
        obj: Any = call_user(fn, role="alignment()", where=str(network_file))
    elif split_ref(ref)[1] is not None:
        path, name = split_ref(ref)
        obj = load_attr(ref)
        if callable(obj) and not isinstance(obj, Alignment):
            obj = call_user(obj, role=f"{name}()", where=path)
    else:
        from causalabs.align.store import load_alignment

        obj = load_alignment(ref, network=net, hypothesis=hyp)
    if not isinstance(obj, Alignment):
        raise AlignmentError(f"{ref or network_file}: gives {type(obj).__name__}, not a causalabs Alignment")
    if net is not None:  # position names (last, slot:S) resolve through the network's template from here on
        from causalabs.network.sites import bind_positions

        obj = bind_positions(obj, net)
    return obj


def reproduce(
    hypothesis: Any,
    network: Any,
    base: Mapping[str, int],
    sources: Mapping[str, Mapping[str, int]],
    *,
    alignment: Any = None,
) -> Reproduction:
    """Re-run one (base, sources) interchange on both sides; the answers as plain ints.

    ``hypothesis``: a ``path/file.py:ClassName`` reference or the class;
    ``network``: a network file or a loaded :class:`~causalabs.Network`;
    ``alignment``: None (the network file's ``alignment()``), a saved
    alignment file, a ``path/file.py:function`` reference, or an
    :class:`~causalabs.Alignment`.  ``base`` is one input row, ``sources``
    one input row per intervened variable.
    """
    import numpy as np
    import torch

    from causalabs.engine.interchange import interchange_network
    from causalabs.loading import load_hypothesis
    from causalabs.network.alignment import Alignment
    from causalabs.network.network import load_network
    from causalabs.scm.semantics import interchange, model_of

    hyp = load_hypothesis(hypothesis) if isinstance(hypothesis, str) else hypothesis
    model = model_of(hyp)
    network_file = network if isinstance(network, (str, Path)) else None
    net = load_network(network) if network_file is not None else network
    if isinstance(alignment, Alignment):
        al = alignment
    elif alignment is None and network_file is None:
        raise LoadError("reproduce: with a loaded network, pass alignment= (there is no network file to ask)")
    else:
        al = resolve_alignment(alignment, network_file, net, hyp)

    def batch(row: Mapping[str, int]) -> dict[str, Any]:
        return {n: np.array([int(row[n])], dtype=np.int64) for n in model.inputs}

    srcs = {v: batch(row) for v, row in sources.items()}
    expected = int(interchange(model, batch(base), srcs)[model.output][0])
    with torch.no_grad():
        observed = int(interchange_network(net, al, batch(base), srcs).values.reshape(-1)[0])
    return Reproduction(model.output, expected, observed)
