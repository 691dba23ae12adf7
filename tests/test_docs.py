"""The notebooks and the documentation site built from them.

Every ``notebooks/*.ipynb`` runs once, at its CI size (``RMT_ALPHA_CI=1``, root conftest.py), in
its own test; the site is then built (``mkdocs build --strict``) from those executed copies, so a
broken notebook, link, docstring reference or formula fails here, and no notebook runs twice.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _load("rmt_alpha_docs_hooks", ROOT / "docs" / "hooks.py")
unicode_math = _load("rmt_alpha_docs_unicode_math", ROOT / "docs" / "unicode_math.py")
NOTEBOOKS = hooks.notebooks()


class ExecutedNotebooks:
    """Executes each notebook on first request and remembers the result (or the failure)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.results: dict[str, Path | BaseException] = {}

    def get(self, path: Path) -> Path:
        if path.name not in self.results:
            try:
                self.results[path.name] = hooks.execute_notebook(
                    path, self.folder / "notebooks" / path.name)
            except BaseException as exc:
                self.results[path.name] = exc
        result = self.results[path.name]
        if isinstance(result, BaseException):
            raise result
        return result


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    return ExecutedNotebooks(tmp_path_factory.mktemp("executed"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(executed, notebook):
    out = executed.get(notebook)
    assert out.stat().st_size > notebook.stat().st_size  # now with outputs


@pytest.fixture(scope="session")
def site(executed, tmp_path_factory):
    for path in NOTEBOOKS:
        try:
            executed.get(path)
        except BaseException:
            pytest.fail(f"the site needs {path.name}, which fails (see test_notebook_runs)")
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, RMT_ALPHA_DOCS_NOTEBOOKS=str(executed.folder), NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    problems = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert not problems, log
    return out


def _page(site: Path, path: str) -> str:
    return (site / path / "index.html").read_text(encoding="utf-8")


@pytest.mark.timeout(900)  # executes the notebooks when run alone
def test_api_page_documents_every_public_name(site):
    import rmt_alpha

    page = _page(site, "api")
    ids = set(re.findall(r'id="([^"]+)"', page))
    missing = [name for name in rmt_alpha.__all__ if f"rmt_alpha.{name}" not in ids]
    assert not missing, f"not on the API page: {missing}"
    for name in hooks.own_names(rmt_alpha.blocks):
        assert f"rmt_alpha.blocks.{name}" in ids
    for command in hooks.cli_help():
        assert f"<code>{command}</code>" in page
    assert "usage: rmt-alpha optimal-alpha" in page


@pytest.mark.timeout(900)
def test_gallery_shows_every_notebook_with_its_figures(site):
    gallery = _page(site, "gallery")
    for path in NOTEBOOKS:
        assert f'href="../notebooks/{path.stem}/"' in gallery, path.name
        page = _page(site, f"notebooks/{path.stem}")
        assert "data:image/png;base64," in page, f"{path.name}: no figure on its page"


@pytest.mark.timeout(900)
def test_pages_include_their_sources_and_typeset_formulas(site):
    theory = _page(site, "THEORY")
    first = (ROOT / "THEORY.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ")
    assert first.split("(")[0].strip() in theory  # the page is THEORY.md itself
    assert theory.count("<math") > 50
    # §3's optimal alpha, typeset: alpha with a superscript star
    assert '<msup><mi>&#x003B1;</mi><mrow><mo>&#x0002A;</mo></mrow></msup>' in theory
    for path, phrase in [("docs/real_data", "Real data"), ("figures/VALIDATION", "Theory vs"),
                         ("benchmarks", "Benchmarks"), ("CHANGELOG", "Unreleased")]:
        assert phrase in _page(site, path), path
    for name in ("fig1_accuracy_vs_alpha.png", "digits_transfer.png"):
        assert (site / "figures" / name).is_file()


@pytest.mark.timeout(900)
def test_site_loads_nothing_from_the_network(site):
    external = re.compile(r'<(?:script|img|iframe)[^>]*\ssrc="(?:https?:)?//|'
                          r'<link[^>]*\shref="(?:https?:)?//[^"]*"[^>]*stylesheet|'
                          r'@import\s+url\((?:https?:)?//')
    offenders = [str(p.relative_to(site)) for p in site.rglob("*.html")
                 if external.search(p.read_text(encoding="utf-8"))]
    assert not offenders


def test_formulas_become_mathml_and_code_stays_code():
    assert unicode_math.to_latex("w̃ = (X̃X̃ᵀ/N + γ̃ I)⁻¹ X̃ỹ / N") == (
        r"\tilde{w} = (\tilde{X}\tilde{X}^{\top}/N + \tilde{\gamma } I)^{- 1} \tilde{X}\tilde{y} / N")
    assert unicode_math.to_latex("√(1 − β²) μ⊥") == r"\sqrt{1 - \beta ^{2}} \mu _{\perp}"
    assert unicode_math.to_latex("m_self") == r"m_{\text{self}}"
    assert unicode_math.to_latex("‖μ_⊥‖ = mu_orth") == r"\|\mu _{\perp }\| = \text{mu_orth}"
    for formula in ["n < p", "O(1/p)", "α*", "Φ(m/√V)", "y ∈ {−1, +1}", "i ≠ j"]:
        assert unicode_math.is_formula(formula), formula
    for code in ["ra.optimal_alpha", "mu_orth", "--json", "RMT_ALPHA_CI=1", 'to_latex("…")',
                 "benchmarks/results/theory_speed.csv", "gap = a + b/p"]:
        assert not unicode_math.is_formula(code), code
    html = unicode_math.typeset_html("<p><code>κ = γ(1 + δ)</code> and <code>simulate</code></p>"
                                     "<pre><code>κ = 1</code></pre>")
    assert html.count("<math") == 1 and "<code>simulate</code>" in html
    assert "<pre><code>κ = 1</code></pre>" in html
    with pytest.raises(ValueError, match="unbalanced|missing"):
        unicode_math.to_latex("Φ(m / √(V)")


def test_every_formula_of_the_markdown_sources_converts():
    sources = hooks.theory_pages() + [p for p in hooks.FIXED_PAGES] + ["README.md"]
    failures = []
    for rel in sources:
        text = re.sub(r"```.*?```", "", (ROOT / rel).read_text(encoding="utf-8"), flags=re.S)
        for span in re.findall(r"(?<!`)`([^`\n]+)`(?!`)", text):
            if unicode_math.is_formula(span):
                try:
                    unicode_math.to_mathml(span)
                except ValueError as exc:
                    failures.append(f"{rel}: {exc}")
    assert not failures, "\n".join(failures)
