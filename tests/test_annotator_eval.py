"""``annotator-eval``: consistency, Fleiss' kappa, entity scores and format failures of recorded LLM runs."""
import json
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

from spacy_llm_loop.annotator_eval.agreement import (
    consistency,
    entity_agreement,
    fleiss_kappa_runs,
    kappa_exclusion,
    record_consistency,
)
from spacy_llm_loop.annotator_eval.entities import entity_scores, usable_tags
from spacy_llm_loop.annotator_eval.failures import count_failures
from spacy_llm_loop.annotator_eval.recorded import Record, read_recording
from spacy_llm_loop.annotator_eval.report import annotator_eval, evaluate_recorded
from spacy_llm_loop.errors import InputError
from spacy_llm_loop.evaluation.metrics import tag_agreement

from .conftest import DATA_DIR

LLM_DIR = DATA_DIR.parent / "llm-annotations"
WORDS = ["UMandla", "uhambele", "eThekwini", "ngo", "2019"]
GOLD = ["B-PER", "O", "B-LOC", "O", "B-DATE"]


def run(tags: List[Any], words: List[str] = WORDS) -> List[List[Any]]:
    return [[w, t] for w, t in zip(words, tags)]


def record(runs: List[Any], gold: List[str] = GOLD, index: int = 0) -> Record:
    return Record(f"record_{index}", index, WORDS[:len(gold)], gold, runs)


def write_recording(path: Path, records: List[Dict[str, Any]], **extra: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {f"record_{i}": r for i, r in enumerate(records)}
    data.update(extra)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# Fleiss' kappa ------------------------------------------------------------------------------------------

def test_fleiss_kappa_matches_a_hand_computed_example() -> None:
    """4 tokens, 3 runs, 2 tags used. Per token, counts (O, B-PER): (3,0) (2,1) (0,3) (1,2).

    P_i = (sum n_ij^2 - n) / (n (n - 1)): 1, 1/3, 1, 1/3, so P = 2/3; p_O = p_B-PER = 6/12, so P_e = 1/2;
    kappa = (2/3 - 1/2) / (1 - 1/2) = 1/3.
    """
    words = ["a", "b", "c", "d"]
    runs = [run(["O", "O", "B-PER", "O"], words), run(["O", "O", "B-PER", "B-PER"], words),
            run(["O", "B-PER", "B-PER", "B-PER"], words)]
    result = fleiss_kappa_runs([Record("record_0", 0, words, ["O"] * 4, runs)], runs=3)
    assert result["kappa"] == pytest.approx(1 / 3)
    assert result["tokens"] == 4 and result["records_used"] == 1 and result["records_excluded"] == 0


def test_fleiss_kappa_perfect_agreement_and_undefined_case() -> None:
    agreeing = record([run(GOLD)] * 3)
    assert fleiss_kappa_runs([agreeing, record([run(["O", "B-ORG", "I-ORG", "O", "O"])] * 3)], runs=3)["kappa"] == 1.0
    assert fleiss_kappa_runs([record([run(["O"] * 5)] * 3)], runs=3)["kappa"] is None  # chance agreement is 1


@pytest.mark.parametrize("runs,reason", [
    ([run(GOLD)] * 9, "run_count"),
    ([run(GOLD)] * 9 + [[]], "empty_run"),
    ([run(GOLD)] * 9 + [run(GOLD)[:4]], "unequal_length"),
    ([run(GOLD)] * 9 + [run(["B-EVENT", "O", "O", "O", "O"])], "out_of_schema"),
    ([run(GOLD)] * 9 + ["not a run"], "not_a_list"),
])
def test_kappa_exclusion_rule(runs: List[Any], reason: str) -> None:
    why = kappa_exclusion(record(runs))
    assert why is not None and why["reason"] == reason


def test_kappa_keeps_runs_of_equal_but_wrong_length_and_reads_no_tag_as_o() -> None:
    short = [run(GOLD[:4])] * 10  # equal to each other, not to gold: kept
    assert kappa_exclusion(record(short)) is None
    no_tag = [run(GOLD)] * 8 + [run(GOLD[:3]) + [["ngo"], ["2019", "B-DATE"]]] * 2
    explicit_o = [run(GOLD)] * 8 + [run(GOLD[:3] + ["O", "B-DATE"])] * 2
    assert kappa_exclusion(record(no_tag)) is None
    assert fleiss_kappa_runs([record(no_tag)])["kappa"] == fleiss_kappa_runs([record(explicit_o)])["kappa"]


# consistency ------------------------------------------------------------------------------------------

def test_consistency_scores_wrong_length_runs_zero_and_can_count_missing_runs() -> None:
    three_right = run(["B-PER", "O", "O", "O", "O"])  # misses LOC and DATE: 3 of 5 tokens right
    rec = record([run(GOLD), three_right, run(GOLD)[:4]])  # the last is a token short: 0
    assert record_consistency(rec) == pytest.approx((5 + 3 + 0) / 15)
    assert record_consistency(rec, expected_runs=6) == pytest.approx(8 / 30)
    perfect = record([run(GOLD)] * 3, index=1)
    assert consistency([rec, perfect]) == pytest.approx(100 * (8 / 15 + 1) / 2)
    assert consistency([rec, perfect], expected_records=4) == pytest.approx(100 * (8 / 15 + 1) / 4)


# entity scores ------------------------------------------------------------------------------------------

def test_usable_tags_is_what_the_loop_would_keep() -> None:
    assert usable_tags(run(GOLD)[:4], 5) == ["O"] * 5
    assert usable_tags(run(["B-EVENT", "O", None, "O", "B-DATE"]), 5) == ["O", "O", "O", "O", "B-DATE"]


def test_entity_scores_per_type_and_overall_agree_with_tag_agreement() -> None:
    records = [record([run(GOLD), run(["B-PER", "I-PER", "B-LOC", "O", "O"]), run(GOLD)[:3]], index=0),
               record([run(["B-ORG", "O", "B-LOC", "O", "O"])], gold=["B-ORG", "O", "B-LOC", "O", "O"], index=1)]
    scores = entity_scores(records, n_bootstrap=200)
    golds = [GOLD] * 3 + [records[1].gold]
    preds = [GOLD, ["B-PER", "I-PER", "B-LOC", "O", "O"], ["O"] * 5, records[1].gold]
    expected = tag_agreement(golds, preds)
    assert (scores["p"], scores["r"], scores["f"]) == pytest.approx(
        (expected["ents_p"], expected["ents_r"], expected["ents_f"]))
    per_type = scores["per_type"]
    for key in ("tp", "n_pred", "n_gold"):
        assert sum(t[key] for t in per_type.values()) == scores[key]
    assert (per_type["LOC"]["tp"], per_type["LOC"]["n_gold"]) == (3, 4)
    assert per_type["DATE"]["r"] == pytest.approx(1 / 3)
    assert scores["f_ci"][0] <= scores["f"] <= scores["f_ci"][1]
    assert entity_scores(records, n_bootstrap=200) == scores  # fixed seed
    first = entity_scores(records, first_run_only=True, n_bootstrap=50)
    assert first["runs_scored"] == 2 and first["f"] == 1.0


def test_entity_agreement_between_runs() -> None:
    other = run(["B-PER", "O", "O", "O", "B-DATE"])  # misses the LOC
    result = entity_agreement([record([run(GOLD)] * 9 + [other])])
    # pairs among the 9 identical runs: 36 x (2*3)/(3+3); 9 pairs with the other: 2*2 / (3+2)
    assert result["pairwise_entity_f1"] == pytest.approx((36 * 6 + 9 * 4) / (36 * 6 + 9 * 5))
    assert result["unanimous_entity_share"] == pytest.approx(2 / 3)


# format failures ------------------------------------------------------------------------------------------

def test_failures_are_counted_as_recorded_and_with_missing_output(tmp_path: Path) -> None:
    runs = [run(GOLD), run(GOLD)[:4], [], run(["B-EVENT", "O", "O", "O", "B-PROD"]),
            run(GOLD)[:3] + [["ngo"], ["2019", "B-DATE", "x"]], run(GOLD)[:4] + ["2019"]]
    path = write_recording(tmp_path / "m" / "zul.json",
                           [{"tokens": WORDS, "true": GOLD, "pred": runs},
                            {"tokens": WORDS, "true": GOLD, "pred": [run(GOLD)] * 10}])
    failures = count_failures(read_recording(path), expected_runs=10, expected_records=3)
    assert failures["runs_recorded"] == 16 and failures["runs_missing"] == 4 and failures["records_missing"] == 1
    assert failures["missing_record_indices"] == [2] and failures["runs_expected"] == 30
    assert failures["wrong_length_runs"] == {"count": 2, "empty": 1, "not_a_list": 0, "rate": 2 / 16}
    assert failures["failed_runs"]["rate_as_recorded"] == 2 / 16
    assert failures["failed_runs"]["rate_missing_as_failures"] == (2 + 4 + 10) / 30
    assert failures["out_of_schema"]["tags"] == {"B-EVENT": 1, "B-PROD": 1}
    assert failures["out_of_schema"]["runs"] == 1
    assert failures["malformed_items"]["kinds"] == {"1 item": 1, "3 items": 1, "not a list (str)": 1}
    assert failures["malformed_items"]["runs"] == 2


# bad input ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ('{"record_0": {"tokens": ["a"], "true": ["O"],\n "pred": [}', r"zul\.json:2: not valid JSON"),
    ('[1, 2]', r"zul\.json: expected a JSON object"),
    ('{"overall_consistency": 90}', r"zul\.json: no 'record_<i>' keys"),
    ('{"record_0": {"tokens": ["a"], "true": ["O"], "pred": []}, "record_1": {"tokens": ["a"], "pred": []}}',
     r"zul\.json: record 1 \('record_1'\): missing key 'true'"),
    ('{"record_3": {"true": ["O"], "pred": []}}', r"record 3 \('record_3'\): missing key 'tokens'"),
    ('{"record_0": {"tokens": ["a"], "true": ["O"]}}', r"record 0 \('record_0'\): missing key 'pred'"),
    ('{"record_0": {"tokens": ["a", "b"], "true": ["O"], "pred": []}}', r"record 0 .*2 tokens but 1 gold tags"),
    ('{"record_0": "a sentence"}', r"record 0 \('record_0'\): expected an object"),
])
def test_bad_input_names_file_and_record(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "m" / "zul.json"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=expected):
        evaluate_recorded(path)


def test_cli_writes_json_and_markdown_and_fails_cleanly(tmp_path: Path, python: str) -> None:
    folder = tmp_path / "recorded"
    write_recording(folder / "toy-model" / "zul.json",
                    [{"tokens": WORDS, "true": GOLD, "pred": [run(GOLD)] * 10, "consistency": 100.0}],
                    overall_consistency=100.0)
    out, md = tmp_path / "eval.json", tmp_path / "eval.md"
    cmd = [python, "-m", "spacy_llm_loop", "annotator-eval", "--recorded", str(folder), "--output", str(out),
           "--markdown", str(md), "--expected-records", "2", "--bootstrap", "50"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    [row] = json.loads(out.read_text(encoding="utf-8"))["rows"]
    assert (row["model"], row["lang"], row["consistency"]) == ("toy-model", "zul", 100.0)
    assert row["consistency_missing_as_failures"] == 50.0 and row["failures"]["missing_record_indices"] == [1]
    assert "| toy-model | zul | 1 | 100.00 / 50.00 |" in md.read_text(encoding="utf-8")
    (folder / "toy-model" / "bam.json").write_text("not json", encoding="utf-8")
    failed = subprocess.run(cmd, capture_output=True, text=True)
    assert failed.returncode == 1 and "bam.json:1: not valid JSON" in failed.stderr


# the paper's table, on the real recordings ------------------------------------------------------------

@pytest.fixture(scope="module")
def shared_report(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    if not LLM_DIR.exists():
        pytest.skip(f"recorded LLM annotations not found at {LLM_DIR} (next to MASAKHANER_DIR)")
    out = tmp_path_factory.mktemp("annotator-eval")
    result = annotator_eval(LLM_DIR, out / "eval.json", out / "eval.md", expected_records=50, n_bootstrap=200)
    result["markdown_text"] = (out / "eval.md").read_text(encoding="utf-8")
    return result


def _row(result: Dict[str, Any], model: str, lang: str) -> Dict[str, Any]:
    [row] = [r for r in result["rows"] if (r["model"], r["lang"]) == (model, lang)]
    return row


@pytest.mark.parametrize("model,lang,paper_consistency,paper_kappa,paper_excluded", [
    ("gpt-4-turbo", "zul", 93.53, 0.979, 1),
    ("gpt-4-turbo", "bam", 90.02, 0.940, 3),
    ("gpt-4-turbo", "tsn", 89.68, 0.932, 2),
    ("gpt-4-turbo-batch2", "zul", 93.10, 0.973, None),
    ("mistral-7b", "zul", 54.35, None, None),
    ("mistral-7b", "tsn", 42.73, None, None),
])
def test_reproduces_the_papers_table(shared_report: Dict[str, Any], model: str, lang: str, paper_consistency: float,
                                     paper_kappa: float, paper_excluded: int) -> None:
    row = _row(shared_report, model, lang)
    assert row["consistency"] == pytest.approx(paper_consistency, abs=0.02)
    assert row["consistency"] == pytest.approx(row["file_overall_consistency"], abs=0.01)
    assert row["paper_match"]["consistency"] == "as_recorded"
    if paper_kappa is not None:
        assert row["kappa"]["kappa"] == pytest.approx(paper_kappa, abs=0.001)
    if paper_excluded is not None:
        assert row["kappa"]["records_excluded"] == paper_excluded
    assert not row["notes"]


def test_mistral_bam_reports_the_files_figure_and_explains_the_papers(shared_report: Dict[str, Any]) -> None:
    row = _row(shared_report, "mistral-7b", "bam")
    assert row["consistency"] == pytest.approx(40.96, abs=0.01) == row["file_overall_consistency"]
    assert row["consistency_missing_as_failures"] == pytest.approx(40.55, abs=0.02)  # the paper's table
    assert row["paper_match"]["consistency"] == "missing_as_failures"
    assert any("40.55" in note and "40.96" in note for note in row["notes"])
    assert row["failures"]["records_with_missing_runs"] == 6 and row["failures"]["runs_missing"] == 13


def test_entity_figures_are_far_lower_than_token_accuracy(shared_report: Dict[str, Any]) -> None:
    for lang, paper_f1 in (("zul", 0.72), ("bam", 0.58), ("tsn", 0.62)):  # the paper's first-run entity F1
        row = _row(shared_report, "gpt-4-turbo", lang)
        first = row["entities"]["first_run"]
        assert first["f"] == pytest.approx(paper_f1, abs=0.01) and row["paper_match"]["first_run_entity_f1"]
        assert first["f_ci"][0] < first["f"] < first["f_ci"][1]
        assert row["entities"]["all_runs"]["f"] < row["consistency"] / 100 - 0.1
    finding = "Entity-level figures are far lower than token accuracy"
    assert any(text.startswith(finding) for text in shared_report["findings"])
    assert finding in shared_report["markdown_text"]
