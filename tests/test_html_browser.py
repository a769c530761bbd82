"""The HTML pages in a real browser: headless Chromium opens each, screenshots it, and reports what it rendered.

A check page (written here, not part of the report) frames the report and,
once it loaded, writes the number of images, how many decoded (complete,
with a width), and the page's visible text into its DOM, which
``--dump-dom`` prints.  The report itself has no script.  Chromium is the
Debian package ``chromium``; .ci/run installs it and sets
CAUSALABS_REQUIRE_BROWSER=1 so that a missing browser fails there instead
of skipping.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests._pages import make_results, run

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
if BROWSER is None and os.environ.get("CAUSALABS_REQUIRE_BROWSER") == "1":
    raise RuntimeError("CAUSALABS_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install -y chromium)")
pytestmark = pytest.mark.skipif(BROWSER is None, reason="needs headless Chromium (Debian package chromium)")

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--hide-scrollbars", "--allow-file-access-from-files", "--virtual-time-budget=10000"]

CHECK = """<!DOCTYPE html><html><body><pre id="out">pending</pre>
<iframe id="f" src="%s" width="1000" height="900"></iframe>
<script>
document.getElementById("f").addEventListener("load", function () {
  var d = this.contentDocument, imgs = Array.from(d.images);
  document.getElementById("out").textContent = "RESULT " + JSON.stringify({
    images: imgs.length,
    loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
    text: d.body.innerText});
});
</script></body></html>
"""


def _browse(page: Path, tmp: Path) -> dict:
    check = tmp / f"check-{page.stem}.html"
    check.write_text(CHECK % page.name)
    proc = subprocess.run([BROWSER, *FLAGS, "--dump-dom", check.as_uri()], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "HOME": str(tmp)})
    found = re.search(r"RESULT (\{.*\})</pre>", proc.stdout, re.S)
    assert found, proc.stderr[-2000:]
    from html import unescape

    return json.loads(unescape(found.group(1)))


def _screenshot(page: Path, tmp: Path) -> Path:
    shot = tmp / f"{page.stem}.png"
    subprocess.run([BROWSER, *FLAGS, f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri()],
                   capture_output=True, timeout=120, env={**os.environ, "HOME": str(tmp)})
    return shot


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pages")
    results = make_results(folder)
    out = {}
    for key in ("verified", "refuted", "scrub"):
        out[key] = folder / f"{key}.html"
        r = run("report", str(results[key]), "--format", "html", "--out", str(out[key]))
        assert r.exit_code == 0, r.output
    return out


@pytest.mark.parametrize("key,verdict", [
    ("verified", "VERIFIED HierarchicalEquality on heq_handbuilt (exhaustive)"),
    ("refuted", "REFUTED SwappedEquality on heq_handbuilt (exhaustive)"),
    ("scrub", "VERIFIED at threshold 0.9 causal scrubbing of HierarchicalEquality"),
])
def test_page_renders_with_its_verdict_and_every_figure(pages, key, verdict):
    page = pages[key]
    seen = _browse(page, page.parent)
    assert seen["text"].startswith(verdict)
    assert seen["images"] >= 1 and seen["loaded"] == seen["images"]
    shot = _screenshot(page, page.parent)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (1400, 1000)
    assert pixels[..., :3].std() > 0.05  # something was drawn, not a blank page
    keep = os.environ.get("CAUSALABS_SCREENSHOTS")
    if keep:  # for a person to look at: CAUSALABS_SCREENSHOTS=folder
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)


def test_the_check_sees_a_broken_figure(pages, tmp_path):
    """The check itself can fail: an image whose data is not an SVG is counted as not loaded."""
    html = pages["verified"].read_text()
    broken = tmp_path / "broken.html"
    broken.write_text(re.sub(r"data:image/svg\+xml;base64,[^\"]+", "data:image/svg+xml;base64,bm90IGFuIGltYWdl",
                             html, count=1))
    seen = _browse(broken, tmp_path)
    assert seen["images"] == 1 and seen["loaded"] == 0
