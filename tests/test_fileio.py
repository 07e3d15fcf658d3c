"""Append-only logs that hold nothing in memory: recovery after a crash, streaming, the ledger's running totals."""
import json
import logging

import pytest

from spacy_llm_loop.errors import InputError
from spacy_llm_loop.fileio import JsonlLog
from spacy_llm_loop.llm.models.ledger import UsageLedger, summarize


def test_a_log_streams_its_records_and_holds_none(tmp_path) -> None:
    log = JsonlLog(tmp_path / "sub" / "log.jsonl")
    assert list(log) == []
    log.extend([{"id": "a"}, {"id": "b"}])
    log.append({"id": "c"})
    assert not hasattr(log, "records")
    assert [r["id"] for r in log] == ["a", "b", "c"]
    assert [r["id"] for r in JsonlLog(log.path)] == ["a", "b", "c"]  # reopened: the same, nothing rewritten


@pytest.mark.parametrize("tail", ['{"id": "c", "ta', '{"id": "c", "tags": ["\xe9', "{"])
def test_opening_a_log_drops_a_last_line_cut_short_and_names_it(tmp_path, caplog, tail) -> None:
    path = tmp_path / "log.jsonl"
    head = '{"id": "a"}\n\n{"id": "b"}\n'
    path.write_bytes((head + tail).encode("utf-8")[:-1] if tail.endswith("\xe9") else (head + tail).encode())
    with caplog.at_level(logging.WARNING):
        log = JsonlLog(path)
    assert f"{path}:4: dropping a record cut short" in caplog.text
    assert path.read_text() == head
    log.append({"id": "c"})
    assert [r["id"] for r in log] == ["a", "b", "c"]


def test_a_whole_last_record_without_its_newline_is_kept_and_ended(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b"}')
    log = JsonlLog(path)
    log.append({"id": "c"})
    assert [r["id"] for r in log] == ["a", "b", "c"]
    only_cut = tmp_path / "cut.jsonl"
    only_cut.write_text('{"id": ')
    assert list(JsonlLog(only_cut)) == [] and only_cut.read_text() == ""


def test_recovery_reads_past_blank_lines_and_lines_longer_than_its_chunk(tmp_path, caplog) -> None:
    long = {"id": "b", "words": ["w" * 10] * 20_000}  # about 280 KB: several chunks read backwards
    path = tmp_path / "log.jsonl"
    path.write_text('{"id": "a"}\n' + json.dumps(long)[:-5] + "  ")  # cut in the middle of a long line
    with caplog.at_level(logging.WARNING):
        log = JsonlLog(path)
    assert f"{path}:2: dropping a record cut short" in caplog.text and path.read_text() == '{"id": "a"}\n'
    ended = '{"id": "a"}\n' + json.dumps(long)[:-5] + "\n\n  \n"  # broken, but a newline follows: no crash's
    path.write_text(ended)
    with pytest.raises(InputError, match="log.jsonl"):
        list(JsonlLog(path))  # left for the reader to refuse, naming the line
    assert path.read_text() == ended
    path.write_text('{"id": "a"}\n' + json.dumps(long))  # whole, without its newline
    log = JsonlLog(path)
    log.append({"id": "c"})
    assert [r["id"] for r in log] == ["a", "b", "c"]
    path.write_text('{"id": "a"}\n\n')  # whole, blank lines after it: nothing to mend
    JsonlLog(path)
    assert path.read_text() == '{"id": "a"}\n\n'
    path.write_text('{"id": "a"}\n\x0c')  # a form feed after the last newline: the next record starts a line
    log = JsonlLog(path)
    log.append({"id": "b"})
    assert [r["id"] for r in log] == ["a", "b"]
    path.write_text('{"id": "a"}\x0c\n')  # not JSON as the reader parses it, and ended: refused when read
    with pytest.raises(InputError, match="log.jsonl"):
        list(JsonlLog(path))


def test_a_last_line_a_reader_would_refuse_is_not_kept(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"id": "a"}\n\xef\xbb\xbf{"id": "b"}')  # a byte-order mark: not what iter_jsonl reads
    assert [r["id"] for r in JsonlLog(path)] == ["a"]


def test_a_broken_line_before_the_end_is_refused_with_its_line(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"id": "a"}\n{"id": \n{"id": "c"}\n')
    log = JsonlLog(path)  # only the last line can be an interruption's; this one is read as it is
    with pytest.raises(InputError, match=r"log\.jsonl.*line 2|log\.jsonl:2"):
        list(log)
    assert path.read_text() == '{"id": "a"}\n{"id": \n{"id": "c"}\n'


def _rec(outcome, k, tokens=(0, 0), cache="miss", **extra):
    return {"model": "gpt-4-turbo", "outcome": outcome, "cache": cache, "input_tokens": tokens[0],
            "output_tokens": tokens[1], "context": {"round": k} if k is not None else {}, **extra}


RECORDS = [_rec("retry", 1, status=429), _rec("ok", 1, (1000, 200)), _rec("malformed_response", 1, (300, 50),
           retried=True), _rec("cache_hit", 1, (1000, 200), cache="hit"), _rec("budget_refused", 2),
           _rec("ok", 2, (2000, 0)), _rec("failed", 2, status=500), _rec("ok", None, (7, 3))]


@pytest.mark.parametrize("on_file", [True, False])
def test_the_ledgers_running_totals_equal_a_summary_of_its_records(tmp_path, on_file) -> None:
    path = tmp_path / "llm-usage.jsonl" if on_file else None
    ledger = UsageLedger(path)
    for record in RECORDS[:5]:
        ledger.append(**record)
    if on_file:  # a later process counts what the earlier one wrote, and shows each record to `past`
        seen = []
        ledger = UsageLedger(path, past=seen.append)
        assert [r["outcome"] for r in seen] == [r["outcome"] for r in RECORDS[:5]]
    for record in RECORDS[5:]:
        ledger.append(**record)
    assert ledger.count == len(RECORDS) == len(list(ledger.iter_records()))
    for k in (None, 1, 2, 3):
        assert ledger.usage(k) == summarize(r for r in RECORDS if k is None or r["context"].get("round") == k)
    assert ledger.usage(1) == {"http_requests": 3, "answered": 1, "retries": 2,
                               "errors": {"429": 1, "malformed_response": 1}, "cache_hits": 1, "budget_refused": 0,
                               "input_tokens": 1300, "output_tokens": 250}
    assert ledger.usage(2) == {"http_requests": 2, "answered": 1, "retries": 0, "errors": {"500": 1},
                               "cache_hits": 0, "budget_refused": 1, "input_tokens": 2000, "output_tokens": 0}
    assert ledger.usage(None)["input_tokens"] == 1000 + 300 + 2000 + 7 and ledger.usage(3)["http_requests"] == 0
    if on_file:
        assert [json.loads(line)["outcome"] for line in path.read_text().splitlines()] == [r["outcome"]
                                                                                           for r in RECORDS]
