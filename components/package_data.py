"""Package data: annotator configs, the price table, published baselines (found with importlib.resources).

Everything the package reads at run time ships inside it, so the commands work from any working
directory and from an installed wheel, not only from the project's root folder.
"""
from importlib import resources
from pathlib import Path
from typing import List, Union

PACKAGE = "spacy_llm_loop"
ANNOTATORS = "resources/annotators"
CONFIGS = "resources/configs"  # copies of the project's configs/ (a test keeps them identical)


def read_text(name: str) -> str:
    """The text of the package file ``name`` (e.g. ``resources/prices.csv``)."""
    return resources.files(PACKAGE).joinpath(name).read_text(encoding="utf-8")


def packaged_annotators() -> List[str]:
    """Short names of the annotator configs shipped with the package (``gpt-4-turbo``, ...)."""
    folder = resources.files(PACKAGE).joinpath(ANNOTATORS)
    return sorted(entry.name[:-4] for entry in folder.iterdir() if entry.name.endswith(".cfg"))


def _packaged_name(config: Union[str, Path]) -> str:
    """``gpt-4-turbo`` for ``gpt-4-turbo``, ``annotator-gpt-4-turbo.cfg`` or ``configs/annotator-gpt-4-turbo.cfg``
    when that config ships with the package; else a ValueError listing what does."""
    path = Path(config)
    name = path.name[len("annotator-"):] if path.name.startswith("annotator-") else path.name
    name = name[:-4] if name.endswith(".cfg") else name
    if name in packaged_annotators() and path.parent in (Path("."), Path("configs")):
        return name
    raise ValueError(f"annotator config '{config}' is neither a file nor one of the packaged configs "
                     f"({', '.join(packaged_annotators())})")


def annotator_config_text(config: Union[str, Path]) -> str:
    """The text of an annotator config: a file path (which wins when it exists), or a packaged config's name."""
    path = Path(config)
    if path.is_file():
        return path.read_text(encoding="utf-8")
    return read_text(f"{ANNOTATORS}/{_packaged_name(config)}.cfg")


def config_file(path: Union[str, Path]) -> Path:
    """``path`` when it is a file; else, for ``configs/<name>.cfg`` (or ``<name>.cfg``) that ships with the
    package (``loop.cfg``, ``learner-cnn.cfg``, ``learner-trf.cfg``), the packaged copy, so the commands run from
    any folder; else ``path`` as given (opening it then names what is missing)."""
    given = Path(path)
    if given.is_file() or given.parent not in (Path("."), Path("configs")):
        return given
    packaged = resources.files(PACKAGE).joinpath(f"{CONFIGS}/{given.name}")
    return Path(str(packaged)) if packaged.is_file() else given
