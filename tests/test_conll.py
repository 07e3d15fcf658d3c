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
    "NBSP in token": ("a O\nb\u00a0c B-PER\n", 2, "token 'b\\xa0c' contains U+00A0 (NO-BREAK SPACE)", ["O", "B-PER"]),
    "narrow NBSP in token": ("a\u202fb O\n", 1, "contains U+202F (NARROW NO-BREAK SPACE)", ["O"]),
    "thin space in token": ("a\u2009b B-LOC\n", 1, "contains U+2009 (THIN SPACE)", ["B-LOC"]),
    "NBSP before tag": ("a\u00a0B-PER\nb O\n", 1, "token and tag are separated by U+00A0", ["B-PER", "O"]),
    "NBSP-only line": ("a O\n\u00a0\nb O\n", 2, "line holds only whitespace, including U+00A0", ["O"]),
    "NBSP at line end": ("a O\u00a0\n", 1, "line starts or ends with U+00A0", ["O"]),
    "lowercase tag": ("a b-loc\nb i-loc\n", 1, "tag 'b-loc' is in the wrong case", ["B-LOC", "I-LOC"]),
    "mixed-case tag": ("a O\nb B-Per\n", 2, "tag 'B-Per' is in the wrong case", ["O", "B-PER"]),
    "tag-only line": ("a O\nB-PER\nb O\n", 2, "line holds only 'B-PER', a tag with no token", ["O", "O"]),
    "O-only line": ("a O\nO\n", 2, "token 'O' has no tag", ["O", "O"]),  # 'O' may be a word: kept
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


@pytest.mark.parametrize("space", ["\u00a0", "\u202f", "\u2009", "\u3000"])
def test_unicode_whitespace_stays_inside_the_token(space):
    result = parse_conll_text(f"a O\nb{space}c B-PER\nd{space}I-PER\n")
    assert result.sentences[0].words == ["a", f"b{space}c", "d"]
    assert result.sentences[0].tags == ["O", "B-PER", "I-PER"]
    assert [issue.line for issue in result.issues] == [2, 3]


def test_tag_only_lines_are_skipped_not_read_as_tokens():
    result = parse_conll_text("a B-PER\nI-PER\nb I-PER\n\nO\n\nc O\n")
    # a lone B-/I- tag is a lost token's tag; a lone 'O' may be a word (the Yoruba pronoun): kept, tagged O
    assert [(s.words, s.tags, s.line) for s in result.sentences] == [
        (["a", "b"], ["B-PER", "I-PER"], 1), (["O"], ["O"], 5), (["c"], ["O"], 7)]
    assert [issue.line for issue in result.issues] == [2, 5]
    assert "token 'O' has no tag" in result.issues[1].message


def test_lowercase_tags_are_repaired_not_dropped():
    result = parse_conll_text("Kano b-loc\nState i-loc\nni o\n")
    assert result.sentences[0].tags == ["B-LOC", "I-LOC", "O"]
    assert [str(issue) for issue in result.issues] == [
        "<string>:1: tag 'b-loc' is in the wrong case; read it as 'B-LOC'",
        "<string>:2: tag 'i-loc' is in the wrong case; read it as 'I-LOC'",
        "<string>:3: tag 'o' is in the wrong case; read it as 'O'"]


def test_a_lowercase_token_alone_is_a_token_without_tag():
    # 'o' is a word in several MasakhaNER languages: only an exact tag alone is taken for a lost token
    result = parse_conll_text("o\nb O\n")
    assert result.sentences[0].words == ["o", "b"]
    assert "token 'o' has no tag" in result.issues[0].message


def test_tokens_are_not_normalised():
    nfd, nfc = "A\u0300sa\u0301", "\u00c0s\u00e1"
    result = parse_conll_text(f"{nfd} B-PER\n{nfc} I-PER\n", policy="strict")
    assert result.sentences[0].words == [nfd, nfc]
    assert result.issues == []


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
