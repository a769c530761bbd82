"""Compile RASP programs with tracr and export them for the plain-torch transformer.

Run it in the separate tracr environment (JAX is never needed elsewhere)::

    python3 -m venv .venv-tracr && . .venv-tracr/bin/activate
    pip install tracr-pypi torch==2.13.0 numpy safetensors attrs
    python models/tracr/export.py            # writes models/tracr/weights/*
    python models/tracr/export.py --check    # recompiles and compares with the committed files

Versions that worked (recorded in every JSON too): tracr-pypi 1.0.0,
jax 0.10.2, jaxlib 0.10.2, dm-haiku 0.0.17, chex 0.1.92, numpy 2.4.6,
torch 2.13.0+cpu, Python 3.11.

For each program (:data:`PROGRAMS`, defined in ``_rasp_programs.py``; the
comparison of tracr's forward with torch's is in ``_tracr_compare.py``) the
script

1. compiles it with ``compile_rasp_to_model`` (BOS token ``BOS``, pad ``PAD``);
2. writes ``weights/tracr_<name>.safetensors`` (the state dict of
   :class:`causalabs.network.tracr_transformer.TracrTransformer`) and
   ``weights/tracr_<name>.json`` (configuration, residual labels, feature
   names, versions and the checks below);
3. runs tracr's own Haiku model on every input of the finite domain (padded
   inputs with tracr's pad masking; for variable-length programs it also
   checks that this equals tracr's unpadded ``apply`` on the real
   positions) and checks tracr's outputs against RASP's own evaluator;
4. runs the plain-torch transformer on the same inputs and asserts that the
   output read-out, the input embeddings, every layer's residual stream and
   every layer's output differ from tracr's by less than ``TOLERANCE``;
5. stores tracr's tensors for a seeded subset of the inputs in
   ``weights/tracr_<name>.reference.safetensors``; the tests (no JAX)
   re-run the torch model on them.

Importing this file does not import JAX; only running it does.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from _rasp_programs import PROGRAMS, Program, domain
from _tracr_compare import max_diffs, torch_tensors, tracr_forward, tracr_tensors

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WEIGHTS = HERE / "weights"
BOS, PAD = "BOS", "PAD"
TOLERANCE = 1e-5
#: Inputs kept in the reference file per program (seeded choice from the domain).
REFERENCE_SIZE = 24
REFERENCE_SEED = 0


def versions() -> dict[str, str]:
    out = {}
    for dist in (
        "tracr-pypi",
        "jax",
        "jaxlib",
        "dm-haiku",
        "chex",
        "numpy",
        "torch",
        "safetensors",
    ):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            out[dist] = "missing"
    out["python"] = sys.version.split()[0]
    return out


def features(program: Any, residual_labels: list[str]) -> dict[str, str]:
    """RASP expression name -> tracr label, for every SOp reachable from the program's output."""
    from tracr.rasp import rasp

    out: dict[str, str] = {}
    stack, seen = [program], set()
    while stack:
        expr = stack.pop()
        if id(expr) in seen:
            continue
        seen.add(id(expr))
        stack.extend(expr.children)
        if not isinstance(expr, rasp.SOp) or expr.label in ("tokens", "indices"):
            continue
        if expr.name in out and out[expr.name] != expr.label:
            raise ValueError(f"two expressions are named {expr.name!r}; name them apart")
        out[expr.name] = expr.label
        if isinstance(expr, rasp.SelectorWidth):
            sw = f"{expr.label}_selector_width_attn_output"
            if sw in residual_labels:
                out[f"{expr.name}_selector_width_attn_output"] = sw
    return dict(sorted(out.items()))

def export(program: Program, out_dir: Path) -> dict[str, Any]:
    """Compile, check and write one program; returns its JSON record."""
    from safetensors.numpy import save_file as save_numpy
    from safetensors.torch import save_file
    from tracr.compiler import compiling
    from tracr.rasp import rasp

    sys.path.insert(0, str(ROOT))
    from causalabs.network.tracr_transformer import (
        TracrConfig,
        TracrTransformer,
        state_dict_from_tracr,
        writer_blocks,
    )

    # tracr labels are ``name_<id>`` with ids from a global counter, drawn when a
    # label is first read; restart it so that each program's labels do not
    # depend on which programs were compiled before it in this process.
    rasp.RASPExpr._ids = itertools.count(1)
    rasp_program = program.build()
    assembled = compiling.compile_rasp_to_model(
        rasp_program,
        vocab=set(program.vocab),
        max_seq_len=program.max_seq_len,
        compiler_bos=BOS,
        compiler_pad=PAD,
    )
    labels = list(assembled.residual_labels)
    cfg_model = assembled.model_config
    enc = assembled.input_encoder.encoding_map
    input_tokens = [tok for tok, _ in sorted(enc.items(), key=lambda kv: kv[1])]
    categorical = assembled.output_encoder is not None and hasattr(assembled.output_encoder, "encoding_map")
    if categorical:
        out_map = assembled.output_encoder.encoding_map
        output_values = [v for v, _ in sorted(out_map.items(), key=lambda kv: kv[1])]
        output_dims = [labels.index(f"{rasp_program.label}:{v}") for v in output_values]
    else:
        output_values = None
        output_dims = [labels.index(rasp_program.label)]
    name = f"tracr_{program.name}"
    record: dict[str, Any] = {
        "name": name,
        "program": program.name,
        "source": f"tracr.compiler.{program.source}",
        "vocab": list(program.vocab),
        "max_seq_len": program.max_seq_len,
        "variable_length": program.variable_length,
        "model": {
            "num_layers": cfg_model.num_layers,
            "num_heads": cfg_model.num_heads,
            "key_size": cfg_model.key_size,
            "mlp_hidden_size": cfg_model.mlp_hidden_size,
            "causal": bool(cfg_model.causal),
            "layer_norm": bool(cfg_model.layer_norm),
            "activation": "relu",
        },
        "residual_labels": labels,
        "input_tokens": input_tokens,
        "bos_token": BOS,
        "pad_token": PAD,
        "output": {
            "categorical": categorical,
            "label": rasp_program.label,
            "dims": output_dims,
            "values": output_values,
        },
        "features": features(rasp_program, labels),
        "versions": versions(),
    }
    config = TracrConfig(
        name=name,
        residual_labels=labels,
        num_layers=cfg_model.num_layers,
        num_heads=cfg_model.num_heads,
        key_size=cfg_model.key_size,
        mlp_hidden_size=cfg_model.mlp_hidden_size,
        max_seq_len=program.max_seq_len,
        input_tokens=input_tokens,
        bos_token=BOS,
        pad_token=PAD,
        categorical_output=categorical,
        output_dims=output_dims,
        output_values=output_values,
        causal=bool(cfg_model.causal),
        features=record["features"],
    )
    state = state_dict_from_tracr(assembled.params, cfg_model.num_layers)
    module = TracrTransformer(config)
    module.load_state_dict(state, strict=True)
    module.eval()
    record["writers"] = {f: list(writer_blocks(module, f)) for f in record["features"]}

    # Every input of the domain, padded to max_seq_len + 1 positions.
    seqs = list(domain(program))
    width = program.max_seq_len + 1
    tokens = np.full((len(seqs), width), enc[PAD], dtype=np.int64)
    for i, s in enumerate(seqs):
        tokens[i, : len(s) + 1] = [enc[BOS], *(enc[t] for t in s)]
    forward = tracr_forward(assembled, enc[PAD])
    ref = tracr_tensors(forward(tokens.astype(np.int32)), output_dims)
    got = torch_tensors(module, tokens)
    full = max_diffs(ref, got)

    # tracr's pad masking reproduces its unpadded runs on the real positions.
    unpadded = 0.0
    for i, s in enumerate(seqs):
        if len(s) == program.max_seq_len and program.variable_length:
            continue
        if not program.variable_length and i >= 8:
            break
        out = assembled.apply([BOS, *s])
        n = len(s) + 1
        res = np.stack([np.asarray(r)[0] for r in out.residuals])
        unpadded = max(unpadded, float(np.max(np.abs(res - ref["residuals"][:, i, :n]))))

    # tracr agrees with RASP's own evaluator on every input.
    agree, worst = 0, 0.0
    for i, s in enumerate(seqs):
        expected = rasp_program(list(s))
        n = len(s)
        if categorical:
            decoded = [output_values[j] for j in ref["unembedded"][i, 1 : n + 1]]
            agree += decoded == list(expected)
        else:
            vals = ref["unembedded"][i, 1 : n + 1].astype(np.float64)
            err = float(np.max(np.abs(vals - np.asarray(expected, dtype=np.float64))))
            worst = max(worst, err)
            agree += err < 1e-4
    if agree != len(seqs):
        raise AssertionError(
            f"{name}: tracr disagrees with RASP on {len(seqs) - agree} of {len(seqs)} inputs"
        )

    # The reference subset and the check on it.
    rng = np.random.default_rng(REFERENCE_SEED)
    pick = np.sort(rng.choice(len(seqs), size=min(REFERENCE_SIZE, len(seqs)), replace=False))
    stacked = ("residuals", "layer_outputs")  # (blocks, inputs, T, D)
    reference = {k: np.ascontiguousarray(v[:, pick] if k in stacked else v[pick]) for k, v in ref.items()}
    reference["tokens"] = tokens[pick]
    sub = max_diffs(reference, torch_tensors(module, tokens[pick]))
    record["check"] = {
        "tolerance": TOLERANCE,
        "tracr_forward": "CompiledTransformerModel with pad_token set (pad keys masked), float32",
        "domain_inputs": len(seqs),
        "domain_max_abs_diff": full,
        "reference_inputs": len(pick),
        "reference_seed": REFERENCE_SEED,
        "reference_max_abs_diff": sub,
        "padded_vs_unpadded_tracr_max_abs_diff": unpadded,
        "tracr_vs_rasp": {
            "inputs": len(seqs),
            "agree": agree,
            "numerical_max_abs_err": worst,
        },
        "passed": bool(full["max"] < TOLERANCE and sub["max"] < TOLERANCE and unpadded < TOLERANCE),
    }
    if not record["check"]["passed"]:
        raise AssertionError(f"{name}: torch and tracr differ: {json.dumps(record['check'], indent=1)}")

    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(
        dict(sorted(state.items())),
        str(out_dir / f"{name}.safetensors"),
        metadata={"program": program.name},
    )
    save_numpy(dict(sorted(reference.items())), str(out_dir / f"{name}.reference.safetensors"))
    (out_dir / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "programs",
        nargs="*",
        default=list(PROGRAMS),
        help=f"among {', '.join(PROGRAMS)}",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compile into a temporary folder and compare",
    )
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    args = parser.parse_args(argv)
    unknown = [p for p in args.programs if p not in PROGRAMS]
    if unknown:
        parser.error(f"unknown programs {unknown}; choose among {', '.join(PROGRAMS)}")
    import tempfile

    target = Path(tempfile.mkdtemp()) if args.check else args.out
    status = 0
    for name in args.programs:
        rec = export(PROGRAMS[name], target)
        c = rec["check"]
        line = (
            f"{rec['name']}: width {len(rec['residual_labels'])}, layers {rec['model']['num_layers']}, "
            f"domain {c['domain_inputs']}, max |tracr - torch| {c['domain_max_abs_diff']['max']:.2e}"
        )
        if args.check:
            same = all(
                (target / f).read_bytes() == (args.out / f).read_bytes()
                for f in (
                    f"{rec['name']}.safetensors",
                    f"{rec['name']}.reference.safetensors",
                )
                if (args.out / f).is_file()
            )
            line += "; weights match the committed files" if same else "; DIFFERS from the committed files"
            status |= 0 if same else 1
        print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())
