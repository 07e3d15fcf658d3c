"""Error profiles: the fitted tables of a recorded LLM, per language and pooled, as a small JSON file.

A profile ships with the package (``resources/profiles/<name>.json``, e.g. ``gpt-4-turbo``) or is any
file ``calibrate`` wrote. It holds derived counts only (no sentence), the recordings it came from, and
a readable ``summary`` of rates. A language without recordings gets the pooled tables, and says so.
"""
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ..errors import InputError
from ..packaged import PACKAGE
from .units import FAMILIES, Tables

PROFILES = "resources/profiles"
FORMAT = "spacy-llm-loop.error-profile.v1"
POOLED = "pooled"


@dataclass(frozen=True)
class LanguageTables:
    """The tables a simulation uses, with what they are: ``source`` is ``zul`` or ``pooled (...)``."""

    profile: str
    lang: Optional[str]
    source: str
    tables: Tables
    smoothing: float


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
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"not an error profile (expected \"format\": \"{FORMAT}\")", where)
    for key in ("name", "languages", POOLED):
        if key not in data:
            raise InputError(f"error profile without '{key}'", where)
    for lang, fitted in [(POOLED, data[POOLED])] + list(data["languages"].items()):
        tables = fitted.get("tables") if isinstance(fitted, dict) else None
        missing = [f for f in FAMILIES if not isinstance(tables, dict) or f not in tables]
        if missing:
            raise InputError(f"profile tables of '{lang}' lack the families {missing}", where)


def tables_for(profile: Dict[str, Any], lang: Optional[str]) -> LanguageTables:
    """The tables of ``lang``; the pooled ones when ``lang`` is None or has no recordings (``source`` says so)."""
    smoothing = float(profile.get("smoothing", 1.0))
    if lang is not None and lang in profile["languages"]:
        return LanguageTables(profile["name"], lang, lang, profile["languages"][lang]["tables"], smoothing)
    fitted = ", ".join(sorted(profile["languages"]))
    source = (f"{POOLED} ({fitted})" if lang is None
              else f"{POOLED} ({fitted}): no recordings for '{lang}'")
    return LanguageTables(profile["name"], lang, source, profile[POOLED]["tables"], smoothing)
