"""Rewrite every benchmark page that a script writes whole, from the results on this machine; list the rest.

A page a script writes whole says so in its first lines: ``Written by `python bench/<script>.py ... --doc
docs/benchmarks/<page>.md```. This step reruns that command with ``--report-only`` (nothing is trained; the
tables come from the runs under the ``--out`` folder it names), so no figure on such a page is copied by hand.
Pages whose tables were assembled from a script's printed output are listed with the commands they name.

    python bench/summarize.py            # rewrite what can be rewritten here, and print the inventory
    python bench/summarize.py --check    # exit 1 if a rewritten page differs from the committed one
"""
import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

PAGES = Path("docs/benchmarks")
WRITTEN_BY = re.compile(r"Written by `(python bench/[a-z_]+\.py [^`]*)`")
COMMAND = re.compile(r"python bench/[a-z_]+\.py")


def page_command(page: Path) -> Optional[List[str]]:
    """The command that writes ``page`` whole (``--doc`` names it), with ``--report-only``; None for a page
    assembled by hand."""
    match = WRITTEN_BY.search(page.read_text(encoding="utf-8"))
    if match is None:
        return None
    argv = shlex.split(match.group(1))
    if "--doc" not in argv or Path(argv[argv.index("--doc") + 1]) != page:
        return None
    return argv + ([] if "--report-only" in argv else ["--report-only"])


def results_missing(argv: Sequence[str]) -> List[str]:
    """The result folders a command reads that are not on this machine."""
    folders = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--out", "--gold-runs", "--trust-runs",
                                                                      "--base-runs", "--hardness-dir", "--work",
                                                                      "--corpus")]
    return [f for f in folders if not Path(f).exists()]


def summarize(check: bool = False) -> Tuple[List[str], bool]:
    """Rewrite the pages; the inventory's lines and whether every rewritten page is unchanged."""
    lines = ["| page | how it is written | status |", "|---|---|---|"]
    unchanged = True
    for page in sorted(PAGES.glob("*.md")):
        argv = page_command(page)
        if argv is None:
            named = sorted(set(COMMAND.findall(page.read_text(encoding="utf-8"))))
            how = "by hand from the printed output of " + ", ".join(f"`{c}`" for c in named) if named else "by hand"
            lines.append(f"| {page.name} | {how} | - |")
            continue
        if "--report-only" not in (Path(argv[1])).read_text(encoding="utf-8"):  # it measures anew: not rerun
            lines.append(f"| {page.name} | `{argv[1]}` (measures anew each time) | rerun it by hand |")
            continue
        missing = results_missing(argv)
        if missing:
            lines.append(f"| {page.name} | `{argv[1]}` | results not on this machine: {', '.join(missing)} |")
            continue
        before = page.read_text(encoding="utf-8")
        done = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True)
        if done.returncode != 0:
            lines.append(f"| {page.name} | `{argv[1]}` | failed: {done.stderr.strip().splitlines()[-1:]} |")
            unchanged = False
            continue
        same = page.read_text(encoding="utf-8") == before
        unchanged = unchanged and same
        lines.append(f"| {page.name} | `{argv[1]}` | rewritten{'' if same else ', changed'} |")
        if check and not same:
            page.write_text(before, encoding="utf-8")
    return lines, unchanged


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="leave the pages as they are; exit 1 if one would change")
    opts = parser.parse_args(argv)
    lines, unchanged = summarize(opts.check)
    print("\n".join(lines))
    if opts.check and not unchanged:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
