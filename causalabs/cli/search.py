"""``causalabs search`` and ``causalabs scrub``: thin shells over the sweep, the baselines and causal scrubbing.

Exit status: 0 done; errors are mapped in :mod:`causalabs.cli.commands` (2 input, 4 user code,
5 environment, 70 internal).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import typer

from causalabs.align.find import DATA, METHODS, search_method, training_sets
from causalabs.align.settings import DAS_SETTINGS
from causalabs.align.sweep_files import alignment_path, slug
from causalabs.cli.paths import check_not_an_input, check_output_file, check_output_folder, make_folder, write_atomic
from causalabs.cli.layout import print_table
from causalabs.cli.metric import check_metric_option, check_network, report_search_metric
from causalabs.cli.scale import Scale
from causalabs.cli.verify import (
    EXIT,
    input_files,
    parse_dims,
    probe,
    resolve_alignment,
    split_option,
)
from causalabs.errors import LoadError
from causalabs.loading import load_hypothesis
from causalabs.cli.run_options import load_network
from causalabs.network.site_names import parse_site

#: Test datasets use seeds ``seed + TEST_OFFSET + j``, training ones ``seed + j``: never the same seed.
TEST_OFFSET = 100_000
#: Files ``causalabs search`` writes directly in its ``--out`` folder (checked before any work).
SEARCH_FILES = ("heatmap.png", "records.jsonl")
#: ``causalabs scrub`` enumerates input spaces up to this size and samples this many distinct inputs beyond.
SCRUB_ENUMERATE_LIMIT = 100_000


# --- search ----------------------------------------------------------------------------


def _datasets(hyp: Any, sets: Sequence[tuple[str, ...]], n: int, seed: int, data: str) -> tuple[list[Any], list[Any]]:
    return training_sets(hyp, sets, n, seed, data), training_sets(hyp, sets, n, seed + TEST_OFFSET, data)


def _cell(est: Any) -> str:
    if est.exact or not (math.isfinite(est.lo) and math.isfinite(est.hi)):
        return f"{est.value:.3f}"
    return f"{est.value:.3f} [{est.lo:.3f}, {est.hi:.3f}]"


def run_search(
    hypothesis: str,
    network: str,
    sites: Sequence[str],
    method: str,
    dims: Sequence[str] | None,
    out: Path | None,
    seed: int,
    samples: int,
    epochs: int,
    data: str,
    lr: float = DAS_SETTINGS.lr,
    patience: int | None = DAS_SETTINGS.patience,
    layers: str | None = None,
    positions: str | None = None,
    *,
    scale: Scale | None = None,
    metric: str = "iia",
) -> int:
    """Fit and score ``method`` at every site for every internal variable (alone and together); return 0.

    ``layers`` and ``positions`` (``--layers 20-29 --positions last,slot:s``) add a grid of block sites
    (:mod:`causalabs.cli.lm_sweep`).  ``scale`` chooses where the (site, variable set) tasks run (default:
    this process).  ``metric`` (``--metric logit-diff|prob``): the heatmap and a ranked table show that held-out
    metric too (:mod:`causalabs.cli.metric`).
    """
    from causalabs.align.heatmap import plot_heatmap
    from causalabs.align.store import network_fingerprint
    from causalabs.align.sweep import sweep
    from causalabs.atomic import remove_stale_temps
    from causalabs.scm.semantics import model_of

    if method not in METHODS:
        raise LoadError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    if data not in DATA:
        raise LoadError(f"--data {data!r}: choose one of {', '.join(DATA)}")
    if samples < 1 or epochs < 1:
        raise LoadError(f"--samples and --epochs must be at least 1 (got {samples}, {epochs})")
    if not lr > 0:
        raise LoadError(f"--lr must be positive, got {lr}")
    if patience is not None and patience < 1:
        raise LoadError(f"--patience must be at least 1, got {patience}")
    scale = Scale() if scale is None else scale
    scale.check()
    check_metric_option(metric)
    if out is not None:
        check_output_folder(out, "--out", files=SEARCH_FILES, folders=("alignments",))
    hyp = load_hypothesis(hypothesis)
    model = model_of(hyp)
    internals = list(model.internals)
    if not internals:
        raise LoadError(f"{hypothesis}: {model.name} has no internal variable to search for")
    dims_ = parse_dims(dims, internals, model.name)
    modules = split_option(sites)
    if positions is not None and layers is None:
        raise LoadError("--positions goes with --layers (a layer x position grid)")
    if not modules and layers is None:
        raise LoadError("--site: give at least one module path, for example --site 2 (or --layers A-B)")
    for m in modules:
        if "=" in m:  # module paths never hold '=': a VARIABLE=MODULE meant for verify --search
            raise LoadError(
                f"--site {m}: search takes module paths and fits every internal variable of {model.name} "
                f"({', '.join(internals)}) at each, alone and together; VARIABLE=MODULE is for verify --search"
            )
    net = load_network(network)
    if layers is not None:
        from causalabs.cli.lm_sweep import grid_sites

        modules = modules + grid_sites(net, layers, positions)
    locations = [parse_site(m, net) for m in dict.fromkeys(modules)]
    heads = [m for m, loc in zip(dict.fromkeys(modules), locations) if not loc.subspace.is_all]
    if heads:
        raise LoadError(
            f"--site {heads[0]}: search fits directions in a whole activation; a head is an interchange of fixed "
            "units: put it in an alignment, or search at the attention output projection's input (PATH.input)"
        )
    probe(net, hyp)
    check_network(net, model, metric)
    sets: list[tuple[str, ...]] = [(v,) for v in internals]
    if len(internals) > 1:
        sets.append(tuple(internals))
    train, test = _datasets(hyp, sets, samples, seed, data)
    inner: Any = search_method(method, dims_, epochs=epochs, lr=lr, patience=patience)
    folder = Path(out) if out is not None else Path("runs") / f"search-{net.name}-{model.name}"
    per_site = [f"{slug(loc.name)}.json" for loc in locations]
    check_output_folder(folder, "--out", files=(*SEARCH_FILES, *per_site), folders=("alignments",))
    make_folder(folder / "alignments")
    remove_stale_temps(folder, {"records.jsonl", "heatmap.png"}.__contains__)  # left by a killed run
    info = {"hypothesis": hypothesis, **network_fingerprint(net), "data": data, "samples": samples}
    # each site's alignment files (held-out IIA included) are written before its result file: a resumed
    # site's files are complete
    result = sweep(net, hyp, locations, sets, train, test, method=inner, out_dir=folder, seed=seed, alignments=info,
                   metric=metric, **scale.kwargs())
    if result.run is not None:  # where the time went, beside the progress bar
        typer.echo(result.run.describe(), err=True)
    from causalabs.cli.lm_sweep import positions_of, token_labels

    tokens, example = token_labels(net, model, positions_of(locations))
    heatmap = plot_heatmap(result, folder / "heatmap.png", tokens=tokens) if metric == "iia" else None
    write_atomic(folder / "records.jsonl", result.to_json_lines())

    by = {(r.site, r.variables): r for r in result.records}
    print_table(
        f"held-out IIA: {model.name} on {net.name} ({result.method}, seed {seed})",
        ["site", *("+".join(vs) for vs in sets)],
        [[loc.name, *(_cell(by[(loc.name, vs)].overall) for vs in sets)] for loc in locations],
        right=["+".join(vs) for vs in sets],
    )
    if metric != "iia":
        heatmap = report_search_metric(net, model, result, folder, metric, sets, tokens)
    if example is not None:
        shown = ", ".join(f"{p} = {t!r}" for p, t in tokens.items())
        typer.echo(f"positions on the example prompt {example!r}: {shown}")
    for line in _training_lines(folder, [r for r in result.records if r.site in result.computed]):
        typer.echo(line)
    missing = [p for p in (alignment_path(folder, r.site, r.variables) for r in result.records) if not p.is_file()]
    typer.echo(
        f"{len(result.computed)} site(s) fitted, {len(result.resumed)} resumed; results in {folder}, "
        f"heatmap {heatmap}, alignments in {folder / 'alignments'}"
    )
    for p in missing:
        typer.echo(f"note: no alignment file {p} (its site was resumed from an earlier run)")
    return 0


#: ``causalabs search`` prints one training line per fit up to this many fits, a summary beyond.
TRAINING_LINES = 12


def _training_lines(folder: Path, records: Sequence[Any]) -> list[str]:
    """How this run's fits trained (read from their alignment files): a line per fit, a summary for many, then
    the fits that did not converge."""
    from causalabs.align.stopping import describe

    fits = []
    for r in records:
        try:
            info = json.loads(alignment_path(folder, r.site, r.variables).read_text()).get("info", {})
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(info.get("training"), Mapping):
            fits.append((r.site, r.variables, info["training"]))
    if len(fits) <= TRAINING_LINES:
        lines = [f"  training at {site} ({'+'.join(vs)}): {describe(t)}" for site, vs, t in fits]
    else:
        used = [t["epochs"] for _, _, t in fits]
        lines = [f"  training: {len(fits)} fits, {min(used)} to {max(used)} epochs of at most {fits[0][2]['cap']}"]
    capped = [f"{site} ({'+'.join(vs)})" for site, vs, t in fits if t.get("converged") is False]
    if capped:
        lines.append(f"{len(capped)} of {len(fits)} fit(s) did not converge ({', '.join(capped)}); raise --epochs")
    return lines


# --- scrub -----------------------------------------------------------------------------


def _finite(value: Any) -> Any:
    """JSON has no NaN: replace non-finite floats by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def run_scrub(
    hypothesis: str,
    network: str,
    alignment: str | None,
    json_out: Path | None,
    n: int,
    seed: int,
    references: str = "auto",
    threshold: float | None = None,
) -> int:
    """Causal-scrub HYPOTHESIS on NETWORK under the alignment; print the result and its data, optionally write JSON.

    References are drawn by :func:`causalabs.scrub.draw_references`
    (``auto``: balanced over the output where one output value holds most
    inputs).  Without ``threshold`` return 0; with it, the verdict's exit
    status (:func:`causalabs.scrub.judge`: 0 verified, 1 refuted, 3 inconclusive).
    """
    import numpy as np

    from causalabs.data.spaces import distinct_inputs
    from causalabs.scm.semantics import enumerate_inputs, model_of
    from causalabs.scrub import agreement_warning, draw_references, judge, scrub
    from causalabs.scrub.references import HOWS

    if n < 1:
        raise LoadError(f"--n must be at least 1, got {n}")
    if references not in HOWS:
        raise LoadError(f"--references {references!r}: choose one of {', '.join(HOWS)}")
    if threshold is not None and not (math.isfinite(threshold) and 0.0 < threshold <= 1.0):
        raise LoadError(f"--threshold must be in (0, 1], got {threshold}")
    if json_out is not None:
        check_not_an_input(json_out, "--json", input_files(hypothesis, network, alignment))
        check_output_file(json_out, "--json")
    hyp = load_hypothesis(hypothesis)
    model = model_of(hyp)
    net = load_network(network)
    al = resolve_alignment(alignment, network, net, hyp)
    probe(net, hyp, al)
    size = model.input_space_size
    if size <= SCRUB_ENUMERATE_LIMIT:
        inputs, how = enumerate_inputs(model), f"all {size:,} inputs"
    else:
        inputs = distinct_inputs(model, np.random.default_rng([seed, 0x5C]), SCRUB_ENUMERATE_LIMIT)
        how = f"{SCRUB_ENUMERATE_LIMIT:,} distinct inputs sampled from {size:,}"
    refs = draw_references(hyp, inputs, n, seed, references)  # type: ignore[arg-type]
    r = scrub(net, hyp, al, inputs, references=refs.batch, seed=seed)
    typer.echo(f"causal scrubbing of {model.name} on {net.name}")
    typer.echo(f"  data: resampled from {how}; {refs.describe()}")
    typer.echo(f"  correspondence {r.correspondence}")
    typer.echo(f"  loss recovered {r.loss_recovered}")
    typer.echo(f"  accuracy under scrubbing {r.accuracy}")
    typer.echo(f"  accuracy unscrubbed {r.accuracy_original}")
    typer.echo(f"  L_scrubbed {r.loss_scrubbed}\n  L_original {r.loss_original}\n  L_random {r.loss_random}")
    if r.dropped:
        typer.echo(f"  {r.dropped} reference(s) dropped")
    warning = agreement_warning(r)
    if warning is not None:
        typer.echo(f"  warning: {warning}")
    verdict = reason = None
    if threshold is not None:
        verdict, reason = judge(r, threshold)
        typer.echo(f"{verdict.upper()}: loss recovered of {model.name} on {net.name} at threshold {threshold:g}\n  {reason}")
    if json_out is not None:
        doc = {
            **r.to_dict(),
            "network": net.name,
            "hypothesis_ref": hypothesis,
            "alignment_ref": alignment,
            "inputs": how,
            "references": refs.to_dict(),
            "warnings": [warning] if warning is not None else [],
            **({"threshold": threshold, "verdict": verdict, "reason": reason} if threshold is not None else {}),
        }
        write_atomic(Path(json_out), json.dumps(_finite(doc), indent=2, sort_keys=True) + "\n")
    return 0 if verdict is None else EXIT[verdict]


__all__ = ["METHODS", "alignment_path", "parse_dims", "run_scrub", "run_search"]
