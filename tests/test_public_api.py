"""The public names: ``causalabs.verify`` is the function, ``causalabs.verification`` its room; the old
module path works for one release with a warning; every subpackage sits in the layer contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import causalabs
from causalabs.organisms import load_organism
from causalabs.verification import Report, verify

ROOT = Path(__file__).resolve().parents[1]


def test_causalabs_verify_is_the_verification_function() -> None:
    assert causalabs.verify is verify
    o = load_organism(ROOT / "models/heq_handbuilt.py")
    report = causalabs.verify(o.hypothesis(), o.network, o.alignment(), sets=[("left",)])
    assert isinstance(report, Report) and report.verdict == "verified"
    assert report.iia.exact and report.iia.n == 256 * 256


def _python(code: str, *warnings: str) -> subprocess.CompletedProcess[str]:
    flags = [f"-W{w}" for w in warnings]
    return subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True, cwd=ROOT)


def test_the_old_module_path_warns_and_forwards() -> None:
    code = (
        "import causalabs\n"
        "from causalabs.verify import Report, falsify\n"
        "import causalabs.verification as v\n"
        "assert Report is v.Report and falsify is v.falsify\n"
        "assert causalabs.verify is v.verify, 'the function stays the function after the old import'\n"
        "print('ok')\n"
    )
    quiet = _python(code, "ignore::DeprecationWarning")
    assert quiet.returncode == 0 and quiet.stdout.strip() == "ok", quiet.stderr
    loud = _python(code, "error::DeprecationWarning")
    assert loud.returncode != 0
    assert "causalabs.verify as a module is deprecated" in loud.stderr
    assert "import Report from causalabs.verification" in loud.stderr


def _layered() -> set[str]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (layers,) = [c for c in doc["tool"]["importlinter"]["contracts"] if c["type"] == "layers" and not c.get("containers")]
    names: set[str] = set()
    for layer in layers["layers"]:
        names |= {part.strip().strip("()") for part in layer.split("|")}
    return names


def test_every_subpackage_and_module_of_causalabs_has_a_layer() -> None:
    package = ROOT / "causalabs"
    here = {f"causalabs.{p.stem}" for p in package.glob("*.py") if p.name != "__init__.py"}
    here |= {f"causalabs.{p.name}" for p in package.iterdir() if (p / "__init__.py").is_file()}
    assert here == _layered()


def test_no_module_shares_its_name_with_what_its_package_exports() -> None:
    """One name per thing: ``package.name`` is either a submodule or something the package exports, never both.

    A package that re-exports a function under its module's name (``scrub/scrub.py`` exporting ``scrub``)
    makes ``causalabs.scrub.scrub`` the function or the module depending on what was imported last.
    """
    import importlib
    import pkgutil

    clashes = []

    def walk(package: object) -> None:
        for info in pkgutil.iter_modules(package.__path__):  # type: ignore[attr-defined]
            name = f"{package.__name__}.{info.name}"  # type: ignore[attr-defined]
            module = importlib.import_module(name)
            exported = getattr(package, info.name, module)
            if exported is not module:
                clashes.append(f"{name} (also a {type(exported).__name__} of its package)")
            if info.ispkg:
                walk(module)

    walk(causalabs)
    assert not clashes, "rename these modules: " + ", ".join(clashes)
