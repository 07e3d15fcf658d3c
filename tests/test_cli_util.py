"""The thin command line: one error policy, the shared option parsing, and the library functions commands call."""
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from spacy_llm_loop.baselines import baseline_name
from spacy_llm_loop.cli import app
from spacy_llm_loop.cli._util import exits_on_error, number_range, split_list
from spacy_llm_loop.errors import InputError
from spacy_llm_loop.learner.source_tok2vec import check_ner_from
from spacy_llm_loop.loop.shortcuts import shortcut_overrides
from spacy_llm_loop.simulate.rules import simulated_llm

COMMANDS = ["convert", "prepare", "train-full", "pretrain", "e5-small", "annotator-eval", "calibrate",
            "simulate-llm", "loop", "evaluate", "report", "cost", "leakage", "export", "package"]


def test_every_command_is_registered_in_workflow_order() -> None:
    group = typer.main.get_command(app)
    assert list(group.list_commands(None)) == COMMANDS


def _run(body, *also):  # the policy inside a one-command app, as a command uses it
    probe = typer.Typer()

    @probe.command()
    def cmd() -> None:
        with exits_on_error(*also):
            body()

    return CliRunner().invoke(probe, [])


def _raise(err):
    def body():
        raise err
    return body


def test_an_expected_error_is_printed_unwrapped_and_exits_1() -> None:
    result = _run(_raise(InputError("bad line", "x.conll", 3)))
    assert result.exit_code == 1 and "✘ x.conll:3: bad line" in result.output
    assert _run(_raise(FileNotFoundError("no such file"))).exit_code == 1


def test_other_errors_keep_their_traceback_unless_the_command_expects_them() -> None:
    result = _run(_raise(KeyError("lang")))
    assert isinstance(result.exception, KeyError)
    result = _run(_raise(KeyError("lang")), KeyError)
    assert result.exit_code == 1 and "✘ 'lang'" in result.output


def test_typer_exits_pass_through_even_when_runtime_errors_are_expected() -> None:
    result = _run(_raise(typer.Exit(3)), RuntimeError)
    assert result.exit_code == 3 and "✘" not in result.output


def test_option_parsing() -> None:
    assert split_list(["zul,tsn", "", "bam"]) == ["zul", "tsn", "bam"] and split_list(None) == []
    assert number_range("2000,5500", "x") == (2000.0, 5500.0) and number_range("5", "x") == (5.0, 5.0)
    with pytest.raises(ValueError, match="--hourly-usd: expected <low>,<high> numbers, got 'a,b'"):
        number_range("a,b", "hourly-usd")
    with pytest.raises(ValueError, match="--x: expected <low>,<high>, got '1,2,3'"):
        number_range("1,2,3", "x")


def test_loop_shortcuts_are_config_overrides() -> None:
    loop, learner = shortcut_overrides(lang="zul", seed=0, corpus=Path("corpus/zul"), run_name="", llm_endpoint="",
                                       budget_usd="1.5", budget_tokens="", transfer_max=500, transfer_ratio=2.0)
    assert loop == {"loop.lang": "zul", "loop.seed": 0, "paths.corpus": "corpus/zul", "annotator.budget_usd": 1.5}
    assert learner == {}  # transfer_max/ratio count only with transfer languages; empty strings set nothing
    loop, learner = shortcut_overrides(transfer_langs="xho sna", init_tok2vec="pt/model-last.bin")
    assert loop == {"loop.transfer_langs": "xho sna", "loop.transfer_max": 2000}  # a ratio of 0: no cap
    assert learner == {"paths.init_tok2vec": "pt/model-last.bin"}
    with pytest.raises(ValueError):
        shortcut_overrides(budget_tokens="many")


def test_small_library_checks_the_commands_call() -> None:
    assert baseline_name("zul", 2) == "zul-full-seed2"
    assert baseline_name("zul", 2, ("xho", "sna")) == "zul-full-tx-xho+sna-seed2"
    with pytest.raises(ValueError, match="drop --epochs"):
        check_ner_from(5, ())
    with pytest.raises(ValueError, match="give one of them"):
        check_ner_from(None, ("zul",))
    check_ner_from(None, ())
    with pytest.raises(ValueError, match="not both"):
        simulated_llm(Path("gold.spacy"), "capitalised:NAME")
    with pytest.raises(ValueError, match="not both"):
        simulated_llm()
    assert simulated_llm(rule="capitalised:NAME", normalize="nfc").normalize == "NFC"


def test_a_refused_command_says_why_and_exits_1(tmp_path) -> None:
    result = CliRunner().invoke(app, ["simulate-llm"])
    assert result.exit_code == 1 and "not both" in result.output
    result = CliRunner().invoke(app, ["loop", "--pool", str(tmp_path / "texts.txt")])
    assert result.exit_code == 1 and "--pool needs --lang" in result.output
    result = CliRunner().invoke(app, ["cost", "--hourly-usd", "cheap", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 1 and "--hourly-usd: expected <low>,<high> numbers" in result.output
