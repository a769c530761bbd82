"""Causal scrubbing results as a figure and HTML: loss recovered with its interval, losses, accuracy.

Works on the JSON form (:meth:`ScrubResult.to_dict`, or the file ``causalabs
scrub --json`` writes, which adds the network, the references and, with
``--threshold``, the verdict and its reason).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from causalabs.errors import FigureError
from causalabs.figures.html import figure_tag, fragment, key_values, page, table, verdict_badge
from causalabs.figures.plots import loss_recovered
from causalabs.figures.style import Width

ESTIMATES = ("loss_recovered", "loss_scrubbed", "loss_original", "loss_random", "accuracy", "accuracy_original")
LABELS = {"loss_recovered": "loss recovered", "loss_scrubbed": "L scrubbed", "loss_original": "L original",
          "loss_random": "L random", "accuracy": "accuracy under scrubbing", "accuracy_original": "accuracy unscrubbed"}


def is_scrub(doc: Any) -> bool:
    """Whether a JSON document is a scrub result (it has every estimate and the correspondence)."""
    return isinstance(doc, Mapping) and all(isinstance(doc.get(k), Mapping) for k in ESTIMATES) and "correspondence" in doc


def _check(doc: Mapping[str, Any], where: str) -> None:
    if not is_scrub(doc):
        raise FigureError(f"{where}: not a causal scrubbing result (no loss_recovered / correspondence)")


def _interval(e: Mapping[str, Any]) -> tuple[float, float, float]:
    f = lambda x: math.nan if x is None else float(x)  # noqa: E731 (JSON writes NaN as null)
    return (f(e.get("value")), f(e.get("lo")), f(e.get("hi")))


def scrub_figure(docs: Sequence[Mapping[str, Any]], *, labels: Sequence[str] | None = None,
                 threshold: float | None = None, width: Width = "one") -> Any:
    """Loss recovered with its interval, one row per result (label: its hypothesis unless given)."""
    for i, d in enumerate(docs):
        _check(d, f"result {i}")
    names = list(labels) if labels is not None else [str(d["hypothesis"]) for d in docs]
    if threshold is None:
        found = {d.get("threshold") for d in docs} - {None}
        threshold = found.pop() if len(found) == 1 else None
    return loss_recovered(names, [_interval(d["loss_recovered"]) for d in docs], threshold=threshold, width=width)


def _fmt(e: Mapping[str, Any]) -> tuple[str, str, str]:
    v, lo, hi = _interval(e)
    interval = "" if math.isnan(lo) or math.isnan(hi) else f"[{lo:.4f}, {hi:.4f}]"
    how = f"{float(e.get('confidence', 0.95)):.0%} {e.get('method', '')}" if interval else ""
    return (f"{v:.4f}", interval, how)


def body(doc: Mapping[str, Any], *, level: int = 1) -> str:
    """The scrub result's HTML without the page around it."""
    _check(doc, "scrub result")
    title = f"causal scrubbing of {doc['hypothesis']}" + (f" on {doc['network']}" if doc.get("network") else "")
    verdict = doc.get("verdict")
    head = verdict_badge(verdict, f"{str(verdict).upper()} at threshold {doc.get('threshold'):g}") + " " if verdict else ""
    parts = [f"<h{level}>{head}{escape(title)}</h{level}>"]
    if doc.get("reason"):
        parts.append(f'<p class="reason">{escape(str(doc["reason"]))}</p>')
    elif not verdict:
        parts.append('<p class="reason">no verdict (no threshold given): the estimates below</p>')
    parts += [f"<p>correspondence: <code>{escape(str(doc['correspondence']))}</code></p>"]
    for w in doc.get("warnings") or ():
        parts.append(f"<p><b>warning:</b> {escape(str(w))}</p>")
    parts.append(figure_tag(scrub_figure([doc]), f"loss recovered of {doc['hypothesis']}",
                            "loss recovered = (L_random - L_scrubbed) / (L_random - L_original), with its interval"))
    rows = [(LABELS[k], *_fmt(doc[k]), f"{int(doc[k].get('n', 0)):,}") for k in ESTIMATES]
    parts.append(table(("estimate", "value", "interval", "how", "n"), rows, numeric=(1, 4)))
    keys = ("n", "seed", "dropped", "passes_per_batch", "inputs", "hypothesis_ref", "alignment_ref")
    parts += ["<h2>Provenance</h2>", key_values((k, doc[k]) for k in keys if k in doc)]
    refs = doc.get("references")
    if isinstance(refs, Mapping):
        parts.append(key_values((f"references: {k}", v) for k, v in sorted(refs.items())))
    return "".join(parts)


def to_html(doc: Mapping[str, Any]) -> str:
    """A scrub result as one self-contained HTML page."""
    return page(f"causal scrubbing of {doc.get('hypothesis', '?')}", body(doc))


def repr_html(doc: Mapping[str, Any]) -> str:
    return fragment(body(doc, level=3))
