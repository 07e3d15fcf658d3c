"""A finished run's results for use elsewhere: ``export`` (its labelled set, for Prodigy and ``spacy train``) and
``package`` (its best pipeline as an installable spaCy package)."""
from pathlib import Path
from typing import Optional

from wasabi import msg

from ._util import Arg, Opt, app, exits_on_error, setup

RUN_DIR_HELP = "A run folder (runs/<lang>-<annotator>-<strategy>-seed<k>)"


@app.command("export")
def export_cli(
    run_dir: Path = Arg(..., help=RUN_DIR_HELP),
    output: Optional[Path] = Opt(None, help="Where to write (default exports/<run folder name>)"),
    round_k: Optional[int] = Opt(None, "--round", help="Which round's labelled set (default the last)"),
) -> None:
    """A run's labelled set as Prodigy JSONL (with provenance) and DocBin train/dev files for `spacy train`."""
    from ..export import export_run

    setup()
    where = output or Path("exports") / run_dir.name
    with exits_on_error():
        manifest = export_run(run_dir, where, round_k)
    files = ", ".join(f"{name} ({n} sentences)" for name, n in manifest["files"].items())
    msg.good(f"{manifest['run']}, round {manifest['round']}: wrote {files} to {where}")
    msg.info(f"by source: {manifest['sentences_by_source']}; next: {manifest['train_command']}")


@app.command("package")
def package_cli(
    run_dir: Path = Arg(..., help=RUN_DIR_HELP),
    output: Path = Opt(Path("packages"), help="Where the package folder (with dist/) goes"),
    name: Optional[str] = Opt(None, help="Package name without the language prefix (default from the run)"),
    version: str = Opt("0.1.0", help="Package version"),
    round_k: Optional[int] = Opt(None, "--round", help="Which round's pipeline (default the last)"),
    wheel: bool = Opt(True, help="Build a wheel (needs the 'build' package) besides the sdist"),
) -> None:
    """An installable pipeline package from a run's best model (spacy package), its meta naming the run."""
    from ..packaging import package_run

    setup()
    with exits_on_error():
        built = package_run(run_dir, output, name, version, round_k, wheel)
    files = ", ".join(built["wheels"] + built["sdists"])
    msg.good(f"{built['package']} {built['version']} (round {built['round']}): {files}")
    msg.info(f"pip install {built['wheels'][0] if built['wheels'] else built['sdists'][0]}; then "
             f"{built['load']} (or exclude=[\"uncertainty\"] without the uncertainty estimates)")
