"""The rmt-alpha command line: output against the library, errors, help, reproduce."""

import csv
import io
import json
import re
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest

import rmt_alpha as ra
from rmt_alpha import cli

RIDGE = dict(N=2000, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)
RIDGE_ARGS = ["--n", "100", "--p", "400", "--N", "2000", "--mu", "1.5", "--mu-orth", "1",
              "--beta", "0.8", "--gamma", "1", "--gamma-src", "1"]
FIXED = dict(gamma=1.0, target_norm2=1.0, alignment=0.5, source_norm2=1.0)
FIXED_ARGS = ["--n", "40", "--p", "400", "--gamma", "1", "--target-norm2", "1",
              "--alignment", "0.5", "--source-norm2", "1"]


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------- optimal-alpha


def test_optimal_alpha_json_matches_library():
    code, out, _ = run("optimal-alpha", *RIDGE_ARGS, "--json")
    assert code == 0
    d = json.loads(out)
    a_star = ra.optimal_alpha(100, 400, **RIDGE)
    assert d["optimal_alpha"] == pytest.approx(a_star, rel=1e-14)
    assert d["chance_alpha"] == pytest.approx(ra.chance_alpha(100, 400, **RIDGE), rel=1e-14)
    assert d["accuracy_at_optimal"] == pytest.approx(ra.test_accuracy(a_star, 100, 400, **RIDGE), rel=1e-14)
    assert d["accuracy_at_1"] == pytest.approx(ra.test_accuracy(1.0, 100, 400, **RIDGE), rel=1e-14)
    assert d["accuracy_at_0"] == pytest.approx(ra.test_accuracy(0.0, 100, 400, **RIDGE), rel=1e-14)
    assert d["source_accuracy"] == pytest.approx(
        ra.source_accuracy(400, N=2000, mu=1.5, beta=0.8, gamma_src=1.0), rel=1e-14)
    assert d["task"] == dict(n=100, p=400, **RIDGE)
    assert d["optimal_alpha"] == pytest.approx(1.7105, abs=1e-4)  # THEORY §7


def test_optimal_alpha_text():
    code, out, _ = run("optimal-alpha", *RIDGE_ARGS)
    assert code == 0
    assert re.search(r"alpha\*\s+= 1\.7105\b", out)
    assert "alpha_bar" in out and "alpha = 1" in out and "alpha = 0" in out
    acc1 = float(ra.test_accuracy(1.0, 100, 400, **RIDGE))
    assert f"{acc1:.6f}" in out


def test_optimal_alpha_fixed_source():
    code, out, _ = run("optimal-alpha", *FIXED_ARGS, "--json")
    assert code == 0
    d = json.loads(out)
    assert d["keyword_set"] == "fixed source"
    assert d["optimal_alpha"] == pytest.approx(ra.optimal_alpha(40, 400, **FIXED), rel=1e-14)
    assert d["accuracy_at_1"] == pytest.approx(ra.test_accuracy(1.0, 40, 400, **FIXED), rel=1e-14)
    assert "source_accuracy" not in d


def test_orthogonal_source_has_no_chance_alpha():
    args = [a if a != "0.5" else "0" for a in FIXED_ARGS]
    code, out, _ = run("optimal-alpha", *args, "--json")
    assert code == 0
    d = json.loads(out)  # valid JSON: no NaN
    assert d["chance_alpha"] is None and d["optimal_alpha"] == 0.0
    code, out, _ = run("optimal-alpha", *args)
    assert "undefined" in out


def test_negative_values_are_accepted():
    args = [a if a != "0.8" else "-0.8" for a in RIDGE_ARGS]
    code, out, _ = run("optimal-alpha", *args, "--json")
    assert code == 0
    assert json.loads(out)["optimal_alpha"] == pytest.approx(
        ra.optimal_alpha(100, 400, **{**RIDGE, "beta": -0.8}), rel=1e-14)


# ---------------------------------------------------------------- optimal-alpha --tune-gamma

TUNED = {k: v for k, v in RIDGE.items() if k != "gamma"}
TUNED_ARGS = RIDGE_ARGS[:RIDGE_ARGS.index("--gamma")] + RIDGE_ARGS[RIDGE_ARGS.index("--gamma") + 2:]


def test_tune_gamma_json_matches_library():
    code, out, _ = run("optimal-alpha", *TUNED_ARGS, "--tune-gamma", "--json")
    assert code == 0
    d = json.loads(out)
    res = ra.optimal_alpha_gamma(100, 400, **TUNED)
    assert d["gamma"] == "inf" and d["gamma_no_transfer"] == "inf"  # JSON has no infinity
    for k in ("alpha", "alpha_gamma", "accuracy", "gamma_fine_tuning", "accuracy_fine_tuning",
              "accuracy_no_transfer"):
        assert d[k] == pytest.approx(float(getattr(res, k)), rel=1e-14), k
    assert d["task"] == dict(n=100, p=400, **TUNED) and d["gamma_range"] == [0.0, "inf"]
    # THEORY §12: the joint optimum is the limit gamma -> inf with alpha gamma = eta s / d
    assert d["accuracy"] > d["accuracy_fine_tuning"] and d["accuracy"] > d["accuracy_no_transfer"]


def test_tune_gamma_text_and_bounds():
    code, out, _ = run("optimal-alpha", *TUNED_ARGS, "--tune-gamma", "--gamma-min", "0.01",
                       "--gamma-max", "100")
    assert code == 0
    res = ra.optimal_alpha_gamma(100, 400, **TUNED, gamma_min=0.01, gamma_max=100.0)
    assert res.gamma == 100.0
    assert f"{res.accuracy:.6f}" in out and f"{res.accuracy_fine_tuning:.6f}" in out
    assert f"{res.accuracy_no_transfer:.6f}" in out and "[0.01, 100]" in out
    fixed = {k: v for k, v in FIXED.items() if k != "gamma"}
    args = FIXED_ARGS[:4] + FIXED_ARGS[6:]
    code, out, _ = run("optimal-alpha", *args, "--tune-gamma", "--json")
    assert code == 0 and json.loads(out)["keyword_set"] == "fixed source"
    assert json.loads(out)["accuracy"] == pytest.approx(
        float(ra.optimal_alpha_gamma(40, 400, **fixed).accuracy), rel=1e-14)


@pytest.mark.parametrize("argv, flag", [
    ([*RIDGE_ARGS, "--tune-gamma"], "--gamma"),
    ([*TUNED_ARGS[:-2], "--tune-gamma"], "--gamma-src"),
    ([*TUNED_ARGS, "--tune-gamma", "--gamma-max", "-3"], "--gamma-max"),
    ([*TUNED_ARGS, "--tune-gamma", "--gamma-min", "-1"], "--gamma-min"),
    ([*TUNED_ARGS, "--tune-gamma", "--gamma-min", "5", "--gamma-max", "2"], "--gamma-max"),
    ([*RIDGE_ARGS, "--gamma-min", "1"], "--gamma-min"),
])
def test_tune_gamma_bad_arguments_exit_2(argv, flag):
    code, _, err = run("optimal-alpha", *argv)
    assert code == 2
    assert "error:" in err and flag in err.split("error:")[1], err


# ---------------------------------------------------------------- curve


def _csv(text):
    rows = list(csv.DictReader(io.StringIO(text)))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def test_curve_stdout_matches_library():
    code, out, _ = run("curve", *RIDGE_ARGS, "--alpha", "-2:6:101")
    assert code == 0
    c = _csv(out)
    np.testing.assert_allclose(c["alpha"], np.linspace(-2, 6, 101), rtol=0, atol=1e-12)
    np.testing.assert_allclose(c["accuracy"], ra.test_accuracy(c["alpha"], 100, 400, **RIDGE), rtol=1e-9)
    m, e2 = ra.score_moments(c["alpha"], 100, 400, **RIDGE)
    np.testing.assert_allclose(c["score_mean"], m, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c["score_second_moment"], e2, rtol=1e-9)


def test_curve_file_and_list(tmp_path):
    path = tmp_path / "sub" / "curve.csv"
    code, _, err = run("curve", *FIXED_ARGS, "--alpha", "0,0.5,1", "--out", str(path))
    assert code == 0 and "3 rows" in err
    c = _csv(path.read_text())
    np.testing.assert_allclose(c["alpha"], [0, 0.5, 1])
    np.testing.assert_allclose(c["accuracy"], ra.test_accuracy([0, 0.5, 1], 40, 400, **FIXED), rtol=1e-9)


def test_curve_simulate(tmp_path):
    path = tmp_path / "sim.csv"
    args = ["--n", "20", "--p", "40", "--N", "80", "--mu", "1.5", "--mu-orth", "1", "--beta", "0.8",
            "--gamma", "1", "--gamma-src", "1"]
    code, _, _ = run("curve", *args, "--alpha", "-1:3:5", "--simulate", "--trials", "40",
                     "--seed", "3", "--out", str(path))
    assert code == 0
    c = _csv(path.read_text())
    for k in ("accuracy_sim", "accuracy_sim_stderr", "accuracy_z", "score_mean_sim"):
        assert k in c and np.all(np.isfinite(c[k]))
    res = ra.simulate(np.linspace(-1, 3, 5), 20, 40, N=80, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0,
                      gamma_src=1.0, trials=40, seed=3)
    np.testing.assert_allclose(c["accuracy_sim"], res.accuracy, rtol=1e-9)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("argv, flag", [
    (["optimal-alpha", "--n", "0", *RIDGE_ARGS[2:]], "--n"),
    (["optimal-alpha", "--n", "ten", *RIDGE_ARGS[2:]], "--n"),
    (["optimal-alpha", *[a if a != "0.8" else "1.5" for a in RIDGE_ARGS]], "--beta"),
    (["optimal-alpha", *[a if a != "1.5" else "-1" for a in RIDGE_ARGS]], "--mu"),
    (["optimal-alpha", *RIDGE_ARGS[:-1], "0"], "--gamma-src"),
    (["optimal-alpha", *RIDGE_ARGS[:-1], "nan"], "--gamma-src"),
    (["optimal-alpha", *RIDGE_ARGS[:-2]], "--gamma-src"),
    (["optimal-alpha", *RIDGE_ARGS, "--alignment", "0.5"], "--alignment"),
    (["optimal-alpha", *[a if a != "0.5" else "2" for a in FIXED_ARGS]], "--alignment"),
    (["optimal-alpha", *FIXED_ARGS[:4]], "--target-norm2"),
    (["curve", *RIDGE_ARGS, "--alpha", "1:2"], "--alpha"),
    (["curve", *RIDGE_ARGS, "--alpha", "1:2:0"], "--alpha"),
    (["curve", *RIDGE_ARGS, "--alpha", "a,b"], "--alpha"),
    (["curve", *RIDGE_ARGS, "--simulate", "--trials", "0"], "--trials"),
    (["curve", *RIDGE_ARGS, "--method", "magic"], "--method"),
    (["reproduce", "--trials", "-3"], "--trials"),
    (["reproduce", "--figures", "99"], "--figures"),
    (["frobnicate"], "COMMAND"),
    ([], "COMMAND"),
])
def test_bad_arguments_exit_2_naming_the_argument(argv, flag):
    code, out, err = run(*argv)
    assert code == 2
    assert "error:" in err and flag in err.split("error:")[1], err


@pytest.mark.parametrize("sub", [[], ["reproduce"], ["optimal-alpha"], ["curve"]])
def test_help(sub):
    code, out, _ = run(*sub, "--help")
    assert code == 0 and "usage: rmt-alpha" in out


def test_alpha_grid_parser():
    np.testing.assert_allclose(cli.alpha_grid("-2:6:101"), np.linspace(-2, 6, 101))
    np.testing.assert_allclose(cli.alpha_grid("1.5"), [1.5])
    np.testing.assert_allclose(cli.alpha_grid("-1,0,2"), [-1, 0, 2])


def test_python_dash_m():
    r = subprocess.run([sys.executable, "-m", "rmt_alpha", "--help"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "reproduce" in r.stdout and "optimal-alpha" in r.stdout
    r = subprocess.run([sys.executable, "-m", "rmt_alpha", "optimal-alpha", "--n", "1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--p" in r.stderr


# ---------------------------------------------------------------- reproduce


def test_reproduce_quick_tiny(tmp_path):
    """Every figure is drawn and saved, with CSV, JSON and VALIDATION.md (smallest run)."""
    out = tmp_path / "figs"
    code, stdout, _ = run("reproduce", "--tiny", "--out", str(out), "--no-pdf", "--no-progress")
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    stems = sorted({n.rsplit(".", 1)[0] for n in names if n != "VALIDATION.md"})
    from rmt_alpha.experiments import FIGURES

    assert len(stems) == len(FIGURES)
    for stem in stems:
        for ext in ("png", "csv", "json"):
            assert (out / f"{stem}.{ext}").stat().st_size > 0, (stem, ext)
        meta = json.loads((out / f"{stem}.json").read_text())
        assert meta["params"]["run"]["mode"] == "tiny"
    report = (out / "VALIDATION.md").read_text()
    for k in FIGURES:
        assert f"| {k} |" in report
    assert "theory only" in report
    assert "max |z|" in stdout


def test_finite_size_check_plumbing():
    """The finite-size re-run of a worst point and its VALIDATION.md section (smallest size;
    reuses the programs compiled by the tiny reproduce run)."""
    import jax

    from rmt_alpha import experiments

    jax.config.update("jax_enable_x64", True)
    d = experiments.figure7(trials=10, sim_points=1)
    c = d.checks[0]
    rows = experiments.finite_size_check(d, c, scales=(1,), trials=10)
    (r,) = rows
    w = c["worst_point"]
    assert (r["p"], r["n"], r["N"]) == (100, 200, 1000)
    assert r["theory"] == pytest.approx(
        ra.test_accuracy(w["alpha"], 200, 100, N=1000, mu=1.0, mu_orth=1.5, beta=0.3,
                         gamma=w["gamma"], gamma_src=1.0), rel=1e-12)
    assert r["gap_times_p"] == pytest.approx(r["gap"] * 100)
    c["finite_size"] = rows
    report = experiments.validation_markdown([d])
    assert "Finite-size check" in report and "| 100 | 200 | 1000 | 10 |" in report
