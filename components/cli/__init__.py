"""``python -m spacy_llm_loop``: the project's commands as typer commands, one module per group.

As in spaCy's ``spacy/cli``: each module registers its commands on the app of :mod:`._util`, and each command
only parses its options, calls an importable library function (which is what tests and other code call) and
prints. Extra ``--a.b value`` options are config overrides, as in ``spacy train``:
``--learner.training.max_steps 300`` goes to the learner config, anything else to the loop config.
"""
from ._util import app

# Importing a module registers its commands, in this order in --help: from the data to the loop to its results.
# isort: off
from . import corpus, training, annotators, loop, reporting, leakage, export  # noqa: F401
# isort: on


def main() -> None:
    """Console-script entry point (``spacy-llm-loop``)."""
    app()


__all__ = ["app", "main"]
