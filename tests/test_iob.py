import pytest

from spacy_llm_loop.data.iob import iob_problems, iob_tagset, iob_to_spans, repair_iob, spans_to_iob


def test_tagset():
    assert iob_tagset(["PER"]) == ("O", "B-PER", "I-PER")
    assert len(iob_tagset()) == 9


@pytest.mark.parametrize("tags,problems", [
    (["B-PER", "I-PER", "O"], []),
    (["O", "I-PER"], [1]),
    (["I-LOC"], [0]),
    (["B-PER", "I-LOC"], [1]),
    (["B-PER", "I-PER", "I-PER", "O", "B-LOC"], []),
])
def test_problems(tags, problems):
    assert [i for i, _ in iob_problems(tags)] == problems


def test_repair_reads_stray_inside_as_begin():
    fixed, repairs = repair_iob(["O", "I-PER", "I-PER", "B-LOC", "I-DATE"])
    assert fixed == ["O", "B-PER", "I-PER", "B-LOC", "B-DATE"]
    assert [i for i, _ in repairs] == [1, 4]


@pytest.mark.parametrize("tags", [
    ["O", "O"], ["B-PER"], ["B-PER", "I-PER", "B-PER", "O", "B-DATE", "I-DATE"], ["B-ORG", "B-LOC", "I-LOC"],
])
def test_spans_roundtrip(tags):
    assert spans_to_iob(len(tags), iob_to_spans(tags)) == tags


def test_spans():
    assert iob_to_spans(["B-PER", "I-PER", "O", "B-LOC"]) == [(0, 2, "PER"), (3, 4, "LOC")]
