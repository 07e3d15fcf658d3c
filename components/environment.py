"""What a result depends on besides its settings: package versions, threads, the machine.

A run records this in ``run.json`` (``environment``) and in every round's record, so two
figures that differ can be told apart by what they ran on. None of it decides whether a
run may be resumed: a resumed run on another machine is allowed and logged.
"""
import logging
import os
import platform
import sys
from importlib import metadata
from typing import Any, Dict, List

logger = logging.getLogger(__name__)

# Packages whose version can change a trained model or its scores.
PACKAGES = ("spacy-llm-loop", "spacy", "thinc", "blis", "numpy", "spacy-llm", "spacy-transformers", "torch",
            "transformers", "srsly", "scikit-learn")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "OPENBLAS_CORETYPE", "PYTHONHASHSEED", "CUDA_VISIBLE_DEVICES")
# CPU features that select different numeric kernels (blis, OpenBLAS, torch).
CPU_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile")


def package_versions() -> Dict[str, str]:
    """Installed version of each package in :data:`PACKAGES` (``"-"`` when not installed)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    return versions


def cpu_description() -> Dict[str, Any]:
    """The processor's model name and which of :data:`CPU_FLAGS` it has (Linux; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return {"model": platform.processor(), "flags": []}
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "")
    flags_line = next((line.split(":", 1)[1] for line in text.splitlines() if line.startswith("flags")), "")
    flags = set(flags_line.split())
    return {"model": model, "flags": [flag for flag in CPU_FLAGS if flag in flags]}


def thread_pools() -> List[Dict[str, Any]]:
    """BLAS/OpenMP thread pools loaded in this process and their thread counts (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover (a scikit-learn dependency)
        return []
    return [{"api": pool.get("internal_api"), "threads": pool.get("num_threads"),
             "arch": pool.get("architecture")} for pool in threadpool_info()]


def environment() -> Dict[str, Any]:
    """Everything this module records, as a JSON-ready dict."""
    torch_threads = None
    if "torch" in sys.modules:  # never import torch just to ask (seconds, and not needed by the CNN)
        torch_threads = sys.modules["torch"].get_num_threads()
    return {"python": platform.python_version(), "platform": platform.platform(), "machine": platform.machine(),
            "cpu": cpu_description(), "cpu_count": os.cpu_count(), "packages": package_versions(),
            "thread_variables": {name: os.environ.get(name) for name in THREAD_VARIABLES},
            "thread_pools": thread_pools(), "torch_threads": torch_threads}


def differences(before: Dict[str, Any], now: Dict[str, Any], prefix: str = "") -> List[str]:
    """Dotted keys whose values differ between two :func:`environment` dicts."""
    out = []
    for key in sorted(set(before) | set(now)):
        a, b = before.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(differences(a, b, f"{prefix}{key}."))
        elif a != b:
            out.append(f"{prefix}{key}")
    return out
