"""Format failures in recorded runs: wrong length, tags outside the schema, malformed items, missing output.

Two rates are given for runs the loop cannot use (wrong length, which it drops): *as recorded*, over the
runs in the file, and *missing counted as failures*, over the runs that were asked for (``expected_runs``
per record, and ``expected_records`` records), as the paper's table counts them: a request that failed
outright left no run, or no record, in the file.
"""
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence

from .agreement import PAPER_RUNS
from .recorded import SCHEMA, Recording, in_schema, is_pair, run_tags


def malformed_kind(element: Any) -> Optional[str]:
    """How a run element fails to be a ``[token, tag]`` pair of strings, or ``None`` when it is one."""
    if is_pair(element):
        return None
    if not isinstance(element, (list, tuple)):
        return f"not a list ({type(element).__name__})"
    if len(element) != 2:
        return f"{len(element)} item{'s' if len(element) != 1 else ''}"
    return "tag not a string" if not isinstance(element[1], str) else "token not a string"


def _rate(count: int, total: int) -> Optional[float]:
    return count / total if total else None


def count_failures(recording: Recording, expected_runs: int = PAPER_RUNS, expected_records: Optional[int] = None,
                   schema: Sequence[str] = SCHEMA) -> Dict[str, Any]:
    """Counts and rates of each format failure in one recording (see the module docstring)."""
    present = {r.index for r in recording.records}
    n_expected = max(expected_records or 0, len(recording.records))
    missing_records = max(0, n_expected - len(recording.records))
    missing_indices: List[int] = sorted(set(range(expected_records or 0)) - present)
    runs_recorded = sum(len(r.runs) for r in recording.records)
    runs_missing = sum(max(0, expected_runs - len(r.runs)) for r in recording.records)
    runs_expected = runs_recorded + runs_missing + missing_records * expected_runs
    wrong = empty = not_list = oos_runs = malformed_runs = 0
    oos: Counter = Counter()
    kinds: Counter = Counter()
    for record in recording.records:
        for run in record.runs:
            tags = run_tags(run)
            not_list += tags is None
            empty += tags == []
            wrong += tags is None or len(tags) != len(record.gold)
            bad = [str(t) for t in tags or [] if not in_schema(t, schema)]
            oos.update(bad)
            oos_runs += bool(bad)
            broken = [k for k in map(malformed_kind, run if isinstance(run, list) else []) if k]
            kinds.update(broken)
            malformed_runs += bool(broken)
    failed = wrong + runs_missing + missing_records * expected_runs
    return {
        "records": len(recording.records), "records_expected": n_expected, "records_missing": missing_records,
        "missing_record_indices": missing_indices,
        "records_with_missing_runs": sum(len(r.runs) < expected_runs for r in recording.records),
        "runs_recorded": runs_recorded, "runs_missing": runs_missing, "runs_expected": runs_expected,
        "wrong_length_runs": {"count": wrong, "empty": empty, "not_a_list": not_list,
                              "rate": _rate(wrong, runs_recorded)},
        "failed_runs": {"count": failed, "rate_as_recorded": _rate(wrong, runs_recorded),
                        "rate_missing_as_failures": _rate(failed, runs_expected)},
        "out_of_schema": {"elements": sum(oos.values()), "runs": oos_runs, "run_rate": _rate(oos_runs, runs_recorded),
                          "tags": dict(oos.most_common())},
        "malformed_items": {"elements": sum(kinds.values()), "runs": malformed_runs,
                            "run_rate": _rate(malformed_runs, runs_recorded), "kinds": dict(kinds.most_common())},
    }
