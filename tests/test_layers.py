"""The package's layers: every import points down, and nothing imports in a circle.

Every module under ``components/`` is read with ``ast`` (module-level and function-local imports alike, relative
ones resolved), and each import becomes an edge between two modules and between their packages (the first level
under ``components/``; a top-level module such as ``export.py`` is a package of its own). See docs/architecture.md.
"""
import ast
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, Iterator, List, NamedTuple, Sequence, Set

ROOT = Path(__file__).resolve().parent.parent / "components"
PACKAGE = "spacy_llm_loop"  # the name components/ installs as

# Bottom to top. A package may import from its own layer and the layers below it, never from one above: a lower
# layer must make sense (and be testable) without what is built on it, and a cycle cannot form across layers.
# Within one layer either direction is allowed; the cycle tests keep those imports one-way too.
LAYERS: List[List[str]] = [
    ["__init__", "about", "errors", "environment", "package_data"],  # no project imports at all
    ["fileio", "figures"],  # atomic files, JSON(L), the figure helper
    ["data"],  # corpora, labels, DocBin / CoNLL / Prodigy / own data
    ["uncertainty"],  # the uncertainty component and its measures
    ["learner"],  # training the spaCy pipeline
    ["evaluation"],  # entity F1 and the token-level metric
    ["policy", "strategies", "review"],  # label policies; query strategies and seed samplers; review tasks
    ["llm"],  # spacy-llm task and chat models, pricing, tokens
    ["annotators"],  # the annotator interface, gold and LLM annotators
    ["annotator_eval"],  # annotator evaluation: recordings, agreement, live asking
    ["leakage"],  # overlap, memorisation probes, Min-K%++
    ["simulate"],  # SIMULATED stand-ins, calibrated with annotator_eval/, speaking llm/'s and leakage/'s prompts
    ["loop"],  # the active-learning loop and its pre-flight estimate
    ["cost", "reporting", "export", "baselines"],  # reading finished runs
    ["packaging"],  # a spaCy package from an export
    ["cli"],  # the commands
    ["__main__"],
]


class Edge(NamedTuple):
    source: str  # importing module, dotted under components/ ("loop.main"; "" for components/__init__.py)
    target: str
    path: Path
    line: int


def modules() -> Dict[str, Path]:
    """Every module by its dotted name under components/ (a package by its own name, not ``.__init__``)."""
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _within(name: str) -> str:
    """An absolute import's name relative to components/, or "-" for one outside the package."""
    for root in (PACKAGE, ROOT.name):
        if name == root:
            return ""
        if name.startswith(root + "."):
            return name[len(root) + 1:]
    return "-"


def _target(name: str, known: Dict[str, Path]) -> str:
    """The longest known module that ``name`` starts with ("-" for none)."""
    while name not in known:
        if not name:
            return "-"
        name = name.rpartition(".")[0]
    return name


def edges() -> Iterator[Edge]:
    """Every import of a module under components/ of another one, wherever in the file it is written."""
    known = modules()
    for module, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: List[str] = []
            if isinstance(node, ast.Import):
                names = [_within(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".") if module else []
                    base = base[:len(base) - node.level + (path.name == "__init__.py")]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = _within(node.module or "")
                if origin != "-":
                    names = [origin] + [f"{origin}.{alias.name}".lstrip(".") for alias in node.names]
            for name in names:
                target = "-" if name == "-" else _target(name, known)
                if target != "-" and target != module:
                    yield Edge(module, target, path, node.lineno)


def package(module: str) -> str:
    """The first level under components/; components/__init__.py is ``__init__``."""
    return module.split(".")[0] if module else "__init__"


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _graph(pairs: Sequence[Edge], key: Callable[[str], str] = str) -> Dict[str, Set[str]]:
    graph: Dict[str, Set[str]] = defaultdict(set)
    for edge in pairs:
        if key(edge.source) != key(edge.target):
            graph[key(edge.source)].add(key(edge.target))
    return graph


def _where(edge: Edge) -> str:
    return f"{edge.path.relative_to(ROOT.parent)}:{edge.line} imports {edge.target or '__init__'}"


ALL = list(edges())
RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def test_imports_are_found() -> None:
    """A guard on the reader itself: relative, absolute and function-local imports all count."""
    found = {(e.source, e.target) for e in ALL}
    assert ("loop.main", "loop.runner") in found  # relative, module level
    assert ("loop.main", "learner.train") in found  # relative, inside a function
    assert ("cli.loop", "loop.main") in found  # inside a command; cli/loop.py's ..loop is the loop package
    assert ("cli", "cli.corpus") in found  # ``from . import corpus`` in a package's __init__
    assert ("__main__", "cli") in found


def test_every_package_has_a_layer() -> None:
    packages = {package(m) for m in modules()}
    assert packages - set(RANK) == set(), "place the new package in LAYERS (and in docs/architecture.md)"
    assert set(RANK) - packages == set(), "LAYERS names a package that is gone"
    assert len(RANK) == sum(map(len, LAYERS)), "a package is named in two layers"


def test_no_package_cycle() -> None:
    assert cycles(_graph(ALL, package)) == []


def test_no_file_cycle() -> None:
    assert cycles(_graph(ALL)) == []


def test_every_import_points_down() -> None:
    upward = sorted({_where(e) for e in ALL if RANK[package(e.source)] < RANK[package(e.target)]})
    assert upward == [], "imports up the layers (move the code down, or the importer up):\n" + "\n".join(upward)


def test_cycle_finder_finds_a_cycle() -> None:
    """The cycle test would fail on a cycle: a three-node loop and a self-contained pair are found."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": set()}) == [["a", "b", "c"]]
