"""Release artifacts: CITATION.cff, the single-sourced version, type hints, sdist and wheel.

The wheel test builds the sdist and, from it, the wheel (offline: ``--no-isolation`` uses the
installed setuptools), runs ``twine check``, installs the wheel into a fresh virtual environment
with ``pip --no-index --no-deps`` (dependencies come from the system site-packages) and runs
``rmt-alpha optimal-alpha`` from that environment in an empty folder, without PYTHONPATH: a
module, data file or entry point missing from the wheel fails here.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

import rmt_alpha

ROOT = Path(__file__).resolve().parent.parent

# The Citation File Format 1.2.0 as a JSON schema: the keys and rules of its specification
# (required keys, persons and entities, reference types, DOI and URL patterns, identifiers),
# for the subset of the format a package's citation file uses.
_PERSON = {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "properties": {k: {"type": "string", "minLength": 1} for k in (
        "address", "affiliation", "alias", "city", "country", "email", "family-names", "fax",
        "given-names", "name-particle", "name-suffix", "orcid", "post-code", "region", "tel",
        "website")},
}
_ENTITY = {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "properties": {k: {"type": "string", "minLength": 1} for k in (
        "address", "alias", "city", "country", "date-end", "date-start", "email", "fax",
        "location", "name", "orcid", "post-code", "region", "tel", "website")},
}
_AUTHORS = {"type": "array", "minItems": 1, "items": {"oneOf": [
    {**_PERSON, "not": {"required": ["name"]}}, _ENTITY]}}
_DOI = {"type": "string", "pattern": r"^10\.\d{4,9}(\.\d+)?/[A-Za-z0-9:/_;\-\.\(\)\[\]\\]+$"}
_URL = {"type": "string", "pattern": r"^(https|http|ftp|sftp)://.+"}
_IDENTIFIERS = {"type": "array", "minItems": 1, "items": {
    "type": "object", "additionalProperties": False, "required": ["type", "value"],
    "properties": {"type": {"enum": ["doi", "url", "swh", "other"]},
                   "value": {"type": "string", "minLength": 1},
                   "description": {"type": "string", "minLength": 1}}}}
_KEYWORDS = {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}
_REFERENCE_TYPES = [
    "art", "article", "audiovisual", "bill", "blog", "book", "catalogue", "conference-paper",
    "conference", "data", "database", "dictionary", "edited-work", "encyclopedia",
    "film-broadcast", "generic", "government-document", "grant", "hearing", "historical-work",
    "legal-case", "legal-rule", "magazine-article", "manual", "map", "multimedia", "music",
    "newspaper-article", "pamphlet", "patent", "personal-communication", "proceedings", "report",
    "serial", "slides", "software-code", "software-container", "software-executable",
    "software-virtual-machine", "software", "sound-recording", "standard", "statute", "thesis",
    "unpublished", "video", "website"]
CFF_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["authors", "cff-version", "message", "title"],
    "properties": {
        "cff-version": {"const": "1.2.0"},
        "message": {"type": "string", "minLength": 1},
        "title": {"type": "string", "minLength": 1},
        "abstract": {"type": "string", "minLength": 1},
        "authors": _AUTHORS,
        "contact": _AUTHORS,
        "type": {"enum": ["software", "dataset"]},
        "license": {"type": "string", "pattern": r"^[A-Za-z0-9.+-]+$"},
        "keywords": _KEYWORDS,
        "doi": _DOI, "url": _URL, "repository-code": _URL, "repository": _URL,
        "identifiers": _IDENTIFIERS,
        "version": {"type": ["string", "number"]},
        "date-released": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "preferred-citation": {
            "type": "object",
            "required": ["authors", "title", "type"],
            "properties": {
                "type": {"enum": _REFERENCE_TYPES},
                "title": {"type": "string", "minLength": 1},
                "authors": _AUTHORS,
                "year": {"type": "integer"},
                "month": {"type": "integer", "minimum": 1, "maximum": 12},
                "journal": {"type": "string", "minLength": 1},
                "doi": _DOI, "url": _URL, "identifiers": _IDENTIFIERS, "keywords": _KEYWORDS,
            },
        },
    },
}


def test_citation_file_is_valid_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    jsonschema.validate(cff, CFF_SCHEMA)
    paper = cff["preferred-citation"]
    assert paper["doi"] == "10.48550/arXiv.2510.21345"
    assert "LoRA" in paper["title"]
    assert "version" not in cff  # single-sourced: rmt_alpha.__version__


def test_the_schema_rejects_what_the_format_forbids():
    good = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    for broken in [
        {k: v for k, v in good.items() if k != "message"},
        {**good, "cff-version": "1.1.0"},
        {**good, "authors": [{"given-names": "A", "surname": "B"}]},
        {**good, "preferred-citation": {**good["preferred-citation"], "type": "preprint"}},
        {**good, "preferred-citation": {**good["preferred-citation"],
                                        "doi": "https://doi.org/10.48550/arXiv.2510.21345"}},
        {**good, "licence": "MIT"},
    ]:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, CFF_SCHEMA)


def test_readme_and_site_say_how_to_cite():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How to cite", 1)[1]
    assert "2510.21345" in section and "rmt_alpha" in section
    assert '--8<-- "README.md:cite"' in (ROOT / "docs/pages/cite.md").read_text(encoding="utf-8")


def test_version_is_single_sourced():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", rmt_alpha.__version__)
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## Unreleased" in changelog
    assert re.search(r"^## \d+\.\d+\.\d+", changelog, re.M)


def test_public_api_is_typed():
    assert (ROOT / "rmt_alpha" / "py.typed").is_file()
    untyped = []
    for name in rmt_alpha.__all__:
        obj = getattr(rmt_alpha, name)
        if inspect.ismodule(obj):
            continue
        functions = [(name, obj)] if inspect.isfunction(obj) else [
            (f"{name}.{m}", f) for m, f in vars(obj).items()
            if not m.startswith("_") and inspect.isfunction(f)]
        for label, f in functions:
            sig = inspect.signature(f)
            params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
            if sig.return_annotation is inspect.Signature.empty or any(
                    p.annotation is inspect.Parameter.empty for p in params):
                untyped.append(label)
    assert not untyped, f"missing type hints: {untyped}"


def _copy_sources(dest: Path) -> Path:
    ignore = shutil.ignore_patterns(".git", "build", "dist", "site", "*.egg-info", "__pycache__",
                                    ".pytest_cache", ".cache", ".venv")
    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


@pytest.mark.timeout(600)
def test_wheel_installs_and_runs_in_a_fresh_environment(tmp_path):
    src = _copy_sources(tmp_path / "src")
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--skip-dependency-check",
         "--outdir", str(dist), str(src)], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    wheels = list(dist.glob("*.whl"))
    sdists = list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    assert f"-{rmt_alpha.__version__}-" in wheels[0].name
    assert sdists[0].name.endswith(f"-{rmt_alpha.__version__}.tar.gz")

    names = zipfile.ZipFile(wheels[0]).namelist()
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "rmt_alpha").rglob("*.py")}
    assert modules <= set(names), modules - set(names)
    assert "rmt_alpha/py.typed" in names
    # the licence the metadata names travels with both artifacts
    assert any(n.endswith(".dist-info/LICENSE") or "/licenses/LICENSE" in n for n in names)
    with tarfile.open(sdists[0]) as tar:
        assert any(n.endswith("/LICENSE") for n in tar.getnames())
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "rmt-alpha = rmt_alpha.cli:main" in zipfile.ZipFile(wheels[0]).read(entry_points).decode()

    twine = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, wheels),
                            *map(str, sdists)], capture_output=True, text=True)
    assert twine.returncode == 0, twine.stdout + twine.stderr

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    install = subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index",
                              "--disable-pip-version-check", str(wheels[0])],
                             capture_output=True, text=True, env=env)
    assert install.returncode == 0, install.stdout + install.stderr

    work = tmp_path / "empty"
    work.mkdir()
    where = subprocess.run([python, "-c", "import rmt_alpha; print(rmt_alpha.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).resolve().is_relative_to(env_dir.resolve()), where.stdout

    run = subprocess.run(
        [bindir / "rmt-alpha", "optimal-alpha", "--n", "100", "--p", "400", "--N", "2000",
         "--mu", "1.5", "--mu-orth", "1", "--beta", "0.8", "--gamma", "1", "--gamma-src", "1",
         "--json"], cwd=work, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run.stdout)
    # the value of the README's example (THEORY §3-§4), from the installed wheel
    assert out["optimal_alpha"] == pytest.approx(rmt_alpha.optimal_alpha(
        100, 400, N=2000, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0), rel=1e-12)
    assert 1.70 < out["optimal_alpha"] < 1.72
