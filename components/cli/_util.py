"""What every command shares: the typer app, the one error policy, option parsing and the shared options.

As in spaCy's ``spacy/cli/_util.py``: the command modules register on :data:`app`, and a command only parses its
options, calls a library function and prints. A user-facing error (:data:`EXPECTED`) is printed unwrapped, since
it names the file, line or item, and exits 1 (:func:`exits_on_error`); anything else is a bug and keeps its
traceback.
"""
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, NoReturn, Optional, Tuple, Type

import typer
from spacy.cli._util import parse_config_overrides
from spacy.util import import_file

from ..errors import LoopError

COMMAND = "python -m spacy_llm_loop"
app = typer.Typer(name="spacy-llm-loop", add_completion=False, no_args_is_help=True,
                  help="LLM-assisted active learning for NER (arXiv 2404.02261) as spaCy project commands.")
Arg = typer.Argument
Opt = typer.Option
EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}  # commands taking --section.key overrides
LEARNER_PREFIX = "learner."
EXPECTED: Tuple[Type[Exception], ...] = (LoopError, ValueError, OSError)


def setup(code: Optional[Path] = None) -> None:
    """Log lines with a time stamp (spaCy's and httpx's own quieter), and import ``code``'s registered functions."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", force=True)
    logging.getLogger("spacy").propagate = False  # spaCy prints its own log lines
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per HTTP request is too many
    if code is not None:
        import_file("user_code", code)


def fail(err: object) -> NoReturn:
    """Print the error unwrapped on stderr (it names the file, line or item) and exit 1."""
    typer.secho(f"✘ {err}", err=True, fg="red")
    raise typer.Exit(1)


@contextmanager
def exits_on_error(*also: Type[Exception]) -> Iterator[None]:
    """The one error policy: an :data:`EXPECTED` error raised in the block (or one of ``also``, for a command
    whose library reports with it) goes to :func:`fail`; typer's own exits pass (``typer.Exit`` is a RuntimeError)."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except (*EXPECTED, *also) as err:
        fail(err)


def split_overrides(args: List[str]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(learner_overrides, loop_overrides)`` from extra ``--a.b value`` command-line options.

    spaCy's ``parse_config_overrides`` empties the list it is given, so it gets a copy: ``args``
    (typer's ``ctx.args``) stays intact for anything that reads it later.
    """
    overrides = parse_config_overrides(list(args))
    learner = {k[len(LEARNER_PREFIX):]: v for k, v in overrides.items() if k.startswith(LEARNER_PREFIX)}
    loop = {k: v for k, v in overrides.items() if not k.startswith(LEARNER_PREFIX)}
    return learner, loop


def all_overrides(args: List[str]) -> Dict[str, Any]:
    """Every extra ``--a.b value`` option as one config's overrides (``--learner.a.b`` and ``--a.b`` alike)."""
    learner, plain = split_overrides(args)
    learner.update(plain)
    return learner


def split_list(values: Optional[Iterable[str]]) -> List[str]:
    """A repeated option whose values may also be comma-separated (``--lang a,b --lang c``), empty items dropped."""
    return [item for value in values or [] for item in value.split(",") if item]


def number_range(text: str, name: str) -> Tuple[float, float]:
    """``"2000,5500"`` (or one number) -> ``(2000.0, 5500.0)``; a ValueError naming the option otherwise."""
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"--{name}: expected <low>,<high> numbers, got '{text}'") from None
    if len(values) not in (1, 2):
        raise ValueError(f"--{name}: expected <low>,<high>, got '{text}'")
    return (values[0], values[-1])


def file_or_none(value: Optional[str]) -> Optional[Path]:
    """A file option's value; an empty string (a project var left empty) means none."""
    return Path(value) if value else None


def llm_endpoint_option(who: str = "LLM annotators") -> Any:
    """``--llm-endpoint``, declared once for every command that asks an LLM (``who``: what it is for)."""
    return Opt("", help=f"{who}: an OpenAI-compatible chat completions URL")


def llm_model_option(who: str = "LLM annotators") -> Any:
    """``--llm-model``, declared once for every command that asks an LLM."""
    return Opt("", help=f"{who}: the model name to request")


def llm_settings(endpoint: str, model: str) -> Dict[str, Optional[str]]:
    """The two options as the annotator's settings: an empty value keeps the config's own."""
    return {"endpoint": endpoint or None, "model_name": model or None}
