"""The active-learning loop end to end on a small real corpus: outputs, metrics, resumption."""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import srsly

from spacy_llm_loop.errors import LoopError, RunStateError
from spacy_llm_loop.loop.main import run_loop

from .conftest import FAST_TRAINING, ROOT

HELPERS = Path(__file__).parent / "helpers" / "slow_annotator.py"
pytestmark = pytest.mark.slow


def settings(corpus: Path, runs: Path, **extra):
    base = {"loop.lang": "tsn", "paths.corpus": str(corpus), "paths.runs": str(runs), "loop.rounds": 2,
            "loop.query_size": "24", "seed_set.size": "24"}
    base.update(extra)
    return base


@pytest.fixture(scope="module")
def finished_run(small_corpus, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    result = run_loop(ROOT / "configs" / "loop.cfg", settings(small_corpus, runs), FAST_TRAINING, annotator="gold")
    return runs / "tsn-gold-entropy-seed0", result


def test_loop_json_has_every_round_and_field(finished_run):
    folder, result = finished_run
    assert result == srsly.read_json(folder / "loop.json")
    assert {k: result[k] for k in ("lang", "annotator", "strategy", "seed")} == {
        "lang": "tsn", "annotator": "gold", "strategy": "entropy", "seed": 0}
    assert [r["round"] for r in result["rounds"]] == [0, 1, 2]
    assert [r["n_labelled"] for r in result["rounds"]] == [24, 48, 72]
    # the learner's dev data is carved out of the labelled set (half at most, at least dev_min = 30, 20%)
    assert [r["learner_dev"]["n"] for r in result["rounds"]] == [12, 24, 30]
    assert [r["n_train"] for r in result["rounds"]] == [12, 24, 42]
    assert all(r["learner_dev"]["source"] == "labelled" for r in result["rounds"])
    assert [r["n_gold"] for r in result["rounds"]] == [24, 24, 24]
    assert [r["n_annotated"] for r in result["rounds"]] == [0, 24, 48]
    for record in result["rounds"]:
        for split in ("test", "dev"):
            assert {"ents_p", "ents_r", "ents_f", "ents_per_type",
                    "paper_token_f1_entity_positions"} <= set(record[split])
            assert 0 <= record[split]["ents_f"] <= 1
        assert set(record["seconds"]) >= {"train", "score", "select", "annotate"}
    assert result["rounds"][0]["annotation"] is None
    annotation = result["rounds"][1]["annotation"]
    assert annotation["n_requested"] == annotation["n_received"] == 24 and annotation["n_dropped"] == 0
    assert annotation["token_accuracy"] == 1.0 and annotation["ents_f"] == 1.0


def test_each_round_has_its_model_and_data(finished_run):
    folder, _ = finished_run
    for k in range(3):
        rd = folder / f"round-{k:02d}"
        assert (rd / "model" / "meta.json").exists() and (rd / "train.spacy").exists()

        tasks = list(srsly.read_jsonl(rd / "labelled.jsonl"))
        assert len(tasks) == 24 * (k + 1)
        assert {t["meta"]["round"] for t in tasks} == set(range(k + 1))
        assert all(t["meta"]["source"] == "gold" and t["answer"] == "accept" for t in tasks)
    assert not list(folder.rglob(".*.tmp-*"))


def test_learner_dev_is_held_out_counted_and_stays_dev(finished_run):
    """The learner's dev sentences come from the labelled set, never reach its train data, and stay dev."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    from spacy_llm_loop.data.docs import sentence_id

    folder, _ = finished_run
    previous = set()
    for k in range(3):
        rd = folder / f"round-{k:02d}"
        train = {sentence_id(d) for d in DocBin().from_disk(rd / "train.spacy").get_docs(Vocab())}
        dev = {sentence_id(d) for d in DocBin().from_disk(rd / "dev.spacy").get_docs(Vocab())}
        tasks = srsly.read_jsonl(rd / "labelled.jsonl")
        labelled = {t["meta"]["sentence_id"]: t["meta"]["learner_split"] for t in tasks}
        assert not train & dev and train | dev == set(labelled)
        assert dev == {sid for sid, split in labelled.items() if split == "dev"}
        assert previous <= dev
        previous = dev
        config = (rd / "model" / "config.cfg").read_text()
        assert str(rd / "dev.spacy") in config  # the learner was given this dev file, not the gold dev split
        assert (rd / "train.scores.jsonl").exists()  # every evaluation at full precision


def test_oracle_dev_is_marked_and_uses_the_gold_dev_split(small_corpus, tmp_path, caplog):
    caplog.set_level("INFO")
    result = run_loop(ROOT / "configs" / "loop.cfg", settings(small_corpus, tmp_path, **{"loop.rounds": 0,
                                                                                         "loop.dev": "oracle"}),
                      FAST_TRAINING, annotator="gold")
    assert result["run"] == "tsn-gold-entropy-oracledev-seed0" and result["dev"] == "oracle"
    record = result["rounds"][0]
    assert record["n_train"] == record["n_labelled"] == 24
    assert record["learner_dev"]["source"] == "oracle" and record["learner_dev"]["n"] is None
    assert record["learner_dev"]["stopped_by"] in ("max_steps", "patience")
    config = (tmp_path / result["run"] / "round-00" / "model" / "config.cfg").read_text()
    assert str(small_corpus / "dev.spacy") in config
    assert "learner dev: the gold dev split), test entity F1" in caplog.text


def test_seed_dev_holds_out_gold_seed_sentences_only(small_corpus, tmp_path):
    """``loop.dev = "seed"``: round 0's dev set, carved out of the gold seed, is the dev set of every round, and every
    annotated sentence is trained on."""
    result = run_loop(ROOT / "configs" / "loop.cfg", settings(small_corpus, tmp_path, **{"loop.rounds": 1,
                                                                                         "loop.dev": "seed"}),
                      FAST_TRAINING, annotator="gold")
    assert result["run"] == "tsn-gold-entropy-seeddev-seed0" and result["dev"] == "seed"
    assert [r["learner_dev"]["n"] for r in result["rounds"]] == [12, 12]
    assert [r["n_train"] for r in result["rounds"]] == [12, 36]
    folder = tmp_path / result["run"]
    seed = set(srsly.read_json(folder / "seed.json")["ids"])
    dev = [{t["meta"]["sentence_id"] for t in srsly.read_jsonl(folder / f"round-0{k}" / "labelled.jsonl")
            if t["meta"]["learner_split"] == "dev"} for k in (0, 1)]
    assert dev[0] == dev[1] and dev[0] <= seed


def test_seed_dev_needs_a_gold_seed(tmp_path):
    """A corpus of raw text alone (the annotator labels its seed) has no gold to carve the dev set from: refused
    before anything, by a dry run too."""
    import json

    from spacy_llm_loop.data.own import prepare_corpus

    (tmp_path / "pool.txt").write_text("Kgosi o ile Gaborone .\nRre Masire o buile .\n" * 20, encoding="utf-8")
    (tmp_path / "labels.json").write_text(json.dumps({"PERSON": "a person's name"}), encoding="utf-8")
    prepare_corpus(tmp_path / "corpus", lang="tn", language="Setswana", labels=tmp_path / "labels.json",
                   pool=tmp_path / "pool.txt")
    overrides = {"paths.corpus": str(tmp_path / "corpus"), "paths.runs": str(tmp_path / "runs"), "loop.dev": "seed"}
    for dry_run in (True, False):
        with pytest.raises(ValueError, match="loop.dev = 'seed' carves the learner's dev data out of the gold seed"):
            run_loop(ROOT / "configs" / "loop.cfg", overrides, FAST_TRAINING, annotator="sim-gpt-4-turbo",
                     dry_run=dry_run)
    assert not (tmp_path / "runs").exists()


def test_selection_never_repeats_and_logs_scores(finished_run):
    folder, _ = finished_run
    seed = set(srsly.read_json(folder / "seed.json")["ids"])
    first = srsly.read_json(folder / "round-01" / "selection.json")
    second = srsly.read_json(folder / "round-02" / "selection.json")
    ids1, ids2 = [s["id"] for s in first["selected"]], [s["id"] for s in second["selected"]]
    assert len(set(ids1)) == len(ids1) == 24 and not (set(ids1) & seed) and not (set(ids2) & (seed | set(ids1)))
    assert first["n_pool"] == 240 - 24 and second["n_pool"] == 240 - 48
    scores = [s["score"] for s in first["selected"]]
    assert scores == sorted(scores, reverse=True) and scores[-1] >= first["pool_scores"]["median"]
    assert len(list(srsly.read_jsonl(folder / "round-01" / "scores.jsonl"))) == first["n_pool"]


def test_finished_run_is_not_redone(finished_run, small_corpus):
    folder, result = finished_run
    mtime = (folder / "round-02" / "model" / "meta.json").stat().st_mtime
    again = run_loop(ROOT / "configs" / "loop.cfg", settings(small_corpus, folder.parent), FAST_TRAINING,
                     annotator="gold")
    assert again["rounds"] == result["rounds"]
    assert (folder / "round-02" / "model" / "meta.json").stat().st_mtime == mtime


def test_an_estimator_override_that_changes_nothing_still_resumes(finished_run, small_corpus):
    """The project passes --learner.components.uncertainty.estimator beam on every run: runs started without it
    resume, and nothing is redone."""
    folder, result = finished_run
    mtime = (folder / "round-02" / "model" / "meta.json").stat().st_mtime
    again = run_loop(ROOT / "configs" / "loop.cfg", settings(small_corpus, folder.parent),
                     {**FAST_TRAINING, "components.uncertainty.estimator": "beam"}, annotator="gold")
    assert again["run"] == result["run"] and again["rounds"] == result["rounds"]
    assert (folder / "round-02" / "model" / "meta.json").stat().st_mtime == mtime


def test_the_default_name_given_explicitly_still_resumes(finished_run, small_corpus):
    """The project passes --run-name <lang>-<annotator>-<strategy>-seed<k> (its var ``run``) on every run: a run
    started without it resumes with it, nothing is redone, and run.json is the same."""
    folder, result = finished_run
    mtime = (folder / "round-02" / "model" / "meta.json").stat().st_mtime
    saved = srsly.read_json(folder / "run.json")
    again = run_loop(ROOT / "configs" / "loop.cfg",
                     settings(small_corpus, folder.parent, **{"loop.run_name": "tsn-gold-entropy-seed0"}),
                     FAST_TRAINING, annotator="gold")
    assert again["run"] == result["run"] and again["rounds"] == result["rounds"]
    assert (folder / "round-02" / "model" / "meta.json").stat().st_mtime == mtime
    assert srsly.read_json(folder / "run.json")["loop_config"] == saved["loop_config"]


def test_an_empty_run_name_is_no_name(finished_run, small_corpus):
    """--vars.run '' (or run_loop's loop.run_name "") names the run as the loop does, and it resumes."""
    folder, result = finished_run
    mtime = (folder / "round-02" / "model" / "meta.json").stat().st_mtime
    again = run_loop(ROOT / "configs" / "loop.cfg", settings(small_corpus, folder.parent, **{"loop.run_name": ""}),
                     FAST_TRAINING, annotator="gold")
    assert again["run"] == result["run"] and again["rounds"] == result["rounds"]
    assert (folder / "round-02" / "model" / "meta.json").stat().st_mtime == mtime


def test_the_default_runs_name_for_a_run_with_other_settings_is_refused(small_corpus, tmp_path):
    """--vars.estimator mc_dropout with the project's default --vars.run would file the run where the default run
    goes; it is refused before anything is written, with the name to use."""
    for extra, learner, own in [({"loop.warm_start": True}, {}, "tsn-gold-entropy-warm-seed0"),
                                ({}, {"components.uncertainty.estimator": "mc_dropout"}, "tsn-gold-entropy-mc-seed0")]:
        with pytest.raises(LoopError, match=f"settings name it '{own}'.*--vars.run {own}"):
            run_loop(ROOT / "configs" / "loop.cfg",
                     settings(small_corpus, tmp_path, **{"loop.run_name": "tsn-gold-entropy-seed0", **extra}),
                     {**FAST_TRAINING, **learner}, annotator="gold")
    assert not any(tmp_path.iterdir())


def test_run_names_gives_the_folder_and_the_loops_own_name(small_corpus, tmp_path):
    from spacy_llm_loop.loop.runner import run_names
    from spacy_llm_loop.loop.settings import load_loop_config, resolve_loop

    config = load_loop_config(ROOT / "configs" / "loop.cfg", settings(small_corpus, tmp_path,
                                                                      **{"loop.run_name": "my run"}), annotator="gold")
    loop_settings, _, strategy, annotator = resolve_loop(config)
    assert run_names(loop_settings, annotator, strategy) == ("my_run", "tsn-gold-entropy-seed0")


def test_a_run_started_with_its_default_name_written_out_resumes_without_it(tmp_path):
    """``loop --run-name tsn-gold-entropy-seed0`` saved that name in run.json's loop config; resuming without a
    name (or the other way round) is the same run, and any other difference is still refused."""
    from spacy_llm_loop.loop.state import RunFolder

    def identity(run_name, seed=0):
        return {"lang": "tsn", "loop_config": f'[loop]\nrun_name = {run_name}\nseed = {seed}'}

    for saved, resumed in [('"tsn-gold-entropy-seed0"', "null"), ("null", '"tsn-gold-entropy-seed0"')]:
        folder = RunFolder(tmp_path / saved.strip('"') / "tsn-gold-entropy-seed0")
        folder.lock()
        assert folder.claim(identity(saved)) is False
        assert folder.claim(identity(resumed)) is True
        with pytest.raises(RunStateError, match=r"other settings \(loop_config\)"):
            folder.claim(identity(resumed, seed=1))
        with pytest.raises(RunStateError, match=r"other settings \(loop_config\)"):
            folder.claim(identity('"another-name"'))


def test_another_learner_on_the_cnns_default_name_is_refused(small_corpus, tmp_path):
    """--vars.learner_config configs/learner-trf.cfg with the project's default --vars.run would file a
    transformer run where the CNN's default run goes."""
    with pytest.raises(LoopError, match="settings name it 'tsn-gold-entropy-trf-seed0'"):
        trf = {"loop.run_name": "tsn-gold-entropy-seed0",
               "paths.learner_config": str(ROOT / "configs" / "learner-trf.cfg")}
        run_loop(ROOT / "configs" / "loop.cfg", settings(small_corpus, tmp_path, **trf), FAST_TRAINING,
                 annotator="gold")
    assert not any(tmp_path.iterdir())


def test_bald_without_an_ensemble_estimator_is_refused_before_training(small_corpus, tmp_path):
    with pytest.raises(LoopError, match="strategy 'bald' needs the uncertainty estimator 'mc_dropout' or "
                                        "'committee'.*--vars.estimator mc_dropout"):
        run_loop(ROOT / "configs" / "loop.cfg", settings(small_corpus, tmp_path), FAST_TRAINING, annotator="gold",
                 strategy="bald")
    assert not any(tmp_path.glob("*/round-00"))  # nothing trained


def test_changed_settings_are_refused(finished_run, small_corpus):
    folder, _ = finished_run
    with pytest.raises(RunStateError, match="other settings .*query_size"):
        run_loop(ROOT / "configs" / "loop.cfg", settings(small_corpus, folder.parent, **{"loop.query_size": "30"}),
                 FAST_TRAINING, annotator="gold")


def test_random_baseline_extends_rounds(small_corpus, tmp_path):
    cfg = ROOT / "configs" / "loop.cfg"
    one = run_loop(cfg, settings(small_corpus, tmp_path, **{"loop.rounds": 1}), FAST_TRAINING, annotator="gold",
                   strategy="random", seed_sampler="random")
    folder = tmp_path / "tsn-gold-random-seed0"
    assert len(one["rounds"]) == 2 and not (folder / "round-01" / "scores.jsonl").exists()
    two = run_loop(cfg, settings(small_corpus, tmp_path, **{"loop.rounds": 2}), FAST_TRAINING, annotator="gold",
                   strategy="random", seed_sampler="random")
    assert two["rounds"][:2] == one["rounds"] and len(two["rounds"]) == 3


def _config_with(tmp_path: Path, block: str) -> Path:
    text = (ROOT / "configs" / "loop.cfg").read_text()
    text = text[:text.index("[annotator]")] + block
    path = tmp_path / "loop.cfg"
    path.write_text(text)
    return path


def test_bad_annotations_are_dropped_with_reasons(small_corpus, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("slow_annotator", HELPERS)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    cfg = _config_with(tmp_path, '[annotator]\n@misc = "test.BrokenAnnotator.v1"\n'
                                 'path = "${paths.corpus}/train.spacy"\n')
    result = run_loop(cfg, settings(small_corpus, tmp_path, **{"loop.rounds": 1}), FAST_TRAINING)
    annotation = result["rounds"][1]["annotation"]
    assert annotation["n_requested"] == 24 and annotation["n_dropped"] == 13 and annotation["n_received"] == 11
    assert result["rounds"][1]["n_labelled"] == 24 + 11
    run = tmp_path / "tsn-broken-entropy-seed0"
    records = list(srsly.read_jsonl(run / "round-01" / "annotations.jsonl"))
    errors = [r["error"] for r in records if r["tags"] is None]
    assert sum("tags for" in e for e in errors) == 12 and sum("invalid IOB2" in e for e in errors) == 1

    cfg = _config_with(tmp_path, '[annotator]\n@misc = "test.ForgetfulAnnotator.v1"\n'
                                 'path = "${paths.corpus}/train.spacy"\n')
    with pytest.raises(LoopError, match="without answering 23 requests"):
        run_loop(cfg, settings(small_corpus, tmp_path, **{"loop.rounds": 1}), FAST_TRAINING)


def test_a_round_that_gets_more_answers_on_resume_is_rebuilt_from_them(small_corpus, tmp_path):
    """Killed after its files were written, resumed with a raised budget: the round trains on every answer."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("slow_annotator", HELPERS)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    cfg = _config_with(tmp_path, '[annotator]\n@misc = "test.BudgetedGold.v1"\npath = "${paths.corpus}/train.spacy"\n'
                                 'budget_usd = 10\n')
    run_loop(cfg, settings(small_corpus, tmp_path, **{"loop.rounds": 1}), FAST_TRAINING)
    rd = tmp_path / "tsn-budgeted-entropy-seed0" / "round-01"
    assert len(list(srsly.read_jsonl(rd / "labelled.jsonl"))) == 24 + 10
    (rd / "record.json").unlink()  # as if killed while training: the round's files are there, its record not
    shutil.rmtree(rd / "model")
    result = run_loop(cfg, settings(small_corpus, tmp_path, **{"loop.rounds": 1, "annotator.budget_usd": 100}),
                      FAST_TRAINING)
    assert result["rounds"][1]["annotation"]["n_received"] == 24 and result["rounds"][1]["n_labelled"] == 48
    assert len(list(srsly.read_jsonl(rd / "labelled.jsonl"))) == 48
    assert result["rounds"][1]["n_train"] + result["rounds"][1]["learner_dev"]["n"] == 48


def test_as_annotator_uses_what_a_plain_object_has():
    from spacy_llm_loop.annotators.base import AnnotationRequest, as_annotator

    class Plain:
        name = "plain"
        budget_exhausted = True

        def __call__(self, requests):
            from spacy_llm_loop.annotators.base import Annotation
            return iter([Annotation(r.id, ["O"], "plain") for r in requests])

        def usage(self, k=None):
            return {"requests": 2}

    wrapped = as_annotator(Plain())
    assert wrapped.budget_exhausted and wrapped.usage(1) == {"requests": 2} and wrapped.identity() == {}
    batches = list(wrapped.batches([AnnotationRequest("a", ["x"]), AnnotationRequest("b", ["y"])]))
    assert [[a.id for a in batch] for batch in batches] == [["a"], ["b"]]
    with pytest.raises(TypeError, match="needs a 'name'"):
        as_annotator(object())


def test_answers_to_one_prompt_are_written_together(small_corpus, tmp_path):
    """A crash after the first answer of a 2-sentence prompt leaves neither on disk (no half group to re-pair)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("slow_annotator", HELPERS)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    cfg = _config_with(tmp_path, '[annotator]\n@misc = "test.CrashMidGroupAnnotator.v1"\n'
                                 'path = "${paths.corpus}/train.spacy"\n')
    with pytest.raises(RuntimeError, match="mid-group"):
        run_loop(cfg, settings(small_corpus, tmp_path, **{"loop.rounds": 1}), FAST_TRAINING)
    run = tmp_path / "tsn-crashing-entropy-seed0"
    records = list(srsly.read_jsonl(run / "round-01" / "annotations.jsonl"))
    assert [r["meta"]["prompt_hash"] for r in records] == ["group-0", "group-0", "group-1", "group-1"]


def _start(python, cfg, corpus, runs, log):
    env = {**os.environ, "SLOW_GOLD_LOG": str(log)}
    args = [python, "-m", "spacy_llm_loop", "loop", "--config", str(cfg), "--lang", "tsn", "--corpus", str(corpus),
            "--runs-dir", str(runs), "--rounds", "2", "--query-size", "24", "--seed-size", "24", "--code", str(HELPERS)]
    args += [a for k, v in FAST_TRAINING.items() for a in (f"--learner.{k}", str(v))]
    return subprocess.Popen(args, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _kill_when(proc, condition, timeout=120):
    start = time.time()
    while not condition():
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
        assert time.time() - start < timeout, "condition never met"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _lines(path: Path):
    return path.read_text().split() if path.exists() else []


def test_kill_9_anywhere_then_resume(small_corpus, tmp_path, python):
    cfg = _config_with(tmp_path, '[annotator]\n@misc = "test.SlowLoggingGold.v1"\n'
                                 'path = "${paths.corpus}/train.spacy"\ndelay = 0.1\n')
    run = tmp_path / "runs" / "tsn-slow-gold-entropy-seed0"
    answers = run / "round-01" / "annotations.jsonl"
    logs = [tmp_path / f"requests-{i}.log" for i in range(3)]

    # 1. killed in the middle of annotating round 1
    proc = _start(python, cfg, small_corpus, tmp_path / "runs", logs[0])
    _kill_when(proc, lambda: len(_lines(answers)) >= 5)
    saved = {json.loads(line)["id"] for line in answers.read_text().splitlines() if line.strip().endswith("}")}
    assert 5 <= len(saved) < 24

    # 2. resumed, then killed while training round 1
    proc = _start(python, cfg, small_corpus, tmp_path / "runs", logs[1])
    _kill_when(proc, lambda: (run / "round-01" / "train.log").exists()
               and (run / "round-01" / "train.log").stat().st_size)
    assert not set(_lines(logs[1])) & saved, "an answer already on disk was requested again"
    assert not (run / "round-01" / "model").exists()
    assert list(run.rglob(".*.tmp-*")), "the kill should have left a work folder behind"

    # 3. resumed to the end
    proc = _start(python, cfg, small_corpus, tmp_path / "runs", logs[2])
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out.decode()[-3000:]
    assert _lines(logs[2]) and not set(_lines(logs[2])) & set(_lines(logs[0]) + _lines(logs[1]))
    result = srsly.read_json(run / "loop.json")
    assert [r["n_labelled"] for r in result["rounds"]] == [24, 48, 72]
    # the learner's dev data is carved out of the labelled set (half at most, at least dev_min = 30, 20%)
    assert [r["learner_dev"]["n"] for r in result["rounds"]] == [12, 24, 30]
    assert [r["n_train"] for r in result["rounds"]] == [12, 24, 42]
    assert all(r["learner_dev"]["source"] == "labelled" for r in result["rounds"])
    round1 = [s["id"] for s in srsly.read_json(run / "round-01" / "selection.json")["selected"]]
    assert sorted({json.loads(line)["id"] for line in answers.read_text().splitlines()}) == sorted(round1)
    assert len(answers.read_text().splitlines()) == 24
    assert not list(run.rglob(".*.tmp-*")), "work folders of the killed runs are cleaned up"
    requested = _lines(logs[0]) + _lines(logs[1]) + _lines(logs[2])
    in_flight = len(requested) - len(set(requested))
    assert in_flight <= 1, "at most the one request in flight at the kill may be asked again"


def test_annotation_progress_shows_answers_drops_and_spend(tmp_path, capsys):
    import spacy

    from spacy_llm_loop.annotators.base import Annotation, as_annotator
    from spacy_llm_loop.data.docs import make_doc
    from spacy_llm_loop.fileio import JsonlLog
    from spacy_llm_loop.loop.annotating import _spend, annotate

    class Priced:
        name = "priced"

        def __call__(self, requests):
            return iter([Annotation(r.id, ["O"] if r.id != "b" else ["O", "O"], "priced") for r in requests])

        def usage(self, k=None):
            return {"cost_usd": 0.25}

    vocab = spacy.blank("xx").vocab
    by_id = {sid: make_doc(vocab, ["x"]) for sid in ("a", "b", "c")}
    unanswered = annotate(as_annotator(Priced()), JsonlLog(tmp_path / "log.jsonl"), ["a", "b", "c"], by_id,
                          progress=True, round_k=2)
    err = capsys.readouterr().err
    assert unanswered == [] and "round 2 annotating" in err and "/3 " in err  # redrawn at most every 0.1 s
    assert _spend(as_annotator(Priced()), 1) == "dropped 1, $0.25"  # the bar's postfix

    class Counted(Priced):  # the spend is summed from the whole ledger: not once per answer of a large round
        calls = 0

        def __call__(self, requests):
            return iter([Annotation(r.id, ["O"], "priced") for r in requests])

        def usage(self, k=None):
            Counted.calls += 1
            return super().usage(k)

    with pytest.raises(LoopError, match=r"1 sentences to annotate are not in the corpus \(e.g. \['gone'\]\)"):
        annotate(as_annotator(Counted()), JsonlLog(tmp_path / "gone.jsonl"), ["a", "gone"], by_id)
    assert not (tmp_path / "gone.jsonl").exists() and Counted.calls == 0, "refused before anything is asked"
    many = {f"s{i}": make_doc(vocab, ["x"]) for i in range(2000)}
    annotate(as_annotator(Counted()), JsonlLog(tmp_path / "many.jsonl"), list(many), many, progress=True)
    assert 1 <= Counted.calls <= 5


@pytest.mark.slow
def test_a_subsampled_pool_scores_a_seeded_part_of_it_each_round(small_corpus, tmp_path) -> None:
    from spacy_llm_loop.loop.main import run_loop

    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 1, "loop.query_size": "20", "seed_set.size": "40", "loop.subsample": "50%"}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, annotator="gold")
    assert result["run"] == "tsn-gold-entropy-sub50pct-seed0"
    run = tmp_path / "runs" / result["run"]
    selection = srsly.read_json(run / "round-01" / "selection.json")
    scored = [r["id"] for r in srsly.read_jsonl(run / "round-01" / "scores.jsonl")]
    assert selection["n_pool"] == 200 and selection["n_candidates"] == len(scored) == 100
    assert selection["subsample"] == "50.0%" and {x["id"] for x in selection["selected"]} <= set(scored)
