"""Self-contained HTML: a page skeleton, tables, and figures embedded as SVG data URIs.

A page needs no network and no JavaScript: styles are inline, every figure
is an ``<img>`` whose ``src`` is the figure's SVG as a base64 data URI
(vector, so it prints sharp, and each image either loads whole or not at
all).  The page names its generator (:data:`~causalabs.figures.style.MARKER`)
so the command line can tell a page it wrote from someone else's file.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from causalabs.figures.style import MARKER, to_bytes

#: Verdict words and their colours (Okabe-Ito green, vermilion, orange), with a text label so colour is not the only cue.
VERDICT_COLOURS = {"verified": "#009E73", "proved": "#009E73", "refuted": "#D55E00", "inconclusive": "#E69F00",
                   "unknown": "#E69F00"}

STYLE = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.45}
h1{font-size:1.35rem;margin-bottom:.2rem}h2{font-size:1.1rem;margin-top:1.6rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{display:inline-block;color:#fff;font-weight:bold;padding:.15rem .6rem;border-radius:.25rem}
.reason{margin:.4rem 0 1rem 0}code,pre{font-family:"DejaVu Sans Mono",monospace;font-size:.85rem}
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
figure{margin:.8rem 0}figure img{width:100%;max-width:36rem}figcaption{font-size:.85rem;color:#555}
.causalabs-fragment{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif}
"""


def figure_uri(fig: Any) -> str:
    """The figure as an SVG data URI (``data:image/svg+xml;base64,...``)."""
    return "data:image/svg+xml;base64," + base64.b64encode(to_bytes(fig, "svg")).decode("ascii")


def figure_tag(fig: Any, alt: str, caption: str = "") -> str:
    """An ``<figure>`` holding ``fig`` as an embedded SVG image, with its alt text and caption."""
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img class="figure" alt="{escape(alt)}" src="{figure_uri(fig)}">{cap}</figure>'


def verdict_badge(verdict: str, text: str | None = None) -> str:
    """The verdict as a coloured label; the word itself is always written out."""
    colour = VERDICT_COLOURS.get(verdict.lower(), "#555")
    return f'<span class="verdict" style="background:{colour}">{escape(text or verdict.upper())}</span>'


NUM = ' class="num"'


def table(head: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[int] = ()) -> str:
    """An HTML table (cells escaped; columns in ``numeric`` right-aligned)."""
    out = ["<table><thead><tr>", *(f"<th>{escape(str(h))}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        cells = (f"<td{NUM if i in numeric else ''}>{escape(str(c))}</td>" for i, c in enumerate(row))
        out += ["<tr>", *cells, "</tr>"]
    out.append("</tbody></table>")
    return "".join(out)


def key_values(pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of names and values."""
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape('' if v is None else str(v))}</td></tr>" for k, v in pairs)
    return f"<table><tbody>{rows}</tbody></table>"


def pre(text: str) -> str:
    return f"<pre>{escape(text)}</pre>"


def page(title: str, body: str) -> str:
    """A whole HTML document: ``body`` with the inline style, no script, no external resource."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta name="generator" content="{MARKER}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def fragment(body: str) -> str:
    """``body`` for a notebook cell (``_repr_html_``): a div, the figures still embedded."""
    return f'<div class="causalabs-fragment">{body}</div>'
