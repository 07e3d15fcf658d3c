"""The CoNLL reader on good and bad input: every anomaly names file and line."""
import pytest

from spacy_llm_loop.data.conll import format_conll, parse_conll_text, read_conll
from spacy_llm_loop.data.corpus import convert
from spacy_llm_loop.errors import ConllError

GOOD = "Ngesizini O\nedlule O\nStellenbosch B-ORG\n\nUMandla B-PER\nu I-PER\n. O\n"


def write(tmp_path, data, name="train.txt"):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_reads_good_file(tmp_path):
    result = read_conll(write(tmp_path, GOOD))
    assert [s.words for s in result.sentences] == [["Ngesizini", "edlule", "Stellenbosch"], ["UMandla", "u", "."]]
    assert result.sentences[1].tags == ["B-PER", "I-PER", "O"]
    assert result.sentences[1].line == 5
    assert result.issues == []


def test_format_roundtrip():
    result = parse_conll_text(GOOD)
    assert format_conll((s.words, s.tags) for s in result.sentences) == GOOD


# (content, line of the problem, words of the text the message must contain, repaired tags of sentence 0)
BAD = {
    "missing tag": ("a O\nb\nc O\n", 2, "has no tag", ["O", "O", "O"]),
    "unknown tag": ("a B-EVENT\nb O\n", 1, "unknown tag 'B-EVENT'", ["O", "O"]),
    "I after O": ("a O\nb I-PER\n", 2, "'I-PER' follows 'O'", ["O", "B-PER"]),
    "I after other type": ("a B-LOC\nb I-PER\n", 2, "'I-PER' follows 'B-LOC'", ["B-LOC", "B-PER"]),
    "I at start": ("\n\na I-DATE\n", 3, "'I-DATE' follows 'O'", ["B-DATE"]),
    "three fields": ("a x B-PER\nb O\n", 1, "found 3 fields", ["B-PER", "O"]),
    "CRLF": ("a O\r\nb B-PER\r\n", 1, "CRLF", ["O", "B-PER"]),
    "BOM": ("\ufeffa O\nb O\n", 1, "byte-order mark", ["O", "O"]),
    "non-UTF-8": (b"a O\nb\xff\xfe O\nc O\n", 2, "not valid UTF-8", ["O", "O", "O"]),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_strict_refuses_naming_file_and_line(tmp_path, name):
    content, line, text, _ = BAD[name]
    path = write(tmp_path, content)
    with pytest.raises(ConllError) as err:
        read_conll(path, policy="strict")
    assert err.value.path == str(path) and err.value.line == line
    assert f"{path}:{line}:" in str(err.value) and text in str(err.value)


@pytest.mark.parametrize("name", sorted(BAD))
def test_repair_warns_naming_file_and_line(tmp_path, name, caplog):
    content, line, text, tags = BAD[name]
    path = write(tmp_path, content)
    result = read_conll(path, policy="repair")
    assert result.sentences[0].tags == tags
    assert any(issue.line == line and text in issue.message for issue in result.issues)
    assert f"{path}:{line}:" in caplog.text


@pytest.mark.parametrize("content", ["", "\n\n  \n", b"\xef\xbb\xbf"])
def test_empty_file_is_an_error(tmp_path, content):
    path = write(tmp_path, content)
    with pytest.raises(ConllError, match="no sentences"):
        read_conll(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConllError, match="file not found"):
        read_conll(tmp_path / "nope.txt")


def test_docstart_lines_are_skipped():
    result = parse_conll_text("-DOCSTART- O\n\na O\n")
    assert [s.words for s in result.sentences] == [["a"]]


def test_real_files_read_with_repairs_only_where_expected(masakhaner_dir):
    # zul's train split has 7 invalid IOB transitions in the published data
    result = read_conll(masakhaner_dir / "zul" / "train.txt")
    assert len(result.sentences) == 5848
    assert len(result.issues) == 7 and all("invalid IOB2" in i.message for i in result.issues)


def test_convert_leaves_nothing_when_a_split_is_refused(tmp_path, monkeypatch):
    src = tmp_path / "data" / "tsn"
    src.mkdir(parents=True)
    (src / "train.txt").write_text(GOOD)
    (src / "dev.txt").write_text(GOOD)
    (src / "test.txt").write_text("a O\nb I-PER\n")
    monkeypatch.setenv("MASAKHANER_DIR", str(tmp_path / "data"))
    out = tmp_path / "corpus"
    with pytest.raises(ConllError, match="test.txt:2"):
        convert("tsn", out, policy="strict")
    assert not out.exists() or not any(out.iterdir())
    summary = convert("tsn", out, policy="repair")
    assert summary["splits"]["test"]["entities"] == 1
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{s}.{ext}" for s in ("train", "dev", "test") for ext in ("spacy", "jsonl"))


def test_unknown_language():
    with pytest.raises(ValueError, match="Unknown language 'xyz'"):
        convert("xyz", "corpus")
