"""Reproducible numbers: the same run twice gives the same metrics; options reach the trained pipeline; one
process per run folder."""
import os
import subprocess
import time
from pathlib import Path

import pytest
import srsly
from thinc.api import Config

from .conftest import FAST_TRAINING, ROOT

HELPERS = Path(__file__).parent / "helpers" / "slow_annotator.py"
pytestmark = pytest.mark.slow
THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _loop_args(python, corpus, runs, *extra, annotator="gold"):
    """The loop's command line (``annotator=None``: the config's own annotator block)."""
    choice = ["--annotator", annotator] if annotator else []
    args = [python, "-m", "spacy_llm_loop", "loop", "--lang", "tsn", *choice, "--corpus", str(corpus), "--runs-dir",
            str(runs), "--rounds", "1", "--query-size", "24", "--seed-size", "48"]
    return args + [a for k, v in FAST_TRAINING.items() for a in (f"--learner.{k}", str(v))] + list(extra)


def _metrics(run: Path):
    """loop.json without what may differ between identical runs (timings, the environment)."""
    data = srsly.read_json(run / "loop.json")
    for record in data["rounds"]:
        record.pop("seconds")
        record.pop("environment")
        for split in ("dev", "test"):
            record[split].pop("seconds", None)
    return data


def test_same_loop_twice_identical_metrics_with_one_and_two_threads(small_corpus, tmp_path, python):
    runs = []
    for threads, hash_seed in (("1", "1"), ("2", "2")):
        env = {**os.environ, **{name: threads for name in THREADS}, "PYTHONHASHSEED": hash_seed}
        out = tmp_path / f"threads{threads}"
        proc = subprocess.run(_loop_args(python, small_corpus, out), env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        runs.append(out / "tsn-gold-entropy-seed0")
    first, second = (_metrics(run) for run in runs)
    assert first == second
    assert [r["test"]["ents_f"] for r in first["rounds"]] == [r["test"]["ents_f"] for r in second["rounds"]]
    # run.json and every round record say what the result depended on
    saved = srsly.read_json(runs[1] / "run.json")
    env = saved["environment"]
    assert env["thread_variables"]["OMP_NUM_THREADS"] == "2" and env["packages"]["spacy"] != "-"
    assert {"thinc", "blis", "numpy"} <= set(env["packages"]) and env["cpu"]["model"] is not None
    assert len(saved["learner_config_effective"]) == 16
    assert srsly.read_json(runs[1] / "loop.json")["rounds"][0]["environment"]["python"]


def test_train_full_keeps_its_schedule_options(small_corpus, tmp_path, python):
    """Every --training.* option reaches the trained pipeline (it was dropped: the baseline was undertrained)."""
    out = tmp_path / "full"
    proc = subprocess.run([python, "-m", "spacy_llm_loop", "train-full", "tsn", "--corpus", str(small_corpus),
                           "--output", str(out), "--training.max_steps", "60", "--training.patience", "50",
                           "--learner.training.eval_frequency", "20"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    training = Config().from_disk(out / "model" / "config.cfg", interpolate=False)["training"]
    assert (training["max_steps"], training["patience"], training["eval_frequency"]) == (60, 50, 20)
    metrics = srsly.read_json(out / "metrics.json")
    assert metrics["schedule"] == {"max_steps": 60, "patience": 50, "eval_frequency": 20}
    assert metrics["training"]["last_step"] <= 60 and metrics["training"]["stopped_by"] in ("max_steps", "patience")


def test_train_full_refuses_missing_pretrained_weights_before_training(small_corpus, tmp_path) -> None:
    """Weights never made: one line naming the file and the command that makes them (spaCy's own error, after the
    config is resolved, is a whole-config dump), and nothing is written."""
    from spacy_llm_loop.baselines import train_full
    from spacy_llm_loop.errors import LoopError

    weights = tmp_path / "pretrain" / "tsn-ner" / "weights" / "model-last.bin"
    with pytest.raises(LoopError, match=r"weights '.*model-last.bin' \(paths.init_tok2vec\) are not a file.*pretrain"):
        train_full(small_corpus, ROOT / "configs" / "learner-cnn.cfg", tmp_path / "full",
                   overrides={"paths.init_tok2vec": str(weights)})
    config = tmp_path / "learner.cfg"  # the same path set in the learner config file itself
    text = (ROOT / "configs" / "learner-cnn.cfg").read_text()
    assert "init_tok2vec = null" in text
    config.write_text(text.replace("init_tok2vec = null", f'init_tok2vec = "{weights}"', 1))
    with pytest.raises(LoopError, match="are not a file"):
        train_full(small_corpus, config, tmp_path / "full")
    assert not (tmp_path / "full").exists()


def test_loop_keeps_its_learner_options(small_corpus, tmp_path, python):
    proc = subprocess.run(_loop_args(python, small_corpus, tmp_path, "--rounds", "0", "--learner.training.dropout",
                                     "0.25"), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    model = tmp_path / "tsn-gold-entropy-seed0" / "round-00" / "model"
    training = Config().from_disk(model / "config.cfg", interpolate=False)["training"]
    assert training["dropout"] == 0.25 and training["max_steps"] == FAST_TRAINING["training.max_steps"]


def test_a_second_process_on_a_running_run_is_refused(small_corpus, tmp_path, python):
    cfg = tmp_path / "loop.cfg"
    text = (ROOT / "configs" / "loop.cfg").read_text()
    cfg.write_text(text[:text.index("[annotator]")] + '[annotator]\n@misc = "test.SlowLoggingGold.v1"\n'
                   'path = "${paths.corpus}/train.spacy"\ndelay = 0.2\n')
    env = {**os.environ, "SLOW_GOLD_LOG": str(tmp_path / "requests.log")}
    args = _loop_args(python, small_corpus, tmp_path / "runs", "--config", str(cfg), "--code", str(HELPERS),
                      annotator=None)
    first = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    run = tmp_path / "runs" / "tsn-slow-gold-entropy-seed0"
    try:
        start = time.time()
        while not (run / "run.json").exists():
            assert first.poll() is None and time.time() - start < 120, first.stdout.read().decode()[-2000:]
            time.sleep(0.1)
        second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert "is in use by process" in second.stderr and str(run) in second.stderr
        assert first.poll() is None, "the first process goes on"
        out, _ = first.communicate(timeout=300)
        assert first.returncode == 0, out.decode()[-2000:]
    finally:
        if first.poll() is None:
            first.kill()
    # once the first has finished, the same command resumes (finds everything done)
    third = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr[-2000:]
    assert len(srsly.read_json(run / "loop.json")["rounds"]) == 2
