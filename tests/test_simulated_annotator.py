"""The SIMULATED annotator: error profiles fitted from recordings, the error model, its spacy-llm model.

Nothing here calls a paid API: the simulated model answers in-process from gold labels and a profile.
The fidelity test simulates the recorded GPT-4-Turbo sentences and scores them with annotator-eval's code.
"""
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
from typer.testing import CliRunner

from spacy_llm_loop.annotator_eval.recorded import SCHEMA, read_recording
from spacy_llm_loop.cli import app
from spacy_llm_loop.llm.models.ledger import summarize
from spacy_llm_loop.llm.pricing import cost_usd, price_for
from spacy_llm_loop.llm.tasks.token_ner.parser import parse_response
from spacy_llm_loop.llm.tasks.token_ner.registry import make_token_ner_task
from spacy_llm_loop.llm.tokens import count_tokens
from spacy_llm_loop.simulate.annotate import ErrorModel, place_spurious
from spacy_llm_loop.simulate.fidelity import TARGETS, fidelity
from spacy_llm_loop.simulate.fit import fit_profile, read_all
from spacy_llm_loop.simulate.model import make_simulated_llm
from spacy_llm_loop.simulate.outcomes import entity_outcome, place_boundary
from spacy_llm_loop.simulate.profile import FORMAT, LanguageTables, load_profile, tables_for
from spacy_llm_loop.simulate.server import SimulatedLLM, parse_prompt
from spacy_llm_loop.simulate.units import FAMILIES

from .conftest import DATA_DIR

RECORDED = DATA_DIR.parent / "llm-annotations" / "gpt-4-turbo"
WORDS = ["UMandla", "uhambele", "eThekwini", "ngo", "2019", "."]
GOLD = ["B-PER", "O", "B-LOC", "O", "B-DATE", "O"]
SENTENCES = [(["Word%d" % i, "uhambele", "Place%d" % i, "ngo", "Mashi", "2019", "."],
              ["B-PER", "O", "B-LOC", "O", "B-DATE", "I-DATE", "O"]) for i in range(6)]
GOLD_OF = {tuple(words): tags for words, tags in SENTENCES}
needs_recordings = pytest.mark.skipif(not RECORDED.exists(), reason=f"recordings not found at {RECORDED}")


def pairs(tags: List[Any], words: List[str] = WORDS) -> List[List[Any]]:
    return [[w, t] for w, t in zip(words, tags)]


def write_recording(path: Path, records: List[Dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({f"record_{i}": r for i, r in enumerate(records)}), encoding="utf-8")
    return path


def toy_recording(tmp_path: Path) -> Path:
    """Two sentences x 10 runs: the LOC always missed (systematic), a spurious ORG on 'ngo' in 3 runs, one run a
    token short, one run with B-EVENT for the DATE."""
    first = [pairs(["B-PER", "O", "O", "B-ORG" if k < 3 else "O", "B-DATE", "O"]) for k in range(10)]
    first[9] = first[9][:-1]
    second = [pairs(GOLD) for _ in range(10)]
    second[4] = pairs(["B-PER", "O", "B-LOC", "O", "B-EVENT", "O"])
    return write_recording(tmp_path / "toy-llm" / "zul.json", [{"tokens": WORDS, "true": GOLD, "pred": first},
                                                               {"tokens": WORDS, "true": GOLD, "pred": second}])


def tiny_profile(**families: Dict[str, Any]) -> Dict[str, Any]:
    """A hand-made profile: ``families`` maps a family to {condition: cell}; the rest stay empty."""
    tables = {family: families.get(family, {}) for family in FAMILIES}
    return {"format": FORMAT, "name": "tiny", "smoothing": 0.0, "languages": {}, "pooled": {"tables": tables}}


def cell(base: Dict[str, int], d: str = "0.0", alternative: Dict[str, int] = None) -> Dict[str, Any]:
    kind = "ok" if set(base) <= {"correct", "none"} else "error"
    return {"units": sum(base.values()), "base": base, "variation": {kind: {d: 1}},
            "alternative": {kind: alternative} if alternative else {}}


def write_conll(path: Path) -> Path:
    path.write_text("\n\n".join("\n".join(f"{w} {t}" for w, t in zip(*s)) for s in SENTENCES) + "\n", encoding="utf-8")
    return path


# outcomes: pure functions --------------------------------------------------------------------------------

@pytest.mark.parametrize("predicted, expected", [
    ([(2, 3, "LOC")], "correct"),
    ([], "missed"),
    ([(2, 3, "PER")], "type:PER"),
    ([(2, 4, "LOC")], "boundary:+0:+1:LOC"),
    ([(1, 3, "ORG")], "boundary:-1:+0:ORG"),
])
def test_entity_outcome(predicted, expected) -> None:
    assert entity_outcome((2, 3, "LOC"), predicted) == expected


def test_entity_outcome_split() -> None:
    assert entity_outcome((0, 3, "DATE"), [(0, 1, "DATE"), (1, 3, "DATE")]) == "split:1:DATE:DATE"


@pytest.mark.parametrize("deltas, span, n, expected", [
    ((0, 1), (2, 3), 6, (2, 4)),      # extended right
    ((0, 3), (2, 3), 4, (2, 4)),      # clipped at the sentence end
    ((0, -1), (2, 3), 6, (2, 4)),     # a one-token entity cannot shrink: it grows instead
    ((1, 0), (0, 3), 6, (1, 3)),      # shrunk from the left
    ((0, 0), (0, 1), 1, None),        # nothing possible in a one-token sentence
])
def test_place_boundary(deltas, span, n, expected) -> None:
    assert place_boundary(*deltas, (*span, "X"), n) == expected


@pytest.mark.parametrize("start, length, free, expected", [
    (1, 2, [True, True, True, False], (1, 3)),
    (2, 2, [True, True, True, False], (1, 3)),    # moved left to fit
    (0, 2, [False, True, True, False], (1, 3)),   # start taken: the next free stretch
    (0, 3, [True, False, True, True, True], (2, 5)),  # the nearest stretch long enough
    (0, 4, [True, False, True, True], (2, 4)),    # none long enough: cut to the longest
    (0, 1, [False, False], None),
])
def test_place_spurious(start, length, free, expected) -> None:
    assert place_spurious(start, length, free) == expected


# calibrate ----------------------------------------------------------------------------------------------

def test_fit_counts_systematic_and_varying_errors(tmp_path) -> None:
    profile = fit_profile([read_recording(toy_recording(tmp_path))])
    zul = profile["languages"]["zul"]
    entity = zul["tables"]["entity"]
    assert entity["LOC:1"]["base"] == {"missed": 1, "correct": 1}
    assert entity["LOC:1"]["variation"] == {"error": {"0.0": 1}, "ok": {"0.0": 1}}
    assert entity["DATE:1"]["alternative"] == {"ok": {"type:EVENT": 1}}
    assert zul["tables"]["token"]["lower"]["alternative"]["ok"] == {"spurious:1:ORG": 1}
    assert zul["tables"]["length"]["all"]["alternative"]["ok"] == {"-1:punct": 1}
    summary = zul["summary"]
    assert summary["entities"]["LOC"]["missed"] == pytest.approx(9 / 19, abs=1e-4)
    assert summary["wrong_length_runs"]["rate"] == pytest.approx(1 / 20, abs=1e-4)
    assert summary["out_of_schema_tags"]["tags"] == {"B-EVENT": 1}
    assert summary["systematic"]["entity"] == pytest.approx(1 / 2)  # the LOC (all runs) vs the DATE (one run)
    assert profile["fitted_from"]["files"][0]["records"] == 2 and profile["fitted_from"]["languages"] == ["zul"]
    assert profile["pooled"]["tables"] == zul["tables"]


def test_bad_recording_names_file_and_record(tmp_path) -> None:
    path = write_recording(tmp_path / "m" / "zul.json", [{"tokens": WORDS, "true": GOLD[:2], "pred": []}])
    with pytest.raises(ValueError, match=r"zul\.json.*record 0"):
        read_all([path])


def test_cli_calibrate_writes_profile_and_fails_cleanly(tmp_path) -> None:
    out = tmp_path / "profile.json"
    result = CliRunner().invoke(app, ["calibrate", "--recorded", str(toy_recording(tmp_path)), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert load_profile(out)["name"] == "toy-llm"
    bad = tmp_path / "bad" / "zul.json"
    bad.parent.mkdir()
    bad.write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(app, ["calibrate", "--recorded", str(bad), "--output", str(tmp_path / "x.json")])
    assert result.exit_code == 1 and "zul.json" in result.output and not (tmp_path / "x.json").exists()


# the packaged profile ------------------------------------------------------------------------------------

def test_packaged_profile_names_its_recordings_and_falls_back_to_pooled() -> None:
    profile = load_profile("gpt-4-turbo")
    files = profile["fitted_from"]["files"]
    assert {(f["model"], f["lang"], f["records"], f["runs"]) for f in files} == {
        ("gpt-4-turbo", lang, 50, 500) for lang in ("bam", "tsn", "zul")}
    assert all(len(f["sha256"]) == 64 and f["path"].endswith(f"gpt-4-turbo/{f['lang']}.json") for f in files)
    assert tables_for(profile, "zul").source == "zul"
    pooled = tables_for(profile, "yor")
    assert pooled.source.startswith("pooled (bam, tsn, zul)") and "'yor'" in pooled.source
    assert pooled.tables is profile["pooled"]["tables"]


@needs_recordings
def test_packaged_profile_is_refitted_from_its_recordings_and_holds_no_sentence() -> None:
    recordings = read_all([RECORDED])
    profile = load_profile("gpt-4-turbo")
    refit = fit_profile(recordings)
    assert refit["pooled"]["tables"] == profile["pooled"]["tables"]
    assert refit["fitted_from"]["files"][0]["sha256"] == profile["fitted_from"]["files"][0]["sha256"]
    text = json.dumps(profile, ensure_ascii=False)
    words = {t for r in recordings for record in r.records for t in record.tokens if len(t) > 6 and t.isalpha()}
    assert words and not [w for w in words if f'"{w}"' in text or f" {w} " in text]


def test_a_file_that_is_not_a_profile_is_named(tmp_path) -> None:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({"format": FORMAT, "name": "x", "languages": {}, "pooled": {"tables": {}}}))
    with pytest.raises(ValueError, match=r"profile\.json: profile tables of 'pooled' lack the families"):
        load_profile(path)
    with pytest.raises(ValueError, match="neither a file nor one of the packaged profiles.*gpt-4-turbo"):
        load_profile("gpt-5")


# the error model ----------------------------------------------------------------------------------------

def test_answer_is_deterministic_and_systematic_errors_repeat() -> None:
    model = ErrorModel(tables_for(load_profile("gpt-4-turbo"), "tsn"), seed=3)
    words, gold = SENTENCES[0]
    runs = [model.answer(words, gold, k) for k in range(30)]
    assert runs == [ErrorModel(model.info, seed=3).answer(words, gold, k) for k in range(30)]  # no hidden state
    always = tiny_profile(entity={"LOC:1": cell({"missed": 1}), "PER:1": cell({"correct": 1})},
                          token={"lower": cell({"spurious:1:ORG": 1}), "punct": cell({"none": 1})})
    fixed = ErrorModel(tables_for(always, None), seed=0)
    answers = {json.dumps(fixed.answer(words, gold, k)) for k in range(5)}
    assert len(answers) == 1
    tags = [t for _, t in fixed.answer(words, gold, 0)]
    assert tags == ["B-PER", "B-ORG", "O", "B-ORG", "O", "O", "O"]  # LOC missed, so is the DATE (a condition
    # without a cell takes the family's distribution); 'uhambele' and 'ngo' spurious


def test_per_run_errors_depend_on_the_run_and_seeded_sentence() -> None:
    half = tiny_profile(entity={"PER:1": cell({"correct": 1}, "0.5", {"type:ORG": 1})})
    words, gold = SENTENCES[0]
    model = ErrorModel(tables_for(half, None), seed=0)
    per_run = [model.answer(words, gold, k)[0][1] for k in range(200)]
    assert set(per_run) == {"B-PER", "B-ORG"} and 70 < per_run.count("B-ORG") < 130
    other_key = [model.answer(words, gold, k, key="another sentence")[0][1] for k in range(200)]
    assert other_key != per_run


def test_format_failures_malformed_length_and_invalid_output() -> None:
    words, gold = SENTENCES[1]
    broken = tiny_profile(items={"all": cell({"1 item:punct": 1})}, length={"all": cell({"-1:word": 1})})
    answer = ErrorModel(tables_for(broken, None), seed=0).answer(words, gold, 0)
    assert len(answer) == len(words) - 1 and [words[-1]] in answer
    invalid = tiny_profile(output={"all": cell({"invalid": 1})})
    text = ErrorModel(tables_for(invalid, None), seed=0).answer(words, gold, 0)
    assert isinstance(text, str) and text.startswith("[[") and not text.endswith("]]")


# fidelity ------------------------------------------------------------------------------------------------

@needs_recordings
def test_fidelity_in_calibration_meets_the_targets() -> None:
    """Mean over 20 seeds (one seed is one draw of the 50 sentences' systematic errors: SD about a point)."""
    result = fidelity(read_all([RECORDED]), load_profile("gpt-4-turbo"), seeds=range(20), leave_one_out=False)
    assert [row["lang"] for row in result["in_sample"]] == ["bam", "tsn", "zul"]
    for row in result["in_sample"]:
        assert row["tables"] == row["lang"]
        delta = row["delta"]
        assert abs(delta["consistency"]) <= TARGETS["consistency"], row
        assert abs(delta["kappa"]) <= TARGETS["kappa"], row
        assert abs(delta["entity_f1"]) <= TARGETS["entity_f1"], row


# the spacy-llm model and the server --------------------------------------------------------------------

def test_simulated_model_answers_real_prompts_through_cache_and_ledger(tmp_path) -> None:
    task = make_token_ner_task(lang="zul", sentences_per_request=2)
    prompts = [task.render([words for words, _ in SENTENCES[i:i + 2]]) for i in range(0, 6, 2)]
    model = make_simulated_llm(gold=str(write_conll(tmp_path / "gold.txt")), profile=None,
                               cache_path=str(tmp_path / "cache.sqlite"), ledger_path=str(tmp_path / "ledger.jsonl"))
    assert model.name == "sim-gold" and model.provider.name == "simulated"
    answers = model.complete(prompts)
    for prompt, answer in zip(prompts, answers):
        sentences, kind = parse_prompt(prompt)
        parsed = parse_response(answer, sentences, SCHEMA)
        assert kind == "token_ner" and [p.tags for p in parsed] == [GOLD_OF[tuple(s)] for s in sentences]
    records = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    assert [r["outcome"] for r in records] == ["ok"] * 3
    assert sorted(r["input_tokens"] for r in records) == sorted(count_tokens(p) for p in prompts)
    assert [r["output_tokens"] for r in records] == [count_tokens(str(a)) for a in answers]
    model.complete(prompts)
    usage = summarize([json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()])
    assert usage["cache_hits"] == 3 and usage["http_requests"] == 3 and len(model.simulated.log) == 3


def test_simulated_model_errs_with_a_profile_and_counts_runs(tmp_path) -> None:
    gold = str(write_conll(tmp_path / "gold.txt"))
    task = make_token_ner_task(lang="tsn", sentences_per_request=1)
    prompt = task.render([SENTENCES[0][0]])
    model = make_simulated_llm(gold=gold, lang="tsn", seed=5, ledger_path=str(tmp_path / "ledger.jsonl"))
    assert model.name == "sim-gpt-4-turbo" and model.budget.price == (0.01, 0.03)
    texts = [str(model.complete([prompt])[0]) for _ in range(3)]
    assert [entry["run"] for entry in model.simulated.log] == [0, 1, 2]
    expected = ErrorModel(tables_for(load_profile("gpt-4-turbo"), "tsn"), seed=5)
    for k, text in enumerate(texts):
        assert json.loads(text)["sentences"][0]["output"] == expected.answer(*SENTENCES[0], k)
    paid = summarize(model.ledger.iter_records())
    assert cost_usd(model.budget.price, paid["input_tokens"], paid["output_tokens"]) > 0
    fixed = make_simulated_llm(gold=gold, lang="tsn", seed=5, run=1)
    assert {str(fixed.complete([prompt])[0]) for _ in range(3)} == {texts[1]}


def test_simulated_model_name_must_say_simulated(tmp_path) -> None:
    with pytest.raises(ValueError, match="sim-"):
        make_simulated_llm(gold=str(write_conll(tmp_path / "gold.txt")), name="gpt-4-turbo")


def test_model_is_registered() -> None:
    from spacy_llm.registry import registry

    assert registry.llm_models.get("spacy-llm-loop.SimulatedLLM.v1") is make_simulated_llm


def test_server_combines_profile_errors_and_faults() -> None:
    words, gold = SENTENCES[0]
    errors = ErrorModel(LanguageTables("tiny", None, "pooled", tiny_profile(
        token={"lower": cell({"spurious:1:ORG": 1}), "punct": cell({"none": 1})})["pooled"]["tables"], 0.0))
    simulated = SimulatedLLM({tuple(words): gold}, errors=errors, fault_rate=1.0, faults=("skip_token",))
    prompt = "Label these.\nInput: " + json.dumps({"sentences": [{"id": 1, "tokens": words}]}) + "\nOutput:"
    status, text, _ = simulated.handle(prompt)
    output = json.loads(text)["sentences"][0]["output"]
    expected = errors.answer(words, gold, 0)
    assert status == 200 and len(output) == len(words) - 1 and "B-ORG" in [t for _, t in output]
    assert output == expected[:len(words) // 2] + expected[len(words) // 2 + 1:]


def test_the_loop_default_annotator_is_the_simulated_gpt_4_turbo(small_corpus, tmp_path) -> None:
    """`loop` on its defaults labels with the SIMULATED GPT-4-Turbo: real prompts, parser, cache, ledger and price."""
    from spacy_llm_loop.loop.main import run_loop

    from .conftest import FAST_TRAINING, ROOT

    cache = tmp_path / "llm.sqlite"
    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 1, "loop.query_size": "24", "seed_set.size": "48", "annotator.cache_path": str(cache)}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING)
    assert result["run"] == "tsn-sim-gpt-4-turbo-entropy-lp-disagree-both-gold3-seed0"
    assert result["annotator"] == "sim-gpt-4-turbo" and result["label_policy"]["name"] == "disagree-both-gold3"
    annotation = result["rounds"][1]["annotation"]
    usage = annotation["usage"]
    assert usage["http_requests"] == 12 and usage["cache_hits"] == 0 and usage["input_tokens"] > 0
    # the estimate logged before asking rendered the same prompts: it lands near what was billed
    estimate = annotation["estimate"]
    assert estimate["sentences"] == 24 and 0.8 < estimate["input_tokens"] / usage["input_tokens"] < 1.2
    price = price_for("gpt-4-turbo")
    assert usage["cost_usd"] == pytest.approx(cost_usd(price, usage["input_tokens"], usage["output_tokens"]))
    # GPT-4-Turbo's errors: labels below gold quality (the recorded tsn consistency is 89.7), yet mostly right
    assert 0.7 < annotation["token_accuracy"] < 0.99 and annotation["n_received"] + annotation["n_dropped"] == 24
    logged = [json.loads(line) for line in (tmp_path / "runs" / result["run"] / "round-01" / "annotations.jsonl")
              .read_text().splitlines()]
    assert {r["source"] for r in logged} == {"llm:sim-gpt-4-turbo"}
    # a second run (another folder) asks the same prompts: all from the cache, nothing paid again
    settings["paths.runs"] = str(tmp_path / "again")
    again = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING)
    assert again["rounds"][1]["annotation"]["usage"]["cache_hits"] == 12
    assert again["rounds"][1]["annotation"]["token_accuracy"] == annotation["token_accuracy"]
