"""Issue 9, class 6: every user error on the command line exits with status 2 and a
one-line message, never a traceback.

Cases found: ``optimal-alpha --gamma 1e300`` blamed an ``--alpha`` flag the command does
not have (the nan alpha* reached test_accuracy); argparse errors printed the usage block
before the message; an output path that cannot be written (``--out`` in a missing
read-only place, or a directory) ended in an OSError traceback, after the work was done; a
Monte Carlo that cannot fit in memory died with RESOURCE_EXHAUSTED; a huge ``--alpha``
grid raised MemoryError; Ctrl-C printed a KeyboardInterrupt traceback; piping into
``head`` printed a BrokenPipeError.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr

import pytest
from test_cli import run

from rmt_alpha import cli

RIDGE = ["--n", "100", "--p", "400", "--N", "2000", "--mu", "1.5", "--mu-orth", "1",
         "--beta", "0.8", "--gamma", "1", "--gamma-src", "1"]
FIXED = ["--n", "40", "--p", "400", "--gamma", "1", "--target-norm2", "1",
         "--alignment", "0.5", "--source-norm2", "1"]


def _set(args, flag, value):
    args = list(args)
    args[args.index(flag) + 1] = value
    return args


def one_line_error(code, err, flag=None):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "error:" in lines[0] and "Traceback" not in err
    if flag:
        assert f"argument {flag}:" in lines[0], lines[0]
    return lines[0]


BAD = [
    (["optimal-alpha", *_set(RIDGE, "--gamma", "1e300")], "--gamma"),
    (["optimal-alpha", *_set(RIDGE, "--gamma", "1e-300")], "--gamma"),
    (["optimal-alpha", *_set(RIDGE, "--mu", "1e80")], "--mu"),
    (["optimal-alpha", *_set(RIDGE, "--beta", "1e-200")], "--beta"),
    (["optimal-alpha", *_set(RIDGE, "--n", "100000000000000000000")], "--n"),
    (["optimal-alpha", *_set(FIXED, "--alignment", "1e-40")], "--alignment"),
    (["optimal-alpha", *_set(FIXED, "--source-norm2", "1e40")], "--source-norm2"),
    (["optimal-alpha", *RIDGE[:-2]], "--gamma-src"),
    (["optimal-alpha", "--json"], None),  # argparse: "the following arguments are required"
    (["curve", *RIDGE, "--alpha", "0:1:0"], "--alpha"),
    (["curve", *RIDGE, "--alpha", "0:1:100000000000"], "--alpha"),
    (["curve", *_set(RIDGE, "--p", "1"), "--simulate"], "--p"),
    (["curve", *RIDGE, "--simulate", "--seed", str(2**70)], "--seed"),
    (["curve", *RIDGE, "--simulate", "--trials", "1.5"], "--trials"),
    (["reproduce", "--figures", "0"], "--figures"),
    (["reproduce", "--unknown"], None),
    (["optimal-alpha", *RIDGE, "--alpha", "1"], None),
]


@pytest.mark.parametrize("argv,flag", BAD, ids=range(len(BAD)))
def test_user_errors_exit_2_with_one_line(argv, flag):
    code, out, err = run(*argv)
    line = one_line_error(code, err, flag)
    assert out == ""
    if argv[0] == "optimal-alpha":  # only flags the command has
        assert "--alpha:" not in line and "--trials" not in line and "--seed" not in line


def test_optimal_alpha_messages_name_only_its_own_flags():
    sub = cli.build_parser()._subparsers._group_actions[0].choices["optimal-alpha"]
    err = io.StringIO()
    with redirect_stderr(err), pytest.raises(SystemExit) as info:
        sub.fail(ValueError("alpha must be finite, got nan"))
    assert info.value.code == 2 and "--alpha" not in err.getvalue()
    with redirect_stderr(err), pytest.raises(SystemExit):
        sub.fail(ValueError("gamma_src must be > 0 and finite, got 0.0"))
    assert "argument --gamma-src: gamma_src must be" in err.getvalue()


def test_a_run_that_does_not_fit_in_memory_exits_2():
    argv = ["curve", *_set(RIDGE, "--p", "1000000"), "--simulate", "--method", "direct",
            "--trials", "10"]
    line = one_line_error(*run(*argv)[::2])
    assert "simulate(method='direct') must be within the memory" in line
    assert "method='reduced'" in line


@pytest.mark.parametrize("where", ["missing_parent_of_a_file", "directory", "read_only"])
def test_an_unwritable_output_exits_2_before_the_work(tmp_path, where):
    afile = tmp_path / "afile"
    afile.write_text("x")
    if where == "missing_parent_of_a_file":
        out = afile / "curve.csv"  # a file cannot be a folder
    elif where == "directory":
        out = tmp_path
    else:
        if os.geteuid() == 0:
            pytest.skip("root can write anywhere")
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        out = ro / "curve.csv"
    line = one_line_error(*run("curve", *FIXED, "--alpha", "0,1", "--out", str(out))[::2],
                          flag="--out")
    assert str(out) in line
    # reproduce checks its folder before drawing anything: a file is not a folder
    one_line_error(*run("reproduce", "--tiny", "--no-pdf", "--out", str(afile))[::2],
                   flag="--out")


def test_interrupt_exits_130_with_one_line(monkeypatch):
    def interrupted(parser, args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_optimal_alpha", interrupted)
    code, out, err = run("optimal-alpha", *RIDGE)
    assert code == 130 and err.strip() == "rmt-alpha: interrupted" and "Traceback" not in err


def test_closed_pipe_is_not_an_error():
    # `rmt-alpha curve ... | head -1`: stdout closes early; no BrokenPipeError traceback
    p = subprocess.Popen([sys.executable, "-m", "rmt_alpha", "curve", *FIXED, "--alpha",
                          "0:1:20000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    p.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
