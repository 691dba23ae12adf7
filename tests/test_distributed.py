"""Monte Carlo under ``jax.distributed``: two local CPU processes, one device each.

Each process runs the same calls; the trials of every chunk are split over the two
processes' devices, and every process must get the whole result, equal to a one-process
run with the same seed (to rounding: the chunk sums are reduced in another order). The
processes talk through JAX's CPU collectives (gloo) on 127.0.0.1; every wait is bounded
(coordinator start-up, heartbeats, shut-down, and the subprocesses themselves), so a
broken set-up fails the test instead of hanging it.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from test_simulate import _ENV_FLAG, _shard_case

_WORKER = textwrap.dedent(
    """
    import json, sys
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.config.update("jax_enable_x64", True)
    jax.distributed.initialize(coordinator_address="127.0.0.1:" + sys.argv[1], num_processes=2,
                               process_id=int(sys.argv[2]), initialization_timeout=90,
                               heartbeat_timeout_seconds=60, shutdown_timeout_seconds=30)
    sys.path.insert(0, {tests!r})
    from test_simulate import _shard_case
    out = _shard_case()
    out.update(processes=jax.process_count(), local=len(jax.local_devices()))
    print(json.dumps(out), flush=True)
    jax.distributed.shutdown()
    """
).format(tests=os.path.dirname(os.path.abspath(__file__)))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_two_processes(timeout=420):
    port = str(_free_port())
    env = dict(os.environ, XLA_FLAGS=_ENV_FLAG, JAX_PLATFORMS="cpu")
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, port, str(i)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, stderr[-3000:]
            outs.append(json.loads(stdout.splitlines()[-1]))
    finally:
        for proc in procs:  # never leave a worker behind (a failed peer blocks the other)
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return outs


@pytest.mark.timeout(600)
def test_two_processes_give_the_one_process_result():
    first, second = _run_two_processes()
    one = _shard_case()
    assert first["processes"] == second["processes"] == 2
    assert first["devices"] == second["devices"] == 2 and first["local"] == 1
    for k in one:
        if k == "devices":
            continue
        assert first[k] == second[k], k  # every process holds the same result
        np.testing.assert_allclose(first[k], one[k], rtol=1e-12, atol=0, err_msg=k)
