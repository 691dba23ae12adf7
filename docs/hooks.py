"""MkDocs hooks: assemble the documentation site from the repository's own files.

``mkdocs build --strict`` (see docs/pages/contributing.md) runs these hooks, which

* add repository files as pages at their repository paths, so that their relative links work
  unchanged and the site never holds a copy: ``THEORY*.md``, ``docs/real_data.md``,
  ``figures/VALIDATION.md``, ``benchmarks/README.md``, ``CHANGELOG.md`` and the figures;
* build the gallery from every ``notebooks/*.ipynb``, executed at its CI size
  (``RMT_ALPHA_CI=1``) with its outputs shown inline: executed here, or taken from
  ``$RMT_ALPHA_DOCS_NOTEBOOKS`` where the test suite has executed them already;
* generate the API page from ``rmt_alpha.__all__`` (grouped by the module that defines each
  name), every public module in it (``rmt_alpha.blocks``) and the command line's ``--help``;
* typeset the Unicode formulas of inline code spans as MathML (:mod:`unicode_math`).
"""

from __future__ import annotations

import argparse
import html
import importlib
import inspect
import json
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import unicode_math  # noqa: E402

log = logging.getLogger("mkdocs.hooks.rmt_alpha")

EXECUTED_ENV = "RMT_ALPHA_DOCS_NOTEBOOKS"  # a folder holding notebooks/<name>.ipynb, executed
FIXED_PAGES = {  # repository file -> navigation title
    "docs/real_data.md": "Real data",
    "figures/VALIDATION.md": "Validation",
    "benchmarks/README.md": "Benchmarks",
    "CHANGELOG.md": "Changelog",
}
IMAGES = ("figures/*.png",)

_state: dict = {}


# --------------------------------------------------------------------------- sources


def theory_pages() -> list[str]:
    """THEORY.md first, then any other THEORY*.md at the repository root."""
    found = sorted(p.name for p in ROOT.glob("THEORY*.md"))
    return sorted(found, key=lambda name: name != "THEORY.md")


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def notebook_title(path: Path) -> str:
    """The first ``# `` heading of the notebook's first markdown cell."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise PluginError(f"{path.relative_to(ROOT)} has no '# title' in its first markdown cell")


def notebook_summary(path: Path) -> str:
    """The notebook's first paragraph after its title (the setting it describes)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    text = "".join(next(c for c in nb["cells"] if c["cell_type"] == "markdown")["source"])
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip() and not p.startswith("#")]
    return paragraphs[0] if paragraphs else ""


def execute_notebook(src: Path, dest: Path, timeout: int = 900) -> Path:
    """Run ``src`` in a fresh kernel (working directory: its folder) and write it to ``dest``.

    Notebooks take their CI size unless ``RMT_ALPHA_CI`` says otherwise. A failing cell raises
    ``nbclient.exceptions.CellExecutionError`` with the cell and its traceback.
    """
    import nbformat
    from nbclient import NotebookClient

    env = dict(os.environ)
    env.setdefault("RMT_ALPHA_CI", "1")
    # A static page shows no progress bar: none, and no warning that ipywidgets is missing.
    env.setdefault("TQDM_DISABLE", "1")
    env.setdefault("PYTHONWARNINGS", "ignore:IProgress not found")
    nb = nbformat.read(src, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(src.parent)}}).execute(env=env)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return dest


def _executed_dir() -> Path:
    """Where ``notebooks/<name>.ipynb`` are found executed (executing them if needed)."""
    given = os.environ.get(EXECUTED_ENV)
    if given:
        folder = Path(given)
        missing = [p.name for p in notebooks() if not (folder / "notebooks" / p.name).is_file()]
        if missing:
            raise PluginError(f"${EXECUTED_ENV}={given} lacks executed copies of {missing}")
        return folder
    tmp = tempfile.TemporaryDirectory(prefix="rmt_alpha_docs_")
    _state["tmp"] = tmp  # removed when the build ends
    folder = Path(tmp.name)
    for path in notebooks():
        log.info("executing %s", path.relative_to(ROOT))
        try:
            execute_notebook(path, folder / "notebooks" / path.name)
        except Exception as exc:
            raise PluginError(f"notebook {path.relative_to(ROOT)} failed:\n{exc}") from exc
    return folder


# --------------------------------------------------------------------------- generated pages


def _first_sentence(doc: str | None) -> str:
    paragraph = " ".join((doc or "").strip().split("\n\n")[0].split())
    return re.split(r"(?<=[^.]\.)\s", paragraph)[0].rstrip(".:")


def cli_help() -> dict[str, str]:
    """``rmt-alpha --help`` and ``rmt-alpha COMMAND --help``, at a fixed width."""
    from rmt_alpha import cli

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        parser = cli.build_parser()
        texts = {"rmt-alpha": parser.format_help()}
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    texts[f"rmt-alpha {name}"] = sub.format_help()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    return texts


def own_names(module) -> list[str]:
    """A module's public names: its ``__all__``, else what it defines (not what it imports)."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, obj in vars(module).items() if not name.startswith("_")
            and getattr(obj, "__module__", None) == module.__name__]


def api_markdown() -> str:
    import rmt_alpha

    groups: dict[str, list[str]] = {}
    modules = []
    for name in rmt_alpha.__all__:
        obj = getattr(rmt_alpha, name)
        if inspect.ismodule(obj):
            modules.append(name)
        else:
            groups.setdefault(obj.__module__, []).append(name)
    out = [
        "# API reference\n",
        "Generated from the docstrings of every public name: `rmt_alpha.__all__` (grouped by "
        "the module that defines it), the public modules, and the command line. Docstrings "
        "cite the sections of the [theory](THEORY.md).\n",
        importlib.import_module("rmt_alpha._typing").__doc__.split("\n\n")[0].strip() + "\n",
    ]
    for module, names in groups.items():
        out.append(f"## {_first_sentence(importlib.import_module(module).__doc__)}\n")
        out += [f"::: rmt_alpha.{name}\n" for name in names]
    for name in modules:
        out.append(f"## `rmt_alpha.{name}`\n")
        out.append(f"::: rmt_alpha.{name}\n    options:\n      show_root_heading: false\n"
                   f"      members: {json.dumps(own_names(getattr(rmt_alpha, name)))}\n")
    out.append("## Command line\n")
    out.append("`rmt-alpha` (also `python -m rmt_alpha`) is installed with the package. Bad "
               "arguments exit with status 2 and a message naming the argument.\n")
    for command, text in cli_help().items():
        out.append(f"### `{command}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(out)


def gallery_markdown() -> str:
    out = [
        "# Gallery\n",
        "Every notebook in `notebooks/`, executed when the site was built at its CI size "
        "(`RMT_ALPHA_CI=1`: fewer trials and points, so these figures are noisier than those in "
        "`figures/`). Each one describes its setting, computes, plots and prints its "
        "theory-vs-simulation table. For the full size, download a notebook from its page and "
        "run it with `RMT_ALPHA_CI=0`, or run them all: "
        "`RMT_ALPHA_CI=0 python -m pytest tests/test_docs.py -k notebook`.\n",
    ]
    for path in notebooks():
        out.append(f"## [{notebook_title(path)}](notebooks/{path.name})\n")
        out.append(notebook_summary(path) + "\n")
    return "\n".join(out)


# --------------------------------------------------------------------------- events


def on_config(config):
    """The navigation, with the theory pages and the gallery discovered from the repository."""
    theory = theory_pages()
    gallery = ["gallery.md"] + [{notebook_title(p): f"notebooks/{p.name}"} for p in notebooks()]
    config["nav"] = [
        {"Home": "index.md"},
        {"Getting started": "getting-started.md"},
        {"Theory": theory[0] if len(theory) == 1 else theory},
        {"API reference": "api.md"},
        {"Gallery": gallery},
        *({title: path} for path, title in FIXED_PAGES.items() if path != "CHANGELOG.md"),
        {"How to cite": "cite.md"},
        {"Changelog": "CHANGELOG.md"},
        {"Contributing to the docs": "contributing.md"},
    ]
    return config


@event_priority(100)  # before mkdocs-jupyter turns the notebooks into pages
def on_files(files, config):
    def add(rel: str, src_dir: Path) -> None:
        files.append(File(rel, src_dir=str(src_dir), dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))

    for rel in theory_pages() + list(FIXED_PAGES):
        if not (ROOT / rel).is_file():
            raise PluginError(f"{rel} is missing")
        add(rel, ROOT)
    for pattern in IMAGES:
        for path in sorted(ROOT.glob(pattern)):
            add(path.relative_to(ROOT).as_posix(), ROOT)
    executed = _executed_dir()
    for path in notebooks():
        add(f"notebooks/{path.name}", executed)
    files.append(File.generated(config, "api.md", content=api_markdown()))
    files.append(File.generated(config, "gallery.md", content=gallery_markdown()))
    return files


_ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|exc):<code>~?([^<]+)</code>")
_CDN_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>")
_MATHJAX_CONFIG = re.compile(r"<!-- MathJax configuration -->\s*<script[^>]*>.*?</script>",
                             re.S)


def _resolve_roles(content: str, page) -> str:
    """Sphinx-style roles of the docstrings (``:func:`name```) as links to the API page."""
    ids = set(re.findall(r'id="([^"]+)"', content))

    def link(match: re.Match) -> str:
        name = match.group(1)
        short = name.rsplit(".", 1)[-1]
        candidates = [name, f"rmt_alpha.{name}"]
        for target in candidates:
            if target in ids:
                return f'<a href="#{target}"><code>{short}</code></a>'
        suffix = [i for i in ids if i.endswith("." + name)]
        if len(suffix) == 1:
            return f'<a href="#{suffix[0]}"><code>{short}</code></a>'
        private = any(part.startswith("_") for part in name.split("."))
        external = name.split(".")[0] in {"numpy", "jax", "matplotlib", "scipy", "sklearn"}
        if not (private or external):
            log.warning("%s: the reference %r is to nothing on the page", page.file.src_uri, name)
        return f"<code>{html.escape(short if external else name)}</code>"

    return _ROLE.sub(link, content)


WIDE_PAGES = ("figures/VALIDATION.md", "benchmarks/README.md")  # wide tables: no side contents


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri in WIDE_PAGES:
        page.meta.setdefault("hide", ["toc"])
    return markdown


def on_page_content(content, page, config, files):
    if page.file.src_uri.endswith(".ipynb"):
        # no formulas need MathJax (they are MathML), and the site loads nothing from the web
        content = _CDN_SCRIPT.sub("", _MATHJAX_CONFIG.sub("", content))
    if page.file.src_uri == "api.md":
        content = _resolve_roles(content, page)
    if page.file.src_uri in WIDE_PAGES:
        content = f'<div class="wide-tables">{content}</div>'  # see css/extra.css
    try:
        return unicode_math.typeset_html(content)
    except ValueError as exc:
        raise PluginError(f"{page.file.src_uri}: {exc}") from exc


def on_post_build(config):
    tmp = _state.pop("tmp", None)
    if tmp is not None:
        tmp.cleanup()
