"""The benchmark scripts as modules: ``bench/`` is a folder of scripts that import each other (``stats``, ``jobs``,
``label_efficiency`` ...) as a script's own folder allows; the tests put that folder on the path once."""
import importlib
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str) -> ModuleType:
    """``bench/<name>.py``, imported."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module(name)
