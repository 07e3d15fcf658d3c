"""project.yml: its shape, and the `all` workflow end to end on small settings."""
import shutil
import subprocess
from pathlib import Path

import pytest
import srsly

from .conftest import ROOT

SMALL_VARS = {"rounds": 1, "query_size": "24", "seed_size": "24", "max_steps": 120, "eval_frequency": 40,
              "patience": 200, "full_max_steps": 120, "full_patience": 200}


# project commands that are a CLI command with other settings
CLI_NAME = {"loop-trf": "loop", "annotator-eval-recorded": "annotator-eval", "pretrain-transfer": "pretrain"}


def project():
    return srsly.read_yaml(ROOT / "project.yml")


def test_sections_in_order_and_commands_complete():
    keys = list(project())
    order = ["title", "description", "vars", "env", "directories", "assets", "workflows", "commands"]
    assert [k for k in keys if k in order] == order
    for command in project()["commands"]:
        assert {"name", "help", "script", "deps", "outputs"} <= set(command), command["name"]
    names = {c["name"] for c in project()["commands"]}
    assert set(project()["workflows"]["all"]) <= names


def test_deps_and_outputs_are_single_paths_after_substitution():
    from weasel.util import load_project_config

    for command in load_project_config(ROOT)["commands"]:
        for path in command["deps"] + command["outputs"]:
            assert ", " not in path and "${" not in path, (command["name"], path)


def test_every_code_and_config_dep_exists():
    """`spacy project run` refuses a command whose dependency is missing: a moved module must move here too."""
    from weasel.util import load_project_config

    for command in load_project_config(ROOT)["commands"]:
        for path in command["deps"]:
            if path.startswith(("components/", "configs/")):
                assert (ROOT / path).exists(), (command["name"], path)


def test_one_var_names_the_run_folder_that_loop_writes_and_the_others_read():
    """A run with another estimator (or any setting that changes the CLI's default folder name) is written where
    evaluate, export and package look for it: the loop commands pass --run-name, and nothing spells the folder
    out of lang, annotator, strategy and seed instead of the var."""
    from weasel.util import load_project_config

    loaded = load_project_config(ROOT, overrides={"vars.run": "zul-gold-entropy-mc-seed3",
                                                  "vars.trf_run": "zul-gold-entropy-trf-mc-seed3",
                                                  "vars.estimator": "mc_dropout"})
    commands = {c["name"]: c for c in loaded["commands"]}
    assert "--run-name 'zul-gold-entropy-mc-seed3'" in commands["loop"]["script"][0]
    assert commands["loop"]["outputs"] == ["runs/zul-gold-entropy-mc-seed3/loop.json"]
    assert "--run-name 'zul-gold-entropy-trf-mc-seed3'" in commands["loop-trf"]["script"][0]
    assert commands["loop-trf"]["outputs"] == ["runs/zul-gold-entropy-trf-mc-seed3/loop.json"]
    assert commands["evaluate"]["script"][0].split()[4] == "runs/zul-gold-entropy-mc-seed3"
    for name in ("export", "package"):
        assert commands[name]["deps"][0] == "runs/zul-gold-entropy-mc-seed3/loop.json"
        assert f"spacy_llm_loop {name} runs/zul-gold-entropy-mc-seed3 " in commands[name]["script"][0]
    defaults = {c["name"]: c for c in load_project_config(ROOT, overrides={"vars.lang": "zul", "vars.seed": 3,
                                                                           "vars.annotator": "gold"})["commands"]}
    run = "zul-gold-entropy-lp-disagree-both-gold3-seed3"  # the var follows the others, the label policy included
    assert f"--run-name '{run}'" in defaults["loop"]["script"][0]
    assert defaults["package"]["deps"][0] == f"runs/{run}/loop.json"
    text = (ROOT / "project.yml").read_text(encoding="utf-8")
    assert text.count("${vars.strategy}-lp-${vars.label_policy}-seed${vars.seed}") == 1  # the var's own default
    assert text.count("${vars.strategy}-trf-lp-${vars.label_policy}-seed${vars.seed}") == 1


def test_every_command_is_a_cli_command(python):
    out = subprocess.run([python, "-m", "spacy_llm_loop", "--help"], capture_output=True, text=True, check=True).stdout
    for command in project()["commands"]:
        name = CLI_NAME.get(command["name"], command["name"])
        assert name in out
        assert f"spacy_llm_loop {name} " in " ".join(command["script"])


def test_assets_have_descriptions_and_urls():
    for asset in project()["assets"]:
        assert asset["description"] and asset["url"].startswith("https://")


@pytest.mark.slow
def test_all_workflow_end_to_end(small_data_dir, tmp_path, python, monkeypatch):
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(ROOT / "project.yml", root)
    shutil.copytree(ROOT / "configs", root / "configs")
    shutil.copytree(ROOT / "components", root / "components", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("MASAKHANER_DIR", str(small_data_dir))
    for workflow in ("all", "baselines"):
        args = [python, "-m", "spacy", "project", "run", workflow, str(root)]
        args += [a for k, v in SMALL_VARS.items() for a in (f"--vars.{k}", str(v))]
        proc = subprocess.run(args, capture_output=True, text=True, cwd=root)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # the default annotator: the SIMULATED GPT-4-Turbo (gold labels with its measured errors, priced, cached)
    loop = srsly.read_json(root / "runs" / "tsn-sim-gpt-4-turbo-entropy-lp-disagree-both-gold3-seed0" / "loop.json")
    assert len(loop["rounds"]) == 2 and loop["rounds"][1]["annotation"]["usage"]["cost_usd"] > 0
    assert (root / "cache" / "llm.sqlite").exists()
    assert srsly.read_json(root / "baselines" / "tsn-full-seed0" / "metrics.json")["test"]["n_docs"] == 60
    assert srsly.read_json(root / "metrics" / "evaluate-tsn.json")["n_docs"] == 60
    report = (root / "reports" / "report.md").read_text()
    assert "## tsn" in report and "Full train data" in report and (root / "reports" / "learning_curve_tsn.png").exists()
    assert Path(root / "project.lock").exists()
    assert "| sim-gpt-4-turbo, disagree-both-gold3 labels | entropy | cnn | 1 |" in report and "SIMULATED" in report
    assert "Annotator audit of sim-gpt-4-turbo" in report  # the audit and what the policy taught, in the report
    assert "## Data leakage" in report and "## Cost" in report and (root / "reports" / "cost.png").exists()
    assert srsly.read_json(root / "metrics" / "leakage.json")["ok"]

    # choosing the annotator, on its defaults (the simulated GPT-4-Turbo), with a small sample
    args = [python, "-m", "spacy", "project", "run", "annotator-eval", str(root), "--vars.eval_n", "10",
            "--vars.eval_runs", "2"]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    chosen = srsly.read_json(root / "metrics" / "annotators.json")
    assert chosen["recommendation"]["overall"] == "sim-gpt-4-turbo" and (root / "reports" / "annotators.png").exists()

    # the LLM annotator through the project's vars, against the local SIMULATED LLM server
    from spacy_llm_loop.simulate.server import SimulatedLLM, SimulatedLLMServer, gold_from

    with SimulatedLLMServer(SimulatedLLM(gold_from(root / "corpus" / "tsn" / "train.spacy"))) as server:
        args = [python, "-m", "spacy", "project", "run", "loop", str(root), "--vars.annotator", "openai-compatible",
                "--vars.llm_endpoint", server.url, "--vars.budget_usd", "1.0", "--vars.llm_model", "gpt-4o-mini"]
        args += [a for k, v in SMALL_VARS.items() for a in (f"--vars.{k}", str(v))]
        proc = subprocess.run(args, capture_output=True, text=True, cwd=root)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    llm_run = srsly.read_json(root / "runs" / "tsn-openai-compatible-entropy-lp-disagree-both-gold3-seed0"
                              / "loop.json")
    annotation = llm_run["rounds"][1]["annotation"]
    assert annotation["n_received"] == 24 and annotation["usage"]["cost_usd"] > 0  # priced as gpt-4o-mini
