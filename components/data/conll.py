"""A checking reader for MasakhaNER-style CoNLL files (``token TAG`` lines, blank line between sentences).

Every anomaly is reported with its file and line. Under the ``repair`` policy the
reader fixes what it safely can and returns the fixes as :class:`ConllIssue`
warnings; under ``strict`` the first anomaly raises :class:`ConllError`. An empty
file, or one with no sentence in it, is always an error.

Fields are separated by ASCII spaces and tabs only: other Unicode whitespace
(U+00A0, U+2009, U+202F ...) stays inside its token and is reported. Tokens are
kept exactly as written: many MasakhaNER tokens (yor, bbj, fon, ewe ...) are not
in NFC, and the reader never normalises them.
"""
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Literal, Optional, Sequence, Tuple, Union

from ..errors import ConllError
from .iob import MASAKHANER_LABELS, iob_problems, iob_tagset

logger = logging.getLogger(__name__)

Policy = Literal["repair", "strict"]
POLICIES: Tuple[str, ...] = ("repair", "strict")
BOM = "\ufeff"
SEPARATOR = re.compile(r"[ \t]+")


@dataclass
class Sentence:
    """One sentence: its tokens, IOB2 tags and the 1-based line its first token is on."""

    words: List[str]
    tags: List[str]
    line: int


@dataclass
class ConllIssue:
    """Something the reader repaired, with where it was."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class ConllResult:
    """What :func:`read_conll` returns: the sentences and every repair made."""

    sentences: List[Sentence]
    issues: List[ConllIssue] = field(default_factory=list)


class _Checker:
    """Raises or records one anomaly, depending on the policy."""

    def __init__(self, path: str, policy: str) -> None:
        if policy not in POLICIES:
            raise ValueError(f"Unknown CoNLL policy '{policy}'; expected one of {POLICIES}")
        self.path = path
        self.policy = policy
        self.issues: List[ConllIssue] = []

    def __call__(self, line: int, problem: str, repair: str) -> None:
        if self.policy == "strict":
            raise ConllError(f"{problem} (policy 'strict'; use policy 'repair' to {repair})", self.path, line)
        self.issues.append(ConllIssue(self.path, line, f"{problem}; {repair}"))


def decode_conll_bytes(data: bytes, check: _Checker) -> str:
    """Decode UTF-8, reporting the line of the first undecodable byte; strip a BOM and CRs."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        check(line, f"bytes {data[err.start:err.end]!r} are not valid UTF-8", "replace them with U+FFFD")
        text = data.decode("utf-8", errors="replace")
    if text.startswith(BOM):
        check(1, "file starts with a byte-order mark", "drop it")
        text = text[1:]
    if "\r" in text:
        check(text.count("\n", 0, text.index("\r")) + 1, "Windows (CRLF) or CR line endings", "read them as LF")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def parse_conll_text(
    text: str, path: str = "<string>", *, labels: Sequence[str] = MASAKHANER_LABELS, policy: Policy = "repair"
) -> ConllResult:
    """Parse CoNLL text already decoded; see the module docstring for the policies."""
    check = _Checker(path, policy)
    tagset = _TagSet(iob_tagset(labels))
    sentences: List[Sentence] = []
    words: List[str] = []
    tags: List[str] = []
    lines: List[int] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        fields = _split_fields(raw, number, tagset, check)
        if not fields or fields[0] == "-DOCSTART-":
            if words:
                sentences.append(_finish(words, tags, lines, check))
            words, tags, lines = [], [], []
            continue
        if len(fields) == 1 and fields[0] in tagset.tags and fields[0] != "O":  # a lone "O" may be a word (yor)
            check(number, f"line holds only '{fields[0]}', a tag with no token (if it is a token, its tag is "
                          "missing)", "skip the line")
            continue
        words.append(fields[0])
        tags.append(_read_tag(fields, raw, number, tagset, check))
        lines.append(number)
    if words:
        sentences.append(_finish(words, tags, lines, check))
    if not sentences:
        raise ConllError("no sentences: the file is empty or holds only blank lines", path)
    return ConllResult(sentences, check.issues)


class _TagSet:
    """The valid tags, and a lookup that finds the valid form of a tag written in another case."""

    def __init__(self, tags: Iterable[str]) -> None:
        self.tags = set(tags)
        self._by_lower: Dict[str, str] = {tag.lower(): tag for tag in self.tags}

    def canonical(self, tag: str) -> Optional[str]:
        """``tag`` if valid, its valid form if it differs only in case (``b-loc`` -> ``B-LOC``), else None."""
        return tag if tag in self.tags else self._by_lower.get(tag.lower())


def _split_fields(raw: str, number: int, tagset: _TagSet, check: _Checker) -> List[str]:
    """The fields of one line, split on ASCII spaces and tabs; other Unicode whitespace is reported."""
    odd = sorted({c for c in raw if c.isspace() and c not in " \t"})
    if not odd:
        return raw.split()
    names = ", ".join(f"U+{ord(c):04X} ({unicodedata.name(c, 'whitespace')})" for c in odd)
    line = raw.strip()
    fields = [f for f in SEPARATOR.split(line) if f]
    if not fields:
        check(number, f"line holds only whitespace, including {names}", "read it as a blank line")
        return []
    if not any(c in line for c in odd):
        check(number, f"line starts or ends with {names}", "ignore it")
        return fields
    if len(fields) == 1:
        token, tag = line.rsplit(None, 1)
        if tagset.canonical(tag):
            check(number, f"token and tag are separated by {names}, not by a space or tab",
                  "read the last field as the tag")
            return [token, tag]
    index = next(i for i, f in enumerate(fields) if any(c in f for c in odd))
    what = "token" if index == 0 else "field"
    check(number, f"{what} {fields[index]!r} contains {names}, which is not a field separator",
          f"keep it inside the {what}")
    return fields


def _read_tag(fields: List[str], raw: str, number: int, tagset: _TagSet, check: _Checker) -> str:
    if len(fields) == 1:
        check(number, f"token '{fields[0]}' has no tag", "tag it 'O'")
        return "O"
    if len(fields) > 2:
        check(number, f"expected 'token TAG', found {len(fields)} fields in {raw.strip()!r}", "keep the first and last")
    tag = fields[-1]
    valid = tagset.canonical(tag)
    if valid is None:
        check(number, f"unknown tag '{tag}' (expected one of {sorted(tagset.tags)})", "tag it 'O'")
        return "O"
    if valid != tag:
        check(number, f"tag '{tag}' is in the wrong case", f"read it as '{valid}'")
    return valid


def _finish(words: List[str], tags: List[str], lines: List[int], check: _Checker) -> Sentence:
    for index, problem in iob_problems(tags):
        check(lines[index], f"invalid IOB2: {problem}", f"read it as 'B-{tags[index][2:]}'")
        tags[index] = "B-" + tags[index][2:]
    return Sentence(list(words), list(tags), lines[0])


def read_conll(
    path: Union[str, Path], *, labels: Sequence[str] = MASAKHANER_LABELS, policy: Policy = "repair"
) -> ConllResult:
    """Read and check one CoNLL file; repairs are logged as warnings and returned."""
    path = Path(path)
    if not path.exists():
        raise ConllError("file not found", path)
    check = _Checker(str(path), policy)
    text = decode_conll_bytes(path.read_bytes(), check)
    result = parse_conll_text(text, str(path), labels=labels, policy=policy)
    result.issues[:0] = check.issues
    log_issues(result.issues)
    return result


def log_issues(issues: Iterable[ConllIssue], limit: int = 10) -> None:
    """Log the first ``limit`` repairs one by one and the rest as a count."""
    issues = list(issues)
    for issue in issues[:limit]:
        logger.warning("%s", issue)
    if len(issues) > limit:
        logger.warning("... and %d more repairs in %s", len(issues) - limit, issues[limit].path)


def format_conll(sentences: Iterable[Tuple[Sequence[str], Sequence[str]]]) -> str:
    """CoNLL text for ``(words, tags)`` pairs, the inverse of :func:`parse_conll_text`."""
    blocks = ["\n".join(f"{w} {t}" for w, t in zip(words, tags)) for words, tags in sentences]
    return "\n\n".join(blocks) + "\n"
