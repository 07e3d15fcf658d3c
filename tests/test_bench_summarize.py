"""bench/summarize.py: which pages a script writes whole (and so can rewrite), and which were assembled by hand."""
from pathlib import Path

from .helpers.bench import bench_module

summarize = bench_module("summarize")


def test_a_page_written_whole_gives_its_command_with_report_only(tmp_path, monkeypatch) -> None:
    page = Path("docs/benchmarks/x.md")
    text = "# X\n\nWritten by `python bench/label_policies.py --langs tsn --out bench/results/pol --title 'a b' " \
           "--doc docs/benchmarks/x.md`. More.\n"
    (tmp_path / "x.md").write_text(text, encoding="utf-8")
    argv = summarize.page_command(tmp_path / "x.md")
    assert argv is None  # the command names another page than this one
    written = tmp_path / "docs" / "benchmarks"
    written.mkdir(parents=True)
    (written / "x.md").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    argv = summarize.page_command(page)
    assert argv[:2] == ["python", "bench/label_policies.py"] and argv[-1] == "--report-only"
    assert "a b" in argv and summarize.results_missing(argv) == ["bench/results/pol"]


def test_a_page_without_the_line_is_by_hand(tmp_path) -> None:
    (tmp_path / "y.md").write_text("# Y\n\n`python bench/round_cost.py` printed this table.\n", encoding="utf-8")
    assert summarize.page_command(tmp_path / "y.md") is None
