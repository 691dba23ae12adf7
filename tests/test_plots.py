"""rmt_alpha.plots: every helper draws one panel, on a given axis or a new figure, headless."""

import io
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

import rmt_alpha as ra
from rmt_alpha import experiments, plots

TASK = dict(N=2000, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)


def _given_axis():
    fig = Figure()
    return fig, fig.add_subplot()


def _check(result, fig=None, ax=None):
    assert isinstance(result, tuple) and len(result) == 2
    f, a = result
    assert isinstance(f, Figure)
    if ax is not None:
        assert a is ax and f is fig
    assert a.has_data()
    f.savefig(io.BytesIO(), format="png", dpi=30)
    return f, a


def _helpers():
    alpha = np.linspace(-2, 6, 81)
    acc = ra.test_accuracy(alpha, 100, 400, **TASK)
    a_star = float(ra.optimal_alpha(100, 400, **TASK))
    a_bar = float(ra.chance_alpha(100, 400, **TASK))
    sim_a = alpha[::10]
    sim_y = acc[::10] + 0.001
    g = np.logspace(-4, 3, 8)
    gs = np.logspace(-4, 0, 5)
    heat = ra.optimal_alpha(40, 400, N=2000, mu=1, mu_orth=1, beta=0.5, gamma=g[:, None],
                            gamma_src=gs[None, :])
    m, e2 = ra.score_moments(1.0, 100, 400, **TASK)
    rng = np.random.default_rng(0)
    sd = np.sqrt(e2 - m * m)
    Ws, Wt = experiments.regression_weights(10, 40, 0.5)
    risk = ra.regression_risk(alpha, 20, 40, W_source=Ws, W_target=Wt, sigma=0.5, gamma=0.01)
    return {
        "accuracy_vs_alpha": lambda ax: plots.accuracy_vs_alpha(
            alpha, acc, optimal_alpha=a_star, chance_alpha=a_bar, sim_alpha=sim_a,
            sim_accuracy=sim_y, sim_stderr=np.full(sim_a.size, 0.002), label="x", ax=ax),
        "optimal_alpha_curve": lambda ax: plots.optimal_alpha_curve(
            np.linspace(0, 1, 11), ra.optimal_alpha(100, 400, **{**TASK, "beta": np.linspace(0, 1, 11)}),
            xlabel=r"$\beta$", sim_x=[0.5], sim_alpha=[0.7], sim_stderr=[0.05], ax=ax),
        "optimal_alpha_heatmap": lambda ax: plots.optimal_alpha_heatmap(g, gs, heat, ax=ax),
        "score_histogram": lambda ax: plots.score_histogram(
            rng.normal(m, sd, 2000), rng.normal(-m, sd, 2000), mean=m, second_moment=e2, ax=ax),
        "risk_vs_alpha": lambda ax: plots.risk_vs_alpha(
            alpha, risk, optimal_alpha=0.5, sim_alpha=alpha[::10], sim_risk=risk[::10] * 1.01,
            sim_stderr=risk[::10] * 0.01, ax=ax),
        "theory_and_simulation": lambda ax: plots.theory_and_simulation(
            g, g ** 0.5, sim_x=g[::2], sim_y=g[::2] ** 0.5, sim_stderr=0.1 * g[::2], logx=True, ax=ax),
    }


@pytest.mark.parametrize("name", sorted(_helpers()))
def test_helper_draws_on_given_axis(name):
    fig, ax = _given_axis()
    _check(_helpers()[name](ax), fig, ax)


@pytest.mark.parametrize("name", sorted(_helpers()))
def test_helper_makes_new_figure(name):
    fig, ax = _check(_helpers()[name](None))
    assert ax in fig.axes


def test_accuracy_marks_alpha_star_bar_and_references_once():
    fig, ax = _given_axis()
    alpha = np.linspace(-2, 6, 81)
    for beta in (0.5, 0.8):
        task = {**TASK, "beta": beta}
        plots.accuracy_vs_alpha(alpha, ra.test_accuracy(alpha, 100, 400, **task),
                                optimal_alpha=float(ra.optimal_alpha(100, 400, **task)),
                                chance_alpha=float(ra.chance_alpha(100, 400, **task)), ax=ax)
    gids = [l.get_gid() for l in ax.lines]
    assert gids.count("rmt_alpha_reference") == 3  # alpha = 0, alpha = 1, accuracy 1/2
    assert gids.count("rmt_alpha_star") == 2 and gids.count("rmt_alpha_bar") == 2
    labels = ax.get_legend_handles_labels()[1]
    assert labels.count(r"$\alpha^*$") == 1


def test_heatmap_shape_is_checked():
    with pytest.raises(ValueError, match="shape"):
        plots.optimal_alpha_heatmap([1, 2], [1, 2, 3], np.ones((3, 2)))


def test_render_every_figure_without_simulation(tmp_path):
    for k, f in experiments.FIGURES.items():
        kw = {"simulate": False} if k in experiments.SIMULATED else {}
        if k == 5:
            kw.update(gamma_points=6, gamma_src_points=5)
        data = f(**kw)
        fig = plots.render(data)
        fig.savefig(tmp_path / f"{data.name}.png", dpi=40)
        plots.close(fig)
        assert (tmp_path / f"{data.name}.png").stat().st_size > 1000


def test_headless_no_pyplot_no_usetex():
    code = (
        "import sys; import rmt_alpha; assert 'matplotlib' not in sys.modules;"
        "from rmt_alpha import plots, experiments;"
        "fig, ax = plots.accuracy_vs_alpha([0, 1], [0.6, 0.7]);"
        "import io; fig.savefig(io.BytesIO(), format='png');"
        "import matplotlib; assert not matplotlib.rcParams['text.usetex'];"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"MPLBACKEND": "Agg",
                   **{k: v for k, v in __import__("os").environ.items() if k != "DISPLAY"}})
