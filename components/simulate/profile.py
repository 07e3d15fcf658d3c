"""Error profiles: the fitted tables of a recorded LLM, per language and pooled, as a small JSON file.

A profile ships with the package (``resources/profiles/<name>.json``, e.g. ``gpt-4-turbo``) or is any
file ``calibrate`` wrote. It holds derived counts only (no sentence), the recordings it came from, and
a readable ``summary`` of rates. A language without recordings gets the pooled tables, and says so.

Format v2 (:data:`FORMAT_V2`, written by :func:`.fit.fit_hardness_profile`) is a v1 profile plus, per
language and pooled, ``hardness_tables`` (the entity family counted per ``<type>:<length>:<bucket>``, see
:mod:`.hardness`) and a top-level ``hardness`` block (the buckets, the smoothing towards the bucket-free tables,
the reference learners and how often a real error was the reference learner's own guess). Its v1 part is read
as before, so a v2 profile without a hardness lookup simulates exactly as its v1 tables do.
"""
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

from ..errors import InputError
from ..package_data import PACKAGE
from .units import FAMILIES, Tables

PROFILES = "resources/profiles"
FORMAT = "spacy-llm-loop.error-profile.v1"
FORMAT_V2 = "spacy-llm-loop.error-profile.v2"
FORMATS = (FORMAT, FORMAT_V2)
HARDNESS = "hardness"
POOLED = "pooled"


@dataclass(frozen=True)
class LanguageTables:
    """The tables a simulation uses, with what they are: ``source`` is ``zul`` or ``pooled (...)``."""

    profile: str
    lang: Optional[str]
    source: str
    tables: Tables
    smoothing: float
    hardness_tables: Optional[Tables] = None  # v2: the entity family per <type>:<length>:<bucket>
    hardness_smoothing: float = 0.0  # v2: a bucket cell's weight towards its bucket-free condition
    learner_spans: Optional[Mapping[str, float]] = None  # v2: per error kind, how often it is the learner's guess


def packaged_profiles() -> List[str]:
    """Names of the profiles shipped with the package (``gpt-4-turbo``, ...)."""
    folder = resources.files(PACKAGE).joinpath(PROFILES)
    return sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".json"))


def load_profile(profile: Union[str, Path]) -> Dict[str, Any]:
    """A profile from a file path (which wins when it exists) or a packaged profile's name; checked."""
    path = Path(profile)
    if path.is_file():
        text, where = path.read_text(encoding="utf-8"), str(path)
    elif str(profile) in packaged_profiles():
        text = resources.files(PACKAGE).joinpath(f"{PROFILES}/{profile}.json").read_text(encoding="utf-8")
        where = f"{PACKAGE}/{PROFILES}/{profile}.json"
    else:
        raise InputError(f"error profile '{profile}' is neither a file nor one of the packaged profiles "
                         f"({', '.join(packaged_profiles()) or 'none'})")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON ({err.msg})", where, err.lineno) from None
    check_profile(data, where)
    return data


def check_profile(data: Any, where: str) -> None:
    """An :class:`InputError` naming ``where`` and the key when ``data`` is not a profile."""
    if not isinstance(data, dict) or data.get("format") not in FORMATS:
        raise InputError(f"not an error profile (expected \"format\": \"{FORMAT}\" or \"{FORMAT_V2}\")", where)
    for key in ("name", "languages", POOLED) + ((HARDNESS,) if data["format"] == FORMAT_V2 else ()):
        if key not in data:
            raise InputError(f"error profile without '{key}'", where)
    for lang, fitted in [(POOLED, data[POOLED])] + list(data["languages"].items()):
        tables = fitted.get("tables") if isinstance(fitted, dict) else None
        missing = [f for f in FAMILIES if not isinstance(tables, dict) or f not in tables]
        if missing:
            raise InputError(f"profile tables of '{lang}' lack the families {missing}", where)
        if data["format"] == FORMAT_V2 and not isinstance(fitted.get("hardness_tables", {}).get("entity"), dict):
            raise InputError(f"v2 profile: '{lang}' has no hardness_tables.entity", where)
    if data["format"] == FORMAT_V2:
        block = data[HARDNESS]
        missing = [k for k in ("buckets", "cuts", "smoothing") if not isinstance(block, dict) or k not in block]
        if missing:
            raise InputError(f"v2 profile: its '{HARDNESS}' block lacks {missing}", where)


def tables_for(profile: Dict[str, Any], lang: Optional[str]) -> LanguageTables:
    """The tables of ``lang``; the pooled ones when ``lang`` is None or has no recordings (``source`` says so)."""
    smoothing = float(profile.get("smoothing", 1.0))
    if lang is not None and lang in profile["languages"]:
        fitted, source = profile["languages"][lang], lang
    else:
        names = ", ".join(sorted(profile["languages"]))
        fitted = profile[POOLED]
        source = f"{POOLED} ({names})" if lang is None else f"{POOLED} ({names}): no recordings for '{lang}'"
    if profile.get("format") != FORMAT_V2:
        return LanguageTables(profile["name"], lang, source, fitted["tables"], smoothing)
    block = profile[HARDNESS]
    shares = {kind: float(row["share"]) for kind, row in block.get("learner_spans", {}).items()}
    return LanguageTables(profile["name"], lang, source, fitted["tables"], smoothing, fitted["hardness_tables"],
                          float(block["smoothing"]), shares)
