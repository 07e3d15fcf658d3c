"""The hardness-aware SIMULATED annotator: v2 error profiles, hardness files and the error model's hardness condition.

No training here: tables are hand-made and hardness files are written in ``tmp_path``.
"""
import json
from typing import Any, Dict, List

import pytest

from spacy_llm_loop.annotator_eval.recorded import read_recording
from spacy_llm_loop.annotators.base import annotator_block
from spacy_llm_loop.llm.tasks.token_ner.registry import make_token_ner_task
from spacy_llm_loop.simulate.annotate import ErrorModel, sentence_key
from spacy_llm_loop.simulate.draws import OutcomeTables
from spacy_llm_loop.simulate.fit import fit_hardness_profile, fit_profile, read_all
from spacy_llm_loop.simulate.hardness import Hardness, from_rows, hardness_bucket, hardness_row, read_hardness
from spacy_llm_loop.simulate.model import make_simulated_llm
from spacy_llm_loop.simulate.profile import FORMAT, FORMAT_V2, load_profile, packaged_profiles, tables_for
from spacy_llm_loop.simulate.reference import reference_samples
from spacy_llm_loop.simulate.units import FAMILIES

from .test_simulated_annotator import (
    GOLD,
    RECORDED,
    SENTENCES,
    WORDS,
    cell,
    needs_recordings,
    pairs,
    tiny_profile,
    write_conll,
    write_recording,
)

V2_NAME = "gpt-4-turbo-hardness"


def tiny_v2(entity: Dict[str, Any], hard: Dict[str, Any], smoothing: float = 0.0,
            learner_spans: Dict[str, float] = None) -> Dict[str, Any]:
    """A hand-made v2 profile: bucket-free ``entity`` cells and bucket cells ``hard`` (pooled only)."""
    profile = tiny_profile(entity=entity)
    profile["format"] = FORMAT_V2
    profile["pooled"]["hardness_tables"] = {"entity": hard}
    profile["hardness"] = {"buckets": ["hard", "unsure", "easy"], "cuts": [0.2, 0.8], "smoothing": smoothing,
                           "learner_spans": {k: {"share": v} for k, v in (learner_spans or {}).items()}}
    return profile


def one_per_sentence(n: int) -> List[List[str]]:
    """``n`` distinct sentences, each with a one-token PER (so each has its own systematic draw)."""
    return [[f"Name{i}", "uhambele", "ekhaya", "."] for i in range(n)]


def hardness_of(sentences: List[List[str]], p: float) -> Hardness:
    return from_rows(hardness_row(words, [(0, 1, "PER", p)], []) for words in sentences)


# buckets and the file ------------------------------------------------------------------------------------

def test_buckets_cut_at_the_policy_threshold_and_at_0_8() -> None:
    assert [hardness_bucket(p) for p in (0.0, 0.199, 0.2, 0.79, 0.8, 1.0)] == \
        ["hard", "hard", "unsure", "unsure", "easy", "easy"]
    assert hardness_bucket(0.5, [0.2], ["low", "high"]) == "high"
    with pytest.raises(ValueError, match="2 cuts need 3 bucket names"):
        hardness_bucket(0.5, [0.2, 0.8], ["low", "high"])


def test_hardness_file_round_trip_and_lookup(tmp_path) -> None:
    path = tmp_path / "hardness.jsonl"
    rows = [hardness_row(WORDS, [(0, 1, "PER", 0.05), (2, 3, "LOC", 0.9), (4, 5, "DATE", 0.3)],
                         [(0, 2, "PER", 0.6), (2, 3, "ORG", 0.1), (3, 4, "ORG", 0.2)], "s1")]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    lookup = read_hardness(path)
    key = sentence_key(WORDS)
    assert key in lookup and len(lookup) == 1 and lookup.p(key, (2, 3, "LOC")) == 0.9
    assert [lookup.bucket(key, s) for s in ((0, 1, "PER"), (2, 3, "LOC"), (4, 5, "DATE"))] == \
        ["hard", "easy", "unsure"]
    assert lookup.bucket(key, (1, 2, "PER")) is None and lookup.bucket("unknown", (0, 1, "PER")) is None
    assert lookup.candidate(key, (0, 1, "PER"), "boundary") == (0, 2, "PER", 0.6)
    assert lookup.candidate(key, (2, 3, "LOC"), "type") == (2, 3, "ORG", 0.1)
    assert lookup.candidate(key, (4, 5, "DATE"), "boundary") is None
    assert lookup.spurious(key) == [(3, 4, "ORG", 0.2)]


def test_a_missing_or_broken_hardness_file_is_named_with_the_script_that_makes_it(tmp_path) -> None:
    missing = tmp_path / "corpus" / "hardness.jsonl"
    with pytest.raises(ValueError, match=r"hardness\.jsonl.*not found.*bench/hardness_file\.py"):
        read_hardness(missing)
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(hardness_row(WORDS, [], [])) + "\n{\"tokens\": 3}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.jsonl:2.*not a hardness row"):
        read_hardness(broken)


def test_the_simulated_model_names_a_missing_hardness_file(tmp_path) -> None:
    gold = str(write_conll(tmp_path / "gold.txt"))
    missing = tmp_path / "corpus" / "hardness.jsonl"
    with pytest.raises(ValueError, match=r"corpus/hardness\.jsonl.*bench/hardness_file\.py"):
        make_simulated_llm(gold=gold, profile=V2_NAME, hardness=str(missing))
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps(hardness_row(["not", "these"], [], [])) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="holds none of the 6 sentences"):
        make_simulated_llm(gold=gold, profile=V2_NAME, hardness=str(other))
    with pytest.raises(ValueError, match="needs a v2 error profile"):
        make_simulated_llm(gold=gold, profile="gpt-4-turbo", hardness=str(other))


def test_the_short_name_points_at_the_corpus_hardness_file() -> None:
    block = annotator_block("sim-gpt-4-turbo-hard")
    assert block["config"] == "sim-gpt-4-turbo-hard"
    assert block["model_settings"] == {"gold": "${paths.corpus}/train.spacy",
                                       "hardness": "${paths.corpus}/hardness.jsonl"}
    assert annotator_block("sim-gpt-4-turbo")["model_settings"] == {"gold": "${paths.corpus}/train.spacy"}


def test_reference_samples_are_disjoint_and_leave_out_the_excluded() -> None:
    keys = [f"s{i}" for i in range(50)]
    first, second = reference_samples(keys, size=10, exclude=["s1", "s2"])
    assert len(first) == len(second) == 10 and not set(first) & set(second) and not {1, 2} & set(first + second)
    assert reference_samples(keys, size=10, exclude=["s1", "s2"]) == [first, second]  # fixed seed
    with pytest.raises(ValueError, match="too few"):
        reference_samples(keys, size=30)


# profiles ------------------------------------------------------------------------------------------------

def test_v2_profile_loads_and_is_checked(tmp_path) -> None:
    path = tmp_path / "v2.json"
    profile = tiny_v2({"PER:1": cell({"correct": 1})}, {"PER:1:hard": cell({"missed": 1})})
    path.write_text(json.dumps(profile), encoding="utf-8")
    loaded = tables_for(load_profile(path), "zul")
    assert loaded.hardness_tables == {"entity": {"PER:1:hard": cell({"missed": 1})}}
    assert loaded.hardness_smoothing == 0.0 and loaded.learner_spans == {}
    v1 = tables_for(tiny_profile(), None)
    assert v1.hardness_tables is None and v1.learner_spans is None
    del profile["hardness"]
    path.write_text(json.dumps(profile), encoding="utf-8")
    with pytest.raises(ValueError, match=r"v2\.json: error profile without 'hardness'"):
        load_profile(path)
    profile = tiny_v2({}, {})
    del profile["pooled"]["hardness_tables"]
    path.write_text(json.dumps(profile), encoding="utf-8")
    with pytest.raises(ValueError, match="'pooled' has no hardness_tables"):
        load_profile(path)
    path.write_text(json.dumps({**tiny_profile(), "format": "spacy-llm-loop.error-profile.v3"}), encoding="utf-8")
    with pytest.raises(ValueError, match=f"{FORMAT}.*{FORMAT_V2}"):
        load_profile(path)


def test_bucket_cells_are_smoothed_towards_the_bucket_free_condition() -> None:
    tables = OutcomeTables({"entity": {"PER:1": cell({"correct": 3, "missed": 1})}}, 0.0,
                           {"entity": {"PER:1:hard": cell({"missed": 2})}}, conditioned_smoothing=2.0)
    outcomes, cumulative = tables.get_conditioned("entity", "PER:1", "hard", "base")
    probs = dict(zip(outcomes, [cumulative[0]] + [b - a for a, b in zip(cumulative, cumulative[1:])]))
    assert probs == pytest.approx({"correct": 2 * 0.75 / 4, "missed": (2 + 2 * 0.25) / 4})
    assert tables.get_conditioned("entity", "PER:1", "easy", "base") == tables.get("entity", "PER:1", "base")


def test_without_hardness_a_v2_profile_answers_as_its_v1_tables() -> None:
    entity = {"PER:1": cell({"correct": 3, "missed": 1}, "0.3", {"type:ORG": 1}),
              "LOC:1": cell({"correct": 1, "type:ORG": 1})}
    v2 = tiny_v2(entity, {"PER:1:hard": cell({"missed": 5})}, learner_spans={"boundary": 1.0})
    v1 = tiny_profile(entity=entity)
    for words, gold in SENTENCES:
        assert [ErrorModel(tables_for(v2, None), 4).answer(words, gold, k) for k in range(5)] == \
            [ErrorModel(tables_for(v1, None), 4).answer(words, gold, k) for k in range(5)]


def test_the_hard_bucket_changes_the_miss_rate_in_the_intended_direction() -> None:
    v2 = tiny_v2({"PER:1": cell({"correct": 8, "missed": 2})},
                 {"PER:1:hard": cell({"correct": 2, "missed": 8}), "PER:1:easy": cell({"correct": 10})},
                 smoothing=2.0)
    sentences = one_per_sentence(400)
    tables = tables_for(v2, None)

    def miss_rate(hardness: Any) -> float:
        model = ErrorModel(tables, seed=0, hardness=hardness)
        return sum(model.answer(w, ["B-PER", "O", "O", "O"], 0)[0][1] == "O" for w in sentences) / len(sentences)

    none, hard, easy = miss_rate(None), miss_rate(hardness_of(sentences, 0.05)), miss_rate(hardness_of(sentences, 0.9))
    assert 0.12 < none < 0.28  # the bucket-free 2 in 10
    assert 0.55 < hard < 0.8 and easy < 0.1  # (8 + 2 * 0.2) / 12 = 0.70 and (0 + 2 * 0.2) / 12 = 0.03


def test_errors_follow_the_reference_learners_guess_as_often_as_fitted() -> None:
    words, gold = ["Ku", "Mandla", "Dube", "wathi", "ekhaya", "."], ["O", "B-PER", "O", "O", "O", "O"]
    rows = [hardness_row(words, [(1, 2, "PER", 0.1)], [(1, 3, "PER", 0.7), (4, 5, "LOC", 0.3)])]
    lookup = from_rows(rows)
    always = tiny_v2({"PER:1": cell({"boundary:-1:+0:=": 1})}, {}, learner_spans={"boundary": 1.0})
    tags = [t for _, t in ErrorModel(tables_for(always, None), hardness=lookup).answer(words, gold, 0)]
    assert tags == ["O", "B-PER", "I-PER", "O", "O", "O"]  # the learner's (1, 3), not the drawn (0, 2)
    never = tiny_v2({"PER:1": cell({"boundary:-1:+0:=": 1})}, {}, learner_spans={"boundary": 0.0})
    tags = [t for _, t in ErrorModel(tables_for(never, None), hardness=lookup).answer(words, gold, 0)]
    assert tags == ["B-PER", "I-PER", "O", "O", "O", "O"]
    spurious = tiny_profile(entity={"PER:1": cell({"correct": 1})},
                            token={"cap": cell({"spurious:1:ORG": 1}), "lower": cell({"none": 1}),
                                   "punct": cell({"none": 1})})
    spurious.update({k: v for k, v in tiny_v2({}, {}, learner_spans={"spurious": 1.0}).items()
                     if k in ("format", "hardness")})
    spurious["pooled"]["hardness_tables"] = {"entity": {}}
    tags = [t for _, t in ErrorModel(tables_for(spurious, None), hardness=lookup).answer(words, gold, 0)]
    assert tags == ["O", "B-PER", "B-ORG", "O", "B-LOC", "O"]  # 'Ku' moved onto the learner's LOC; 'Dube' stays


# fitting -------------------------------------------------------------------------------------------------

def test_fit_counts_bucket_cells_and_the_learners_guesses(tmp_path) -> None:
    first = [pairs(["B-PER", "O", "O", "O", "B-DATE", "O"]) for _ in range(10)]  # LOC always missed
    second = [pairs(["B-PER", "O", "B-LOC", "I-LOC", "B-DATE", "O"]) for _ in range(10)]  # LOC one token long
    other = ["Sipho", "uhambele", "eGoli", "ngo", "2020", "."]
    path = write_recording(tmp_path / "toy-llm" / "zul.json", [
        {"tokens": WORDS, "true": GOLD, "pred": first},
        {"tokens": other, "true": GOLD, "pred": [[[w, t] for w, (_, t) in zip(other, run)] for run in second]}])
    recording = read_recording(path)
    lookup = from_rows([hardness_row(WORDS, [(0, 1, "PER", 0.9), (2, 3, "LOC", 0.1), (4, 5, "DATE", 0.8)], []),
                        hardness_row(other, [(0, 1, "PER", 0.9), (2, 3, "LOC", 0.5), (4, 5, "DATE", 0.8)],
                                     [(2, 4, "LOC", 0.4)])])
    profile = fit_hardness_profile([recording], lookup, smoothing=3.0, reference={"learner": "toy"})
    assert profile["format"] == FORMAT_V2 and profile["hardness"]["smoothing"] == 3.0
    cells = profile["languages"]["zul"]["hardness_tables"]["entity"]
    assert cells["LOC:1:hard"]["base"] == {"missed": 1} and cells["LOC:1:unsure"]["base"] == {"boundary:+0:+1:=": 1}
    assert cells["PER:1:easy"]["units"] == 2 and "PER:1:hard" not in cells
    assert profile["pooled"]["hardness_tables"] == profile["languages"]["zul"]["hardness_tables"]
    spans = profile["hardness"]["learner_spans"]
    assert (spans["boundary"]["matched"], spans["boundary"]["with_guess"], spans["boundary"]["errors"]) == (10, 10, 10)
    assert spans["boundary"]["share"] == 1.0 and spans["type"]["errors"] == 0
    assert profile["hardness"]["entities_with_hardness"] == 6
    # its v1 part is the v1 fit, unchanged
    v1 = fit_profile([recording])
    assert profile["languages"]["zul"]["tables"] == v1["languages"]["zul"]["tables"]
    assert profile["pooled"]["tables"] == v1["pooled"]["tables"]


# the packaged v2 profile and model -----------------------------------------------------------------------

def test_the_v2_profile_is_packaged_and_the_model_uses_a_hardness_file(tmp_path) -> None:
    assert V2_NAME in packaged_profiles()
    profile = load_profile(V2_NAME)
    assert profile["format"] == FORMAT_V2 and profile["name"] == "gpt-4-turbo"
    assert set(profile["languages"]) == {"bam", "tsn", "zul"}
    assert all(f in profile["pooled"]["tables"] for f in FAMILIES)
    assert {c.rsplit(":", 1)[1] for c in profile["pooled"]["hardness_tables"]["entity"]} == {"hard", "unsure", "easy"}
    gold = str(write_conll(tmp_path / "gold.txt"))
    path = tmp_path / "hardness.jsonl"
    path.write_text("\n".join(json.dumps(hardness_row(w, [(0, 1, "PER", 0.01), (2, 3, "LOC", 0.01),
                                                          (4, 6, "DATE", 0.95)], [(0, 2, "PER", 0.5)]))
                              for w, _ in SENTENCES) + "\n", encoding="utf-8")
    model = make_simulated_llm(gold=gold, profile=V2_NAME, lang="zul", seed=2, hardness=str(path))
    plain = make_simulated_llm(gold=gold, profile=V2_NAME, lang="zul", seed=2)
    assert "/hardness-" in model.url and "/hardness-" not in plain.url
    prompt = make_token_ner_task(lang="zul", sentences_per_request=1).render([SENTENCES[0][0]])
    expected = ErrorModel(tables_for(profile, "zul"), seed=2, hardness=read_hardness(path))
    answers = [json.loads(str(model.complete([prompt])[0]))["sentences"][0]["output"] for _ in range(3)]
    assert answers == [expected.answer(*SENTENCES[0], k) for k in range(3)]


@needs_recordings
def test_the_packaged_v2_profile_holds_no_sentence_and_its_v1_part_is_the_v1_profile() -> None:
    recordings = read_all([RECORDED])
    profile, v1 = load_profile(V2_NAME), load_profile("gpt-4-turbo")
    assert profile["pooled"]["tables"] == v1["pooled"]["tables"]
    assert all(profile["languages"][lang]["tables"] == v1["languages"][lang]["tables"] for lang in v1["languages"])
    text = json.dumps(profile, ensure_ascii=False)
    words = {t for r in recordings for record in r.records for t in record.tokens if len(t) > 6 and t.isalpha()}
    assert words and not [w for w in words if f'"{w}"' in text or f" {w} " in text]


def test_the_packaged_annotator_config_is_the_simulated_one_with_the_v2_profile() -> None:
    from spacy_llm_loop.package_data import annotator_config_text

    hard, plain = annotator_config_text("sim-gpt-4-turbo-hard"), annotator_config_text("sim-gpt-4-turbo")
    assert f'profile = "{V2_NAME}"' in hard and "hardness = null" in hard
    assert hard.split("[nlp]")[1].replace(f'profile = "{V2_NAME}"\nhardness = null\nname = "sim-gpt-4-turbo-hard"\n',
                                          'profile = "gpt-4-turbo"\n') == plain.split("[nlp]")[1]
