"""bench/warm_start.py: its command lines, refused options and failure handling (no loop is run)."""
import argparse
import subprocess
import sys

import pytest

from .conftest import ROOT
from .helpers.bench import bench_module

warm_start = bench_module("warm_start")


@pytest.mark.parametrize("args,expected", [(["--jobs", "0"], "--jobs must be 1 or more"),
                                           (["--seed", "1"], "--seed: set by this script"),
                                           (["--loop.warm_start", "true"], "--loop.warm_start: set by this script")])
def test_refuses_options_that_would_change_the_folders_it_reads(args, expected):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "warm_start.py"), *args], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 2 and expected in proc.stderr


def test_runs_every_arm_with_extra_options_and_reports_every_failure(tmp_path, monkeypatch):
    calls = []

    def fake_run(args, env=None, stdout=None, stderr=None):
        calls.append((args, env["OMP_NUM_THREADS"], stdout is not None))
        return subprocess.CompletedProcess(args, 1 if "--loop.warm_start" in args else 0)

    monkeypatch.setattr(warm_start.subprocess, "run", fake_run)
    opts = argparse.Namespace(lang="zul", seeds=[0, 1], learner_config="configs/learner-cnn.cfg", gpu_id=-1,
                              rounds=1, out=tmp_path, jobs=2)
    with pytest.raises(SystemExit) as err:
        warm_start.run_all(opts, ["--learner.training.max_steps", "10"])
    assert len(calls) == 4  # the failing warm arms do not stop the others
    assert all(args[-2:] != ["--loop.warm_start", "false"] and "10" in args and threads == "1" and logged
               for args, threads, logged in calls)
    message = str(err.value)
    assert message.count("--loop.warm_start true") == 2 and "zul-gold-entropy-warm-seed1.log" in message
