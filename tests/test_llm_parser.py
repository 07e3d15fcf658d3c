"""The TokenNER response parser: a table of responses (every failure mode the recorded outputs contain)."""
import json
import unicodedata
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from spacy_llm_loop.data.iob import iob_problems, iob_tagset
from spacy_llm_loop.llm.tasks.token_ner.parser import PROBLEMS, load_json, parse_response

from .conftest import DATA_DIR

TAGSET = iob_tagset()
S1 = ["UMandla", "uhambele", "eThekwini", "."]
T1 = ["B-PER", "O", "B-LOC", "O"]
S2 = ["Ngo", "2019", "kwa", "Sasol"]
T2 = ["O", "B-DATE", "O", "B-ORG"]
LLM_DIR = DATA_DIR.parent / "llm-annotations"


def pairs(words: List[str], tags: List[str]) -> List[List[str]]:
    return [[w, t] for w, t in zip(words, tags)]


def answer(*outputs: Any, ids: Optional[List[int]] = None) -> str:
    ids = ids or list(range(1, len(outputs) + 1))
    return json.dumps({"sentences": [{"id": i, "output": o} for i, o in zip(ids, outputs)]}, ensure_ascii=False)


GOOD = answer(pairs(S1, T1), pairs(S2, T2))
CUT_IN_2 = GOOD[: GOOD.index("Sasol") - 3]

# (name, response, expected tags for S1 and S2 under "drop", problems of S1 and S2)
TABLE = [
    ("valid", GOOD, [T1, T2], [{}, {}]),
    ("code fence", f"```json\n{GOOD}\n```", [T1, T2], [{}, {}]),
    ("prose around", f"Here you are:\n{GOOD}\nHope this helps.", [T1, T2], [{}, {}]),
    ("brackets in prose before", f"Here are the [token, tag] pairs: {GOOD}", [T1, T2], [{}, {}]),
    ("brackets in prose after", f"{GOOD}\nEach item is [token, tag]; {{O}} is outside.", [T1, T2], [{}, {}]),
    ("brackets in prose around a fence", f"The [token, tag] pairs:\n```json\n{GOOD}\n```\nAll [4] types.",
     [T1, T2], [{}, {}]),
    ("JSON list in prose before", f'Tags used: ["B-PER", "B-LOC"]. Output: {GOOD}', [T1, T2], [{}, {}]),
    ("brackets in prose, answer cut short", f"Here are the [token, tag] pairs: {CUT_IN_2}", [T1, None],
     [{}, {"truncated_json": 1}]),
    ("record without id before one with", json.dumps({"sentences": [{"output": pairs(S2, T2)},
                                                                    {"id": 1, "output": pairs(S1, T1)}]}),
     [T1, T2], [{}, {}]),
    ("reordered records", answer(pairs(S2, T2), pairs(S1, T1), ids=[2, 1]), [T1, T2], [{}, {}]),
    ("ids as strings", GOOD.replace('"id": 1', '"id": "1"').replace('"id": 2', '"id": "2"'), [T1, T2], [{}, {}]),
    ("empty response", "", [None, None], [{"request_failed": 1}, {"request_failed": 1}]),
    ("no JSON at all", "I cannot help with that.", [None, None], [{"invalid_json": 1}, {"invalid_json": 1}]),
    ("truncated in sentence 2", CUT_IN_2, [T1, None], [{}, {"truncated_json": 1}]),
    ("missing sentence", answer(pairs(S1, T1)), [T1, None], [{}, {"missing_sentence": 1}]),
    ("trailing comma (invalid JSON)", GOOD[:-2] + ",]}", [None, None],
     [{"invalid_json": 1}, {"invalid_json": 1}]),
    ("skipped token", answer(pairs(S1, T1)[:3], pairs(S2, T2)), [None, T2], [{"length_mismatch": 1}, {}]),
    ("extra token", answer(pairs(S1, T1) + [["!", "O"]], pairs(S2, T2)), [None, T2], [{"length_mismatch": 1}, {}]),
    ("token differs", answer([["Mandla", "B-PER"]] + pairs(S1, T1)[1:], pairs(S2, T2)), [None, T2],
     [{"token_mismatch": 1}, {}]),
    ("tag outside the schema", answer(pairs(S1, ["B-EVENT", "O", "B-LOC", "O"]), pairs(S2, T2)), [None, T2],
     [{"unknown_tag": 1}, {}]),
    ("two tags in one", answer(pairs(S1, ["B-PER", "O", "B-LOC, I-ORG", "O"]), pairs(S2, T2)), [None, T2],
     [{"unknown_tag": 1}, {}]),
    ("punctuation as tag", answer(pairs(S1, T1[:3] + ["."]), pairs(S2, T2)), [None, T2], [{"unknown_tag": 1}, {}]),
    ("I- after O", answer(pairs(S1, ["I-PER", "O", "B-LOC", "O"]), pairs(S2, T2)), [None, T2],
     [{"invalid_iob": 1}, {}]),
    ("one-element item", answer(pairs(S1, T1)[:3] + [["."]], pairs(S2, T2)), [None, T2],
     [{"malformed_item": 1}, {}]),
    ("two tokens in one item", answer(pairs(S1, T1)[:1] + [["uhambele", "eThekwini", "O"]] + pairs(S1, T1)[3:],
                                      pairs(S2, T2)), [None, T2], [{"malformed_item": 1}, {}]),
]


@pytest.mark.parametrize("name,response,expected,problems", TABLE, ids=[row[0] for row in TABLE])
def test_drop_policy(name: str, response: str, expected, problems: List[Dict[str, int]]) -> None:
    results = parse_response(response, [S1, S2], TAGSET, "drop")
    assert [r.tags for r in results] == expected
    for result, wanted in zip(results, problems):
        assert set(result.problems) == set(wanted), (name, result.problems)
        for problem, count in wanted.items():
            assert result.problems[problem] >= count
        assert (result.tags is None) == bool(result.error)
        assert result.tags is not None or result.repairs == []  # a dropped sentence carries no repairs


@pytest.mark.parametrize("name,response,expected,problems", TABLE, ids=[row[0] for row in TABLE])
def test_repair_policy_records_every_repair(name: str, response: str, expected, problems) -> None:
    """Under ``repair`` every sentence kept is valid IOB2 of the input's length, and every change is recorded."""
    results = parse_response(response, [S1, S2], TAGSET, "repair")
    for result, words, wanted in zip(results, [S1, S2], problems):
        assert set(result.problems) == set(wanted), (name, result.problems)
        if result.tags is None:
            assert result.error and set(result.problems) & {"request_failed", "truncated_json", "missing_sentence",
                                                            "invalid_json", "length_mismatch", "token_mismatch"}
            continue
        assert len(result.tags) == len(words)
        assert set(result.tags) <= set(TAGSET) and not iob_problems(result.tags)
        assert bool(result.repairs) == bool(result.problems)


@pytest.mark.parametrize("response,tags", [
    (answer(pairs(S1, ["I-PER", "O", "B-LOC", "O"])), ["B-PER", "O", "B-LOC", "O"]),
    (answer(pairs(S1, ["b-per", "O", "B_LOC", "O"])), ["B-PER", "O", "B-LOC", "O"]),
    (answer(pairs(S1, ["B-EVENT", "O", "B-LOC", "O"])), ["O", "O", "B-LOC", "O"]),
    (answer(pairs(S1, T1)[:1] + [["x", "O"]] + pairs(S1, T1)[1:]), T1),             # extra token ignored
    (json.dumps({"output": pairs(S1, T1)}), T1),                                    # single record, no list
    (json.dumps(pairs(S1, T1)), T1),                                                # bare pair list
])
def test_repairs_single_sentence(response: str, tags: List[str]) -> None:
    [result] = parse_response(response, [S1], TAGSET, "repair")
    assert result.tags == tags


def test_skipped_token_read_as_o_when_enough_aligns() -> None:
    [result] = parse_response(answer(pairs(S1, T1)[:3]), [S1], TAGSET, "repair", min_aligned=0.75)
    assert result.tags == ["B-PER", "O", "B-LOC", "O"]
    assert result.problems == {"length_mismatch": 1} and "read as 'O'" in result.repairs[0]


def test_badly_misaligned_output_is_dropped_even_under_repair() -> None:
    [result] = parse_response(answer([["a", "O"], ["b", "O"]]), [S1], TAGSET, "repair")
    assert result.tags is None and "length_mismatch" in result.error


def test_cut_after_a_closing_bracket_is_truncation() -> None:
    """A response cut right after a ``]`` (common: every pair ends in one) is truncated, never repaired."""
    cut = GOOD[: GOOD.index('["Sasol"')].rstrip(", ")
    for policy in ("drop", "repair"):
        results = parse_response(cut, [S1, S2], TAGSET, policy)  # type: ignore[arg-type]
        assert results[0].tags == T1 and results[1].tags is None and "truncated_json" in results[1].problems
    cut_in_first = answer(pairs(S1, T1), pairs(S2, T2))[: GOOD.index('["eThekwini"') - 2]
    [first, second] = parse_response(cut_in_first, [S1, S2], TAGSET, "repair")
    assert first.tags is None and "truncated_json" in first.problems and second.tags is None


def test_finish_reason_length_marks_truncation() -> None:
    broken = GOOD[:-3]  # not balanced either way
    assert "truncated_json" in parse_response(broken, [S1, S2], TAGSET, "repair", cut_short=True)[1].problems


def test_ids_counted_from_zero() -> None:
    results = parse_response(answer(pairs(S1, T1), pairs(S2, T2), ids=[0, 1]), [S1, S2], TAGSET, "drop")
    assert [r.tags for r in results] == [T1, T2]


def test_swapped_records_without_ids_are_not_taken_by_position() -> None:
    """Same lengths, other sentence's tokens: under ``repair`` the tags must not be copied over."""
    swapped = json.dumps({"sentences": [{"output": pairs(S2, T2) + [["x", "O"], ["y", "O"]]},
                                        {"output": pairs(S1, T1)[:2]}]})
    results = parse_response(swapped, [S1, ["Ngo", "2019"]], TAGSET, "repair")
    assert all(r.tags is None for r in results)
    assert all("token_mismatch" in r.problems or "length_mismatch" in r.problems for r in results)


@pytest.mark.parametrize("text,problem", [
    (GOOD, None),
    (f"Here are the [token, tag] pairs: {GOOD}", None),
    (f"Here are the [token, tag] pairs:\n\n```json\n{GOOD}\n```", None),
    (f"```\n{GOOD}\n```\nEvery [token] has a tag.", None),
    (f"Sure! [1] Pairs below.\n{GOOD}\n[end of answer]", None),
    (f"Format {{token: tag}}, as [token, tag]:\n{GOOD}", None),
    (f"```json\n{{\"tokens\": [\"Ngo\"]}}\n```\nAnswer: {GOOD}", None),   # a fence holding no answer
    (f"The [token, tag] pairs: {GOOD[:-2]},]}}", "invalid_json"),          # broken, not cut: salvaged
])
def test_json_is_found_among_prose_and_brackets(text: str, problem: Optional[str]) -> None:
    """Every ``{``/``[`` is a possible start: the first that parses as an answer wins over brackets in prose."""
    assert load_json(text) == (json.loads(GOOD), problem)


@pytest.mark.parametrize("text", ["I cannot help with that.", "I cannot [help] with {that}.", "```\nnothing\n```", ""])
def test_prose_alone_is_invalid_json(text: str) -> None:
    assert load_json(text) == (None, "invalid_json")


O1 = ["O"] * len(S1)
# (records, input sentences, expected tags): records with an id claim their sentence before any without one
ID_TABLE = [
    ([{"output": pairs(S1, O1)}, {"id": 1, "output": pairs(S1, T1)}], [S1], [T1]),
    ([{"output": pairs(S2, T2)}, {"id": 1, "output": pairs(S1, T1)}], [S1, S2], [T1, T2]),
    ([{"id": 2, "output": pairs(S2, T2)}, {"output": pairs(S1, T1)}], [S1, S2], [T1, T2]),
    ([{"output": pairs(S1, O1)}, {"id": 1, "output": pairs(S1, T1)}], [S1, S2], [T1, None]),  # stray copy of S1
    ([{"id": 1, "output": pairs(S1, T1)}, {"id": 1, "output": pairs(S1, O1)}], [S1], [T1]),   # first of duplicates
    ([{"id": 0, "output": pairs(S1, T1)}, {"output": pairs(S2, T2)}], [S1, S2], [T1, T2]),    # ids from 0
    ([{"output": pairs(S1, T1)}, {"output": pairs(S2, T2)}], [S1, S2], [T1, T2]),             # no ids: in order
    ([{"id": 3, "output": pairs(S1, O1)}, {"output": pairs(S1, T1)}], [S1], [T1]),            # id out of range
]


@pytest.mark.parametrize("records,inputs,expected", ID_TABLE)
def test_a_record_without_id_never_shadows_one_with_an_id(records, inputs, expected) -> None:
    for policy in ("drop", "repair"):
        results = parse_response(json.dumps({"sentences": records}), inputs, TAGSET, policy)  # type: ignore[arg-type]
        assert [r.tags for r in results] == expected


def nfd(words: List[str]) -> List[str]:
    return [unicodedata.normalize("NFD", w) for w in words]


def nfc(words: List[str]) -> List[str]:
    return [unicodedata.normalize("NFC", w) for w in words]


YOR = nfd(["Ọ̀gbẹ́ni", "Tinúbú", "lọ", "sí", "Èkó", "lánàá", "."])  # decomposed, as in MasakhaNER's yor files
YOR_TAGS = ["O", "B-PER", "O", "O", "B-LOC", "B-DATE", "O"]
# (name, answer's pairs, expected tags, problems): the input is YOR, every answer token in NFC
UNICODE_TABLE = [
    ("NFC tokens", pairs(nfc(YOR), YOR_TAGS), YOR_TAGS, {}),
    ("NFC tokens with spaces around", pairs([f" {w} " for w in nfc(YOR)], YOR_TAGS), YOR_TAGS, {}),
    ("NFC tokens, one extra", pairs(nfc(YOR)[:2] + ["ni"] + nfc(YOR)[2:], YOR_TAGS[:2] + ["O"] + YOR_TAGS[2:]),
     YOR_TAGS, {"length_mismatch": 1}),
    ("NFC tokens, one skipped", pairs(nfc(YOR)[:3] + nfc(YOR)[4:], YOR_TAGS[:3] + YOR_TAGS[4:]), YOR_TAGS,
     {"length_mismatch": 1}),
    ("NFC tokens, one really differs", pairs(nfc(YOR)[:4] + ["Eko"] + nfc(YOR)[5:], YOR_TAGS), YOR_TAGS,
     {"token_mismatch": 1}),
]


@pytest.mark.parametrize("name,output,tags,problems", UNICODE_TABLE, ids=[r[0] for r in UNICODE_TABLE])
def test_tokens_are_compared_in_nfc(name, output, tags, problems) -> None:
    """An answer in NFC to a decomposed input is no token_mismatch: the tags go to the input's tokens."""
    assert any(a != b for a, b in zip(nfc(YOR), YOR))
    [repaired] = parse_response(answer(output), [YOR], TAGSET, "repair")
    assert repaired.tags == tags and repaired.problems == problems
    assert bool(repaired.repairs) == bool(problems)
    [dropped] = parse_response(answer(output), [YOR], TAGSET, "drop")
    assert dropped.tags == (tags if not problems else None)


def test_unknown_policy_refused() -> None:
    with pytest.raises(ValueError, match="on_error"):
        parse_response(GOOD, [S1, S2], TAGSET, "ignore")  # type: ignore[arg-type]


def _recorded() -> List[Any]:
    cases = []
    for path in sorted(LLM_DIR.glob("*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for key, record in data.items():
            if isinstance(record, dict) and "pred" in record:
                cases += [(f"{path.parent.name}/{path.stem}/{key}/{i}", record["tokens"], record["true"], pred)
                          for i, pred in enumerate(record["pred"])]
    return cases


@pytest.mark.skipif(not LLM_DIR.exists(), reason="recorded LLM annotations not found next to MASAKHANER_DIR")
@pytest.mark.parametrize("policy", ["drop", "repair"])
def test_every_recorded_output_is_accounted_for(policy: str) -> None:
    """All ~4,000 real outputs in ../shared: none crashes the parser; length and schema problems are all counted."""
    cases = _recorded()
    assert len(cases) > 3900  # 8 files x 50 sentences x 10 runs, a few runs missing
    counts = {problem: 0 for problem in PROBLEMS}
    kept = 0
    for name, tokens, gold, pred in cases:
        [result] = parse_response(json.dumps({"sentences": [{"id": 1, "output": pred}]}), [tokens], TAGSET, policy)
        well_formed = [item for item in pred if isinstance(item, list) and len(item) == 2]
        if len(pred) != len(tokens):  # (an item holding two tokens is counted as malformed)
            assert {"length_mismatch", "malformed_item"} & set(result.problems), name
        if any(item[1] not in TAGSET for item in well_formed):
            assert "unknown_tag" in result.problems, name
        if len(well_formed) != len(pred):
            assert "malformed_item" in result.problems, name
        if result.tags is None:
            assert result.error, name
        else:
            kept += 1
            assert len(result.tags) == len(tokens) and not iob_problems(result.tags), name
            if policy == "drop":  # nothing kept under "drop" differs from what the model said
                assert not result.problems and result.tags == [item[1] for item in pred], name
        for problem, count in result.problems.items():
            counts[problem] += count
    assert counts["length_mismatch"] > 0 and counts["unknown_tag"] > 0 and counts["malformed_item"] > 0
    assert 0 < kept <= len(cases)


def test_recorded_gpt4_outputs_mostly_parse(tmp_path: Path) -> None:
    """The paper reports GPT-4-Turbo's outputs as nearly always well formed; the parser agrees on tsn/zul."""
    if not LLM_DIR.exists():
        pytest.skip("recorded LLM annotations not found")
    cases = [c for c in _recorded() if c[0].startswith(("gpt-4-turbo/tsn", "gpt-4-turbo/zul"))]
    dropped = sum(parse_response(json.dumps({"sentences": [{"id": 1, "output": pred}]}), [tokens], TAGSET,
                                 "drop")[0].tags is None for _, tokens, _, pred in cases)
    assert dropped / len(cases) < 0.1
