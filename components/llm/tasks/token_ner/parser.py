"""Pure functions: an LLM's response string -> one checked IOB2 tag list per input sentence.

The TokenNER prompt asks for ``{"sentences": [{"id": 1, "output": [[token, tag], ...]}, ...]}``.
Parsing is tolerant (code fences, prose around the JSON, records in any order,
``{"output": ...}`` or a bare pair list for a single sentence) and accountable:
every problem found in a sentence is counted under one of :data:`PROBLEMS`.
The ``on_error`` policy then either drops the sentence (the paper's choice) or
repairs it, recording each repair. A problem in one sentence never costs the
others of the same response; a response cut short keeps its complete sentences.

Tokens are compared in a normal form (:func:`normal_token`: Unicode NFC, surrounding
whitespace stripped), because an LLM answers in NFC while a corpus need not be
(most Yorùbá tokens of MasakhaNER are decomposed): a token equal to the input's
after normalisation is no problem. Tags always go to the input's own tokens.
"""
import difflib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple

import json_repair

from ....data.iob import iob_problems, repair_iob

OnError = Literal["drop", "repair"]
PROBLEMS: Tuple[str, ...] = (
    "request_failed",    # no response (the request failed or was refused)
    "invalid_json",      # the response is not valid JSON (salvaged with json_repair where possible)
    "truncated_json",    # the response stops mid-JSON: this sentence was the one cut short
    "missing_sentence",  # valid JSON, but no record for this sentence
    "malformed_item",    # an element that is not a [token, tag] pair
    "length_mismatch",   # skipped or extra tokens
    "token_mismatch",    # a token that differs from the input (compared in NFC, see normal_token)
    "unknown_tag",       # a tag outside the schema
    "invalid_iob",       # an I-X that does not continue an X entity
)
# Problems no repair can undo: the sentence is dropped under either policy.
FATAL = ("request_failed", "truncated_json", "missing_sentence")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


@dataclass
class SentenceParse:
    """The outcome for one sentence: ``tags`` (None when dropped), problem counts, repairs and why it was dropped."""

    tags: Optional[List[str]]
    problems: Dict[str, int] = field(default_factory=dict)
    repairs: List[str] = field(default_factory=list)
    error: Optional[str] = None

    def note(self, problem: str, count: int = 1) -> None:
        """Count ``count`` occurrences of ``problem``."""
        self.problems[problem] = self.problems.get(problem, 0) + count


def parse_response(text: Optional[str], inputs: Sequence[Sequence[str]], tagset: Sequence[str],
                   on_error: OnError = "drop", min_aligned: float = 0.8, cut_short: bool = False
                   ) -> List[SentenceParse]:
    """One :class:`SentenceParse` per sentence of ``inputs`` (the token lists that went into the prompt).

    ``cut_short``: the API said the answer stopped at its token limit (``finish_reason`` ``length``).
    """
    if on_error not in ("drop", "repair"):
        raise ValueError(f"on_error must be 'drop' or 'repair', got '{on_error}'")
    if not text or not text.strip():
        return [_failed("request_failed", "no response") for _ in inputs]
    data, json_problem = load_json(text)
    if cut_short and json_problem == "invalid_json":
        json_problem = "truncated_json"
    records, truncated_index = sentence_records(data, len(inputs))
    results = []
    for i, words in enumerate(inputs):
        if json_problem == "truncated_json" and (records[i] is None or i == truncated_index):
            results.append(_failed("truncated_json", "the response was cut short before this sentence ended"))
            continue
        if records[i] is None:
            problem = json_problem if json_problem and data is None else "missing_sentence"
            results.append(_failed(problem, f"no output for sentence {i + 1} in the response"))
            continue
        result = check_sentence(records[i], words, tagset, on_error, min_aligned)
        if json_problem == "invalid_json":
            result.note("invalid_json")
            if on_error == "drop" and result.tags is not None:
                result.tags, result.error = None, "invalid JSON"
            elif result.tags is not None:
                result.repairs.insert(0, "invalid JSON read with json_repair")
        results.append(result)
    return results


def _failed(problem: str, message: str) -> SentenceParse:
    return SentenceParse(None, {problem: 1}, error=f"{problem}: {message}")


def load_json(text: str) -> Tuple[Any, Optional[str]]:
    """``(data, problem)``: the JSON in ``text`` (fences and prose around it ignored), salvaged if broken.

    Every ``{``/``[`` is tried as a start, in order, and the first valid JSON shaped like an answer
    wins, so brackets in prose ("Here are the [token, tag] pairs: {...}") are passed over. Failing
    that, the first start that looks like JSON but does not parse (a broken or truncated answer) is
    salvaged with json_repair; failing that too, the first valid JSON of any shape is returned.
    A code fence is searched first, then the whole text.
    """
    fenced = _FENCE.search(text)
    if fenced:
        data, problem, conclusive = _scan(fenced.group(1))
        if conclusive:
            return data, problem
    data, problem, _ = _scan(text)
    return data, problem


def _scan(body: str) -> Tuple[Any, Optional[str], bool]:
    """:func:`load_json` on one text, plus whether what it found is an answer (valid or salvaged)."""
    other: Any = None
    broken: Optional[int] = None
    position = 0
    for start in (m.start() for m in re.finditer(r"[\[{]", body)):
        if start < position:
            continue  # inside a value already read
        try:
            value, position = _DECODER.raw_decode(body, start)
        except json.JSONDecodeError:
            if not _json_like(body, start):
                continue  # a bracket in prose
            end = _closing(body, start)
            if end is None:  # open to the end: the answer, cut short; what follows is inside it
                return (*_salvage(body[start:].strip(), truncated=True), True)
            broken = start if broken is None else broken
            position = end
            continue
        if _answer_shaped(value):
            return value, None, True
        other = value if other is None else other
    if broken is not None:
        return (*_salvage(body[broken:_closing(body, broken)], truncated=False), True)
    return other, None if other is not None else "invalid_json", False


def _answer_shaped(value: Any) -> bool:
    """Whether decoded JSON looks like a TokenNER answer: records, a record, or a list of pairs/records."""
    if isinstance(value, dict):
        return "sentences" in value or "output" in value
    return isinstance(value, list) and bool(value) and all(isinstance(item, (dict, list)) for item in value)


def _json_like(body: str, start: int) -> bool:
    """Whether the bracket at ``start`` opens JSON (its next character could follow it in JSON), not prose."""
    rest = body[start + 1:].lstrip()
    if not rest:
        return True  # cut right after the bracket
    allowed = "\"'}" if body[start] == "{" else "\"'[]{-0123456789"
    return rest[0] in allowed


def _salvage(candidate: str, truncated: bool) -> Tuple[Any, Optional[str]]:
    """Broken JSON read with json_repair, with its problem (``truncated_json`` if it was left open)."""
    problem = "truncated_json" if truncated else "invalid_json"
    salvaged = json_repair.loads(candidate)
    if not isinstance(salvaged, (dict, list)) or not salvaged:
        return None, problem
    return salvaged, problem


def _closing(text: str, start: int) -> Optional[int]:
    """The end of the bracketed span opened at ``start`` (strings respected); None if it is never closed."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        char = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def sentence_records(data: Any, n: int) -> Tuple[List[Optional[Any]], int]:
    """Each sentence's raw output (None if absent) and the sentence the response's last record went to.

    Records with an ``id`` go to that sentence first (the first of duplicates wins); records without
    one then fill, in their order, the sentences no id claimed. So an id-less record never shadows a
    numbered one, and a stray one is checked against a sentence's tokens like any other.
    """
    records: List[Optional[Any]] = [None] * n
    if data is None:
        return records, -1
    if isinstance(data, dict):
        if "sentences" in data:
            data = data["sentences"]
        elif n == 1 and "output" in data:
            data = [data]
        else:
            return records, -1
    if not isinstance(data, list):
        return records, -1
    if n == 1 and data and _is_pair_list(data):
        return [data], 0
    ids = [_record_id(item) for item in data]
    given = sorted(i for i in ids if i is not None)
    if given and given[0] == 0 and given == list(range(len(given))):
        ids = [None if i is None else i + 1 for i in ids]  # ids counted from 0
    claimed: Dict[int, int] = {}  # sentence index -> position of its record in the response
    for position, record_id in enumerate(ids):
        if record_id is not None and 0 < record_id <= n:
            claimed.setdefault(record_id - 1, position)
    unclaimed = [i for i in range(n) if i not in claimed]
    claimed.update(zip(unclaimed, [position for position, record_id in enumerate(ids) if record_id is None]))
    for index, position in claimed.items():
        item = data[position]
        records[index] = item.get("output") if isinstance(item, dict) else item
    last = max(claimed, key=claimed.__getitem__) if claimed else -1
    return records, last


def _is_pair_list(data: List[Any]) -> bool:
    return all(isinstance(x, (list, str)) and not (isinstance(x, list) and x and isinstance(x[0], list)) for x in data)


def _record_id(item: Any) -> Optional[int]:
    """The record's sentence number as written (``id``, ``sentence`` or ``index``), or None."""
    if isinstance(item, dict):
        for key in ("id", "sentence", "index"):
            value = item.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().isdigit():
                return int(value)
    return None


def check_sentence(items: Any, words: Sequence[str], tagset: Sequence[str], on_error: OnError,
                   min_aligned: float = 0.8) -> SentenceParse:
    """Check one sentence's ``[[token, tag], ...]`` against its input ``words``; drop or repair per ``on_error``."""
    result = SentenceParse(None)
    if not isinstance(items, list):
        result.note("malformed_item")
        result.error = "malformed_item: the sentence's output is not a list of [token, tag] pairs"
        return result
    tags: Optional[List[str]]
    tokens, tags = _pairs(items, result)
    tags = _check_tags(tags, tagset, result)
    tags = _align(tokens, tags, words, result, min_aligned)
    if tags is None:
        return result
    if iob_problems(tags):
        tags, fixed = repair_iob(tags)
        result.note("invalid_iob", len(fixed))
        result.repairs.extend(f"token {i}: {message}" for i, message in fixed)
    if result.problems and on_error == "drop":
        result.error = "; ".join(f"{name} x{count}" for name, count in result.problems.items())
        result.repairs = []
        return result
    result.tags = tags
    return result


def normal_token(token: str) -> str:
    """``token`` as compared with the input: Unicode NFC, surrounding whitespace stripped."""
    return unicodedata.normalize("NFC", token).strip()


def _pairs(items: List[Any], result: SentenceParse) -> Tuple[List[str], List[str]]:
    tokens, tags = [], []
    for i, item in enumerate(items):
        if isinstance(item, dict) and "token" in item:
            item = [item.get("token"), item.get("tag", item.get("label"))]
        if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
            tokens.append(item[0])
            tags.append(item[1])
            continue
        result.note("malformed_item")
        if isinstance(item, list) and len(item) > 2 and all(isinstance(x, str) for x in item):
            # e.g. ["e", "dirisetswa", "O"]: two tokens run together, one tag for both
            tag = item[-1]
            follow = f"I-{tag[2:]}" if tag[:2] in ("B-", "I-") else tag
            result.repairs.append(f"item {i} {item!r} read as {len(item) - 1} tokens tagged {tag!r}")
            tokens.extend(item[:-1])
            tags.extend([tag] + [follow] * (len(item) - 2))
        elif isinstance(item, list) and item and isinstance(item[0], str):
            tag = item[1] if len(item) > 1 and isinstance(item[1], str) else "O"
            result.repairs.append(f"item {i} {item!r} read as [{item[0]!r}, {tag!r}]")
            tokens.append(item[0])
            tags.append(tag)
        elif isinstance(item, str):
            result.repairs.append(f"item {i} {item!r} (no tag) read as [{item!r}, 'O']")
            tokens.append(item)
            tags.append("O")
        else:
            result.repairs.append(f"item {i} {item!r} skipped")
    return tokens, tags


def _check_tags(tags: List[str], tagset: Sequence[str], result: SentenceParse) -> List[str]:
    known = set(tagset)
    by_upper = {t.upper(): t for t in tagset}
    checked = []
    for i, tag in enumerate(tags):
        clean = tag.strip()
        if clean in known:
            checked.append(clean)
            continue
        result.note("unknown_tag")
        fixed = by_upper.get(clean.upper().replace("_", "-"), "O")
        result.repairs.append(f"token {i}: tag {tag!r} outside the schema, read as '{fixed}'")
        checked.append(fixed)
    return checked


def _align(tokens: List[str], tags: List[str], words: Sequence[str], result: SentenceParse,
           min_aligned: float) -> Optional[List[str]]:
    """Tags for ``words``: positional when the lengths agree, else aligned by token text (difflib).

    Tokens are compared by :func:`normal_token`; the tags are returned for ``words`` as given.
    """
    said, given = [normal_token(t) for t in tokens], [normal_token(w) for w in words]
    if len(tokens) == len(words):
        differing = [i for i, (t, w) in enumerate(zip(said, given)) if t != w]
        if differing:
            result.note("token_mismatch", len(differing))
            if words and 1 - len(differing) / len(words) < min_aligned:
                result.error = (f"token_mismatch: only {len(words) - len(differing)} of {len(words)} tokens match "
                                f"the input (at least {min_aligned:.0%} needed); the output is not this sentence's")
                return None
            result.repairs.append(f"tokens {differing[:10]} differ from the input; tags kept by position")
        return tags
    result.note("length_mismatch")
    aligned: List[Optional[str]] = [None] * len(words)
    matcher = difflib.SequenceMatcher(None, given, said, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal" or (op == "replace" and i2 - i1 == j2 - j1):
            for offset in range(i2 - i1):
                aligned[i1 + offset] = tags[j1 + offset]
            if op == "replace":
                result.note("token_mismatch", i2 - i1)
    n_aligned = sum(tag is not None for tag in aligned)
    missing = [i for i, tag in enumerate(aligned) if tag is None]
    if not words or n_aligned / len(words) < min_aligned:
        result.error = (f"length_mismatch: {len(tokens)} tokens for {len(words)}; only {n_aligned} could be "
                        f"aligned by text (at least {min_aligned:.0%} needed)")
        return None
    result.repairs.append(f"{len(tokens)} tokens for {len(words)}: aligned by text; tokens {missing[:10]} "
                          f"had no output and were read as 'O'; {len(tokens) - n_aligned} extra tokens ignored")
    return [tag or "O" for tag in aligned]
