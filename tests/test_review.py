"""Review within a budget: the doubt ranking, the Prodigy tasks and answers (every bad answer named by line), the
SIMULATED reviewer, and the loop waiting for a person or not."""
import json
import math
import subprocess
from pathlib import Path

import pytest
import spacy
import srsly

from spacy_llm_loop.errors import InputError, ReviewPending
from spacy_llm_loop.policy.registry import PRESETS, make_label_policy
from spacy_llm_loop.review.rank import doubt, residual_doubt, review_order
from spacy_llm_loop.review.settings import ReviewSettings, make_review, parse_budget
from spacy_llm_loop.review.tasks import answer_line, read_answers, review_task
from spacy_llm_loop.review.timing import review_seconds

from .conftest import FAST_TRAINING, ROOT

VOCAB = spacy.blank("xx").vocab
WORDS = ["Kgosi", "Seretse", "o", "ile", "Gaborone", "ka", "Labotlhano", "."]
LLM = ["O", "B-PER", "O", "O", "B-LOC", "O", "O", "O"]
GOLD = ["B-PER", "I-PER", "O", "O", "B-LOC", "O", "B-DATE", "O"]


def test_budgets_parse_and_count() -> None:
    assert parse_budget("10%") == (0.1, "share") and parse_budget("20") == (20, "count")
    assert parse_budget("30min") == (30, "minutes")
    assert ReviewSettings("10%").n_to_review(175) == 18 and ReviewSettings("20").n_to_review(7) == 7
    assert not ReviewSettings("0").active and ReviewSettings("5%").active
    minutes = ReviewSettings("1min").n_to_review(100, [20] * 100)
    assert minutes == math.floor(60 / review_seconds(20)["central"])
    for bad in ("ten", "150%", "2.5"):
        with pytest.raises(ValueError, match="review budget"):
            parse_budget(bad)
    with pytest.raises(ValueError, match="review.rank"):
        make_review(budget="5%", rank="loudest")
    assert ReviewSettings("10%", rank="random", reviewer="simulated").tag() == "rv10pct-random-simrev"
    assert ReviewSettings("10%", wait=False).tag() == "rv10pct"  # wait may change on resume
    assert ReviewSettings("10%", rank="residual").tag() == "rv10pct-residual"


def test_late_answers_are_counted_once_in_the_round_that_first_counts_them() -> None:
    from spacy_llm_loop.loop.reviewing import summary

    records = [{"id": "a", "round": 1, "answer": "accept", "changed": True, "words": 10, "seconds": None},
               {"id": "b", "round": 2, "answer": "reject", "changed": False, "words": 10, "seconds": None}]
    settings = ReviewSettings("5", wait=False)
    first = summary(records, 3, 0, settings, counted_before=set(), ranking="doubt")
    again = summary(records, 4, 0, settings, counted_before={"a", "b"}, ranking="doubt")
    assert first["late_from_earlier_rounds"] == 2 and (first["accepted"], first["rejected"]) == (1, 1)
    assert again["late_from_earlier_rounds"] == 0 and again["person_hours"]["central"] == 0


def test_review_time_is_a_range_with_low_below_high() -> None:
    seconds = review_seconds(20)
    assert seconds["low"] < seconds["central"] < seconds["high"]
    assert 2 < seconds["low"] and seconds["high"] < 40  # a 20-word sentence: seconds, not minutes


def test_doubt_counts_doubted_llm_entities_missed_ones_and_distrusted_types() -> None:
    judgement = {"llm": [[1, 2, "PER", 0.1], [4, 5, "LOC", 0.9]],
                 "learner": [[0, 2, "PER", 0.8], [4, 5, "LOC", 0.9]]}
    d = doubt("a", LLM, judgement, distrusted=("LOC",))
    assert d.score == pytest.approx(0.9 + 0.1 + 0.8 + 1.0)
    assert d.llm_doubted == [[1, 2, "PER", 0.1]] and d.learner_only == [[0, 2, "PER", 0.8]]
    assert d.distrusted == [[4, 5, "LOC", 0.9]]
    sure = {"llm": [[1, 2, "PER", 1.0], [4, 5, "LOC", 1.0]], "learner": [[1, 2, "PER", 1.0], [4, 5, "LOC", 1.0]]}
    order, used = review_order([("sure", LLM), ("a", LLM)], {"a": judgement, "sure": sure}, (), "doubt", 0)
    assert [x.id for x in order] == ["a", "sure"] and used == "doubt"
    drawn, used = review_order([(str(i), LLM) for i in range(20)], {}, (), "random", 3)
    again, _ = review_order([(str(i), LLM) for i in range(20)], {}, (), "random", 3)
    assert [x.id for x in drawn] == [x.id for x in again] != [str(i) for i in range(20)] and used == "random"
    # nothing in doubt (no judgement, no distrusted type): a random draw, not the longest sentences
    assert review_order([(str(i), LLM) for i in range(20)], {}, (), "doubt", 3)[1] == "random"


def test_residual_doubt_counts_only_what_the_policy_still_teaches() -> None:
    policy = make_label_policy(name="disagree-gold3", **PRESETS["disagree-gold3"])  # keep_above 0.2
    # The learner rejects Seretse/PER (made missing: nothing wrong is taught, so no residual doubt), keeps
    # Gaborone/LOC at 0.7 (0.3 of doubt) and predicts Labotlhano/DATE, which the answer teaches as O (0.6).
    judgement = {"llm": [[1, 2, "PER", 0.1], [4, 5, "LOC", 0.7]],
                 "learner": [[0, 2, "PER", 0.8], [4, 5, "LOC", 0.7], [6, 7, "DATE", 0.6]]}
    d = residual_doubt("a", LLM, judgement, policy)
    assert d.score == pytest.approx(0.3 + 0.6)
    assert d.llm_doubted == [] and d.learner_only == [[6, 7, "DATE", 0.6]]
    assert d.why()["made_missing_by_the_label_policy"] == [[0, 2, "learner-rejects"]]
    assert doubt("a", LLM, judgement).score == pytest.approx(0.9 + 0.3 + 0.8 + 0.6)  # counts the masked ones too
    # what the doubt ranking puts first (a rejected entity the policy already masked) the residual one puts last
    masked = {"llm": [[1, 2, "PER", 0.0], [4, 5, "LOC", 0.0]], "learner": []}
    taught = {"llm": [[1, 2, "PER", 0.6], [4, 5, "LOC", 0.6]], "learner": []}
    answers = [("masked", LLM), ("taught", LLM)]
    judged = {"masked": masked, "taught": taught}
    assert [x.id for x in review_order(answers, judged, (), "doubt", 0)[0]] == ["masked", "taught"]
    order, used = review_order(answers, judged, (), "residual", 0, policy)
    assert [x.id for x in order] == ["taught", "masked"] and used == "residual"
    assert residual_doubt("b", LLM, None, policy).score == 0.0
    assert review_order([(str(i), LLM) for i in range(20)], {}, (), "residual", 3, policy)[1] == "random"
    with pytest.raises(ValueError, match="unknown review ranking"):
        review_order(answers, judged, (), "loudest", 0)


def _task(sid: str = "tsn-train-1") -> dict:
    return review_task(VOCAB, WORDS, LLM, {"sentence_id": sid, "source": "llm:gpt-4-turbo",
                                           "review": {"rank": 1}})


def test_a_task_is_prodigy_ner_manual_input_with_the_llm_spans_drawn() -> None:
    task = _task()
    assert task["text"] == " ".join(WORDS) and [t["text"] for t in task["tokens"]] == WORDS
    assert [(s["token_start"], s["token_end"], s["label"]) for s in task["spans"]] == [(1, 1, "PER"), (4, 4, "LOC")]
    assert "answer" not in task and {"_input_hash", "_task_hash"} <= set(task)
    assert task["meta"]["sentence_id"] == "tsn-train-1"


def _write(path: Path, lines) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
                    encoding="utf-8")
    return path


def test_answers_accept_reject_ignore_and_what_changed(tmp_path) -> None:
    tasks = {sid: _task(sid) for sid in ("a", "b", "c")}
    accepted = answer_line(tasks["a"], GOLD, VOCAB)
    rejected = {**tasks["b"], "answer": "reject"}
    ignored = {**tasks["c"], "answer": "ignore"}
    answers = read_answers(VOCAB, _write(tmp_path / "answers.jsonl", [accepted, rejected, ignored]), tasks)
    assert answers["a"].tags == GOLD and answers["a"].changed and answers["a"].llm_tags == LLM
    assert answers["b"].answer == "reject" and answers["b"].tags is None and not answers["b"].changed
    assert answers["c"].answer == "ignore"


def test_a_persons_time_is_read_from_prodigys_timestamps(tmp_path) -> None:
    """Each answer took the gap since its session's previous one; a session's first answer and one after a break
    are left to the estimate; two sessions are timed apart; a timestamp that is not a number names its line."""
    tasks = {sid: _task(sid) for sid in "abcdef"}

    def stamped(sid: str, stamp: object, session: str = "review-ana") -> dict:
        return {**answer_line(tasks[sid], GOLD, VOCAB), "_timestamp": stamp, "_session_id": session}

    lines = [stamped("a", 1000), stamped("c", 1075), stamped("b", 1030), stamped("d", 1700),
             stamped("e", 1002, "review-ben"), stamped("f", 1010, "review-ben")]
    answers = read_answers(VOCAB, _write(tmp_path / "answers.jsonl", lines), tasks)
    timed = {sid: a.seconds["central"] for sid, a in answers.items() if a.timed}
    assert timed == {"b": 30.0, "c": 45.0, "f": 8.0}  # "a", "e": first of a session; "d": after 625 s, a break
    assert answers["b"].seconds == {"low": 30.0, "central": 30.0, "high": 30.0} and answers["b"].to_dict()["timed"]
    same_second = [{**answer_line(tasks[sid], GOLD, VOCAB), "_timestamp": 5} for sid in "cab"]  # no session id
    answers = read_answers(VOCAB, _write(tmp_path / "answers.jsonl", same_second), tasks)
    assert {sid: a.seconds["central"] for sid, a in answers.items() if a.timed} == {"a": 0.0, "b": 0.0}  # file order
    with pytest.raises(InputError, match=r"answers.jsonl:1: _timestamp must be seconds since 1970"):
        read_answers(VOCAB, _write(tmp_path / "answers.jsonl", [stamped("a", "10:02")]), tasks)


@pytest.mark.parametrize("case, message", [
    ("unknown", "line 2: an answer for sentence 'zzz', which is not among the review tasks"),
    ("duplicate", "line 2: a second answer for sentence 'a' (the first is on line 1)"),
    ("tokens", "line 1: sentence 'a': the tokens were edited (token 4 is 'Gabs'"),
    ("no_id", "line 1: the answer has no meta.sentence_id"),
    ("half", "line 2: not valid JSON"),
    ("no_answer", "line 1: the line has no 'answer'"),
    ("label", "line 1: sentence 'a': entity type 'PERS' is not one of the run's labels"),
])
def test_bad_answers_are_named_by_line(tmp_path, case, message) -> None:
    tasks = {"a": _task("a")}
    good = answer_line(tasks["a"], GOLD, VOCAB)
    if case == "unknown":
        lines = [good, answer_line(_task("zzz"), GOLD, VOCAB)]
    elif case == "duplicate":
        lines = [good, good]
    elif case == "tokens":
        words = list(WORDS)
        words[4] = "Gabs"
        lines = [answer_line(review_task(VOCAB, words, LLM, {"sentence_id": "a"}), GOLD, VOCAB)]
    elif case == "no_id":
        lines = [{**good, "meta": {}}]
    elif case == "no_answer":
        lines = [tasks["a"]]  # the task itself, copied as if it were an answer
    elif case == "label":
        lines = [answer_line(tasks["a"], ["B-PERS"] + GOLD[1:], VOCAB)]
    else:
        lines = [good, json.dumps(good)[:40]]
    path = _write(tmp_path / "answers.jsonl", lines)
    with pytest.raises(InputError) as err:  # TaskFormatError, or the JSONL reader's own for a broken line
        read_answers(VOCAB, path, tasks, ["PER", "ORG", "LOC", "DATE"])
    assert f"{path}:{message.split(': ', 1)[0].split()[1]}: {message.split(': ', 1)[1]}" in str(err.value)


def _settings(small_corpus: Path, tmp_path: Path, **extra) -> dict:
    base = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path / "runs"),
            "loop.rounds": 2, "loop.query_size": "40", "seed_set.size": "48", "loop.audit": "none",
            "annotator.cache_path": str(tmp_path / "llm.sqlite")}
    base.update(extra)
    return base


@pytest.mark.slow
def test_simulated_review_makes_the_doubtful_answers_gold(small_corpus, tmp_path) -> None:
    from spacy_llm_loop.loop.main import run_loop

    settings = _settings(small_corpus, tmp_path)
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING,
                      review={"budget": "25%", "reviewer": "simulated"})
    assert result["run"] == "tsn-sim-gpt-4-turbo-entropy-lp-disagree-both-gold3-rv25pct-simrev-seed0"
    assert result["review"] == {"budget": "25%", "rank": "doubt", "reviewer": "simulated", "wait": True}
    run = tmp_path / "runs" / result["run"]
    gold = {t["meta"]["sentence_id"]: t for t in srsly.read_jsonl(small_corpus / "train.jsonl")}
    for k in (1, 2):
        record = result["rounds"][k]["review"]
        received = result["rounds"][k]["annotation"]["n_received"]
        assert record["tasks"] == math.floor(0.25 * received + 0.5) == record["answered"] == record["accepted"]
        assert record["simulated"] and record["changed"] > 0 and record["person_hours"]["central"] > 0
        tasks = list(srsly.read_jsonl(run / "review" / f"round-{k:02d}.jsonl"))
        doubts = [t["meta"]["review"]["doubt"] for t in tasks]
        assert doubts == sorted(doubts, reverse=True) and doubts[0] > 0  # the most doubtful first
        answers = list(srsly.read_jsonl(run / "review" / f"round-{k:02d}.answers.jsonl"))
        assert all("SIMULATED" in a["meta"]["reviewer"] for a in answers)
        labelled = {t["meta"]["sentence_id"]: t for t in srsly.read_jsonl(run / f"round-{k:02d}" / "labelled.jsonl")}
        for task in tasks:  # a reviewed sentence is gold, from a human source, and no policy touched it
            mine = labelled[task["meta"]["sentence_id"]]
            assert mine["meta"]["source"] == "human" and "label_policy" not in mine["meta"]
            assert _spans(mine) == _spans(gold[task["meta"]["sentence_id"]])
    # round 2 still counts round 1's reviews
    assert {r["id"] for r in srsly.read_jsonl(run / "round-02" / "reviewed.jsonl")} >= \
        {r["id"] for r in srsly.read_jsonl(run / "round-01" / "reviewed.jsonl")}
    # the report shows the reviewed curve apart; the cost report adds the reviewer's hours to the LLM's dollars
    from spacy_llm_loop.cost.run_cost import run_cost
    from spacy_llm_loop.reporting.collect import collect_runs, review_quality

    [curve] = collect_runs(tmp_path / "runs").values()
    assert curve.annotator.endswith("review 25% doubt (SIMULATED reviewer)")
    assert review_quality(curve, 1)["reviewed"] == result["rounds"][1]["review"]["accepted"]
    totals = run_cost(run, small_corpus.parent)["totals"]
    assert totals["review"]["simulated"] and totals["review"]["hours"]["central"] > 0
    assert totals["review"]["llm_plus_review_usd"]["central"] > totals["llm_usd"]


def _spans(task: dict) -> list:
    return sorted((s["token_start"], s["token_end"], s["label"]) for s in task.get("spans", []))


@pytest.mark.slow
def test_a_waiting_run_stops_then_resumes_with_a_persons_answers(small_corpus, tmp_path) -> None:
    from spacy_llm_loop.loop.main import run_loop

    settings = _settings(small_corpus, tmp_path, **{"loop.rounds": 1})
    review = {"budget": "5", "rank": "residual"}
    with pytest.raises(ReviewPending, match=r"round 1: 5 of 5 review tasks are not answered yet.*prodigy ner.manual"):
        run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, review=review)
    run = tmp_path / "runs" / "tsn-sim-gpt-4-turbo-entropy-lp-disagree-both-gold3-rv5-residual-seed0"
    tasks = list(srsly.read_jsonl(run / "review" / "round-01.jsonl"))
    assert not (run / "round-01" / "model").exists() and len(tasks) == 5
    why = [t["meta"]["review"] for t in tasks]  # ranked by the doubt the label policy leaves in what is taught
    assert {w["ranking"] for w in why} == {"residual"} and all("made_missing_by_the_label_policy" in w for w in why)
    answers = run / "review" / "round-01.answers.jsonl"
    lines = [answer_line(t, ["O"] * len(t["tokens"]), VOCAB) for t in tasks[:3]]  # the person says: no entity
    _write(answers, lines)
    with pytest.raises(ReviewPending, match="2 of 5"):  # half answered: still waiting, nothing lost
        run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, review=review)
    lines += [{**tasks[3], "answer": "reject"}, {**tasks[4], "answer": "ignore"}]
    for line, stamp in zip(lines, (1000, 1030, 1075, 2000, 2012)):  # Prodigy >= 1.11 stamps each answer
        line.update({"_timestamp": stamp, "_session_id": "review-ana"})
    _write(answers, lines)
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, review=review)
    record = result["rounds"][1]["review"]
    assert (record["accepted"], record["rejected"], record["ignored"]) == (3, 1, 1) and not record["simulated"]
    assert record["answers_timed"] == 3 and record["hours_estimated"]  # 30, 45 and 12 s; the first and the break
    assert record["person_hours"]["low"] > 87 / 3600  # the two untimed ones are estimated on top
    from spacy_llm_loop.cost.report import cost_markdown, cost_report

    text = cost_markdown(cost_report(tmp_path / "runs", small_corpus.parent))
    assert "timed from Prodigy's timestamps for 3 of 5 answers, the rest estimated" in text
    labelled = {t["meta"]["sentence_id"]: t for t in srsly.read_jsonl(run / "round-01" / "labelled.jsonl")}
    ids = [t["meta"]["sentence_id"] for t in tasks]
    assert all(labelled[sid]["meta"]["source"] == "human" and not labelled[sid].get("spans") for sid in ids[:3])
    assert ids[3] not in labelled and labelled[ids[4]]["meta"]["source"] != "human"


@pytest.mark.slow
def test_a_run_that_does_not_wait_merges_late_answers_next_round(small_corpus, tmp_path, python) -> None:
    args = [python, "-m", "spacy_llm_loop", "loop", "--lang", "tsn", "--corpus", str(small_corpus), "--runs-dir",
            str(tmp_path / "runs"), "--rounds", "1", "--query-size", "40", "--seed-size", "48", "--loop.audit",
            "none", "--annotator.cache_path", str(tmp_path / "llm.sqlite"), "--review", "4", "--review-no-wait",
            "--learner.training.max_steps", "120", "--learner.training.eval_frequency", "40"]
    first = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    run = tmp_path / "runs" / "tsn-sim-gpt-4-turbo-entropy-lp-disagree-both-gold3-rv4-seed0"
    loop = srsly.read_json(run / "loop.json")
    assert loop["rounds"][1]["review"]["tasks"] == 4 and loop["rounds"][1]["review"]["answered"] == 0
    tasks = list(srsly.read_jsonl(run / "review" / "round-01.jsonl"))
    _write(run / "review" / "round-01.answers.jsonl", [answer_line(t, ["O"] * len(t["tokens"]), VOCAB)
                                                       for t in tasks])
    second = subprocess.run(args[:args.index("--rounds") + 1] + ["2"] + args[args.index("--rounds") + 2:], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    loop = srsly.read_json(run / "loop.json")
    assert loop["rounds"][1]["review"]["answered"] == 0  # round 1 trained without them, and stays as it was
    assert loop["rounds"][2]["review"]["late_from_earlier_rounds"] == 4  # counted, with their hours, once
    assert loop["rounds"][2]["review"]["accepted"] == 4 + loop["rounds"][2]["review"]["answered"]
    assert loop["rounds"][2]["review"]["person_hours"]["central"] > 0
    labelled = {t["meta"]["sentence_id"]: t for t in srsly.read_jsonl(run / "round-02" / "labelled.jsonl")}
    assert all(labelled[t["meta"]["sentence_id"]]["meta"]["source"] == "human" for t in tasks)


def test_review_options_need_a_budget(python) -> None:
    out = subprocess.run([python, "-m", "spacy_llm_loop", "loop", "--reviewer", "simulated"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "need --review" in out.stderr


@pytest.mark.slow
def test_the_cli_exits_3_while_waiting_for_review(small_corpus, tmp_path, python) -> None:
    args = [python, "-m", "spacy_llm_loop", "loop", "--lang", "tsn", "--corpus", str(small_corpus), "--runs-dir",
            str(tmp_path / "runs"), "--rounds", "1", "--query-size", "20", "--seed-size", "48", "--loop.audit",
            "none", "--annotator.cache_path", str(tmp_path / "llm.sqlite"), "--review", "10%",
            "--learner.training.max_steps", "60", "--learner.training.eval_frequency", "30"]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 3, out.stderr[-2000:]
    assert "2 of 2 review tasks are not answered yet" in out.stdout + out.stderr


def test_a_given_run_name_without_the_review_part_is_refused(small_corpus, tmp_path) -> None:
    from spacy_llm_loop.annotators.base import as_annotator
    from spacy_llm_loop.errors import LoopError
    from spacy_llm_loop.loop.runner import run_names
    from spacy_llm_loop.loop.settings import load_loop_config, resolve_loop

    plain = "tsn-sim-gpt-4-turbo-entropy-lp-disagree-both-gold3-seed0"  # the project's vars.run, review left out
    config = load_loop_config(ROOT / "configs" / "loop.cfg", {**_settings(small_corpus, tmp_path),
                                                              "loop.run_name": plain}, review={"budget": "10%"})
    settings, _, strategy, annotator = resolve_loop(config)
    with pytest.raises(LoopError, match="tsn-sim-gpt-4-turbo-entropy-lp-disagree-both-gold3-rv10pct-seed0"):
        run_names(settings, as_annotator(annotator), strategy)


@pytest.mark.slow
def test_without_a_gold_seed_the_reviewed_seed_sample_is_the_audits_gold(small_corpus, tmp_path) -> None:
    from spacy_llm_loop.data.own import prepare_corpus
    from spacy_llm_loop.loop.main import run_loop

    texts = [{"text": t["text"]} for t in srsly.read_jsonl(small_corpus / "train.jsonl")]
    srsly.write_jsonl(tmp_path / "pool.jsonl", texts)  # raw text: no seed, no gold anywhere
    (tmp_path / "labels.json").write_text(json.dumps({"PER": "people", "ORG": "organisations", "LOC": "places",
                                                      "DATE": "dates"}), encoding="utf-8")
    prepare_corpus(tmp_path / "corpus", lang="tn", language="Setswana", labels=tmp_path / "labels.json",
                   pool=tmp_path / "pool.jsonl", split_sentences=False)
    settings = {"paths.corpus": str(tmp_path / "corpus"), "paths.runs": str(tmp_path / "runs"), "loop.rounds": 1,
                "loop.query_size": "30", "seed_set.size": "40", "annotator.cache_path": str(tmp_path / "llm.sqlite"),
                "annotator.model_settings.gold": str(small_corpus / "train.spacy")}
    with pytest.raises(ReviewPending, match="round 0: 10 of 10"):
        run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, review={"budget": "10"})
    run = next((tmp_path / "runs").iterdir())
    tasks = list(srsly.read_jsonl(run / "review" / "round-00.jsonl"))
    assert {t["meta"]["review"]["ranking"] for t in tasks} == {"random"}  # a fair sample, not the longest ones
    person = [answer_line(t, ["B-PER" if tok["text"][:1].isupper() else "O" for tok in t["tokens"]], VOCAB)
              for t in tasks]
    _write(run / "review" / "round-00.answers.jsonl", person)
    with pytest.raises(ReviewPending, match="round 1"):  # round 0 trained; round 1 waits for its own review
        run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, review={"budget": "10"})
    audit = srsly.read_json(run / "audit.json")
    assert audit["sentences"] == 10 and audit["gold"].startswith("review") and audit["usage"] is None
    loop = srsly.read_json(run / "loop.json")
    assert loop["seed_source"] == "annotator" and loop["audit"]["ents_f"] == audit["ents_f"]
    labelled = list(srsly.read_jsonl(run / "round-00" / "labelled.jsonl"))
    assert sum(t["meta"]["source"] == "human" for t in labelled) == 10


def test_wait_and_spelt_out_defaults_leave_a_runs_identity_as_it_is(tmp_path) -> None:
    from spacy_llm_loop.loop.state import RunFolder

    same = RunFolder(tmp_path / "run")._comparable
    base = "[loop]\nrounds = 1\n\n"
    block = '[review]\n@misc = "spacy-llm-loop.Review.v1"\n'
    short = base + block + 'budget = "10%"\n'
    spelt = base + block + 'budget = "10%"\nrank = "doubt"\nreviewer = "prodigy"\nwait = false\n'
    assert same("loop_config", short) == same("loop_config", spelt)
    assert same("loop_config", base + block + 'budget = "0"\n') == same("loop_config", base)  # --review 0: none
    assert same("loop_config", short) != same("loop_config", base + block + 'budget = "20%"\n')
    assert same("review", {"budget": "10%", "wait": True}) == same("review", {"budget": "10%", "wait": False})


def test_answers_no_round_counted_are_reported(tmp_path) -> None:
    from spacy_llm_loop.loop.reviewing import REVIEWED, answers_path, tasks_path, unmerged

    tasks = [_task("a"), _task("b")]
    tasks_path(tmp_path, 1).parent.mkdir(parents=True)
    _write(tasks_path(tmp_path, 1), tasks)
    rd = tmp_path / "round-01"
    rd.mkdir()
    _write(rd / REVIEWED, [{"id": "a", "round": 1, "answer": "accept", "tags": GOLD, "llm_tags": LLM,
                            "changed": True, "seconds": None, "words": 8}])
    _write(answers_path(tmp_path, 1), [answer_line(t, GOLD, VOCAB) for t in tasks])  # "b" came after the round
    assert unmerged(tmp_path, rd, 1, VOCAB, ["PER", "ORG", "LOC", "DATE"]) == 1


def test_subsample_and_score_processes_settings_are_checked() -> None:
    from spacy_llm_loop.loop.settings import parse_subsample

    assert parse_subsample(None) is None and parse_subsample("all") is None
    assert str(parse_subsample("25%")) == "25.0%" and parse_subsample("1000").unit == "count"
    with pytest.raises(ValueError, match="not tokens"):
        parse_subsample("4000tok")
