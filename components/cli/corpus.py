"""``convert`` (MasakhaNER's CoNLL splits) and ``prepare`` (your own texts): a corpus folder the loop reads.

:func:`prepare_pool` is shared with ``loop --pool``, which prepares the corpus before the loop starts.
"""
from pathlib import Path
from typing import Any, Dict, Optional

from wasabi import msg

from ._util import Arg, Opt, app, exits_on_error, file_or_none, setup


@app.command("convert")
def convert_cli(
    lang: str = Arg(..., help="MasakhaNER 2.0 language code, e.g. zul"),
    output: Optional[Path] = Opt(None, help="Output folder (default corpus/<lang>)"),
    assets_dir: Path = Opt(Path("assets/masakhaner2"), help="Downloaded data (ignored when MASAKHANER_DIR is set)"),
    policy: str = Opt("repair", help="Bad CoNLL lines: 'repair' (with warnings) or 'strict' (refuse)"),
) -> None:
    """Check and convert a language's CoNLL splits to DocBin and Prodigy JSONL."""
    from ..data.corpus import convert

    setup()
    with exits_on_error():
        summary = convert(lang, output or Path("corpus") / lang, assets_dir=assets_dir,
                          policy=policy)  # type: ignore[arg-type]  # convert() refuses other policies (ValueError)
    for split, counts in summary["splits"].items():
        msg.good(f"{lang} {split}: {counts['sentences']} sentences, {counts['entities']} entities")


@app.command("prepare")
def prepare_cli(
    pool: Path = Arg(..., help="Unlabelled texts: .txt (a sentence or paragraph per line), Prodigy input .jsonl "
                               "({\"text\": ...}, optional \"tokens\") or a .spacy DocBin"),
    lang: str = Opt(..., help="The language's code (ISO 639-1 or -3), e.g. af"),
    output: Optional[Path] = Opt(None, help="Corpus folder (default corpus/<lang>)"),
    language: str = Opt("", help="The language's name, for the annotator's prompt (needed for a code MasakhaNER "
                                 "does not have)"),
    labels: str = Opt("", help="JSON file: {label: definition} (default MasakhaNER's PER, ORG, LOC, DATE)"),
    seed_data: str = Opt("", help="Labelled seed: Prodigy .jsonl (prodigy db-out), CoNLL or .spacy; none: the "
                                  "annotator labels a seed drawn from the pool"),
    dev_data: str = Opt("", help="Labelled dev data (optional; same formats)"),
    test_data: str = Opt("", help="Labelled test data (optional; without it test figures are 'not available')"),
    spacy_lang: str = Opt("xx", help="spaCy language to tokenize and split sentences with (xx: the learner's own)"),
    split_sentences: bool = Opt(True, "--split-sentences/--no-split-sentences",
                                help="Split each line of text into sentences"),
    shard_size: int = Opt(0, help="Write the pool as train.shards/ in shards of this many sentences (e.g. 10240), "
                                  "which the loop reads a shard at a time: for a pool too large to hold (0: one "
                                  "train.spacy)"),
) -> None:
    """Your own data: check and convert a pool of texts (and any labelled seed, dev, test) into a corpus folder."""
    setup()
    with exits_on_error():
        prepare_pool(output or Path("corpus") / lang, lang=lang, pool=pool, labels=labels, language=language,
                     seed_data=seed_data, dev_data=dev_data, test_data=test_data, spacy_lang=spacy_lang,
                     split_sentences=split_sentences, shard_size=shard_size or None)


def prepare_pool(output: Path, *, lang: str, pool: Any, labels: str, language: str, seed_data: str, dev_data: str,
                 test_data: str, **options: Any) -> None:
    """:func:`..data.own.prepare_corpus` from the command-line options (an empty one: none), then what it made."""
    from ..data.own import prepare_corpus

    manifest = prepare_corpus(output, lang=lang, pool=pool, labels=file_or_none(labels), language=language or None,
                              seed=file_or_none(seed_data), dev=file_or_none(dev_data),
                              test=file_or_none(test_data), **options)
    report_prepared(output, manifest)


def report_prepared(output: Path, manifest: Dict[str, Any]) -> None:
    """The prepared corpus in a few lines: language, labels, and each split's size (or why it is missing)."""
    pool = manifest["pool"]
    state = "up to date" if manifest.get("reused") else "written"
    msg.good(f"{output} {state}: {manifest['language']} ({manifest['lang']}), labels "
             f"{', '.join(manifest['labels'])}; pool {pool['sentences']} sentences"
             f"{' (labelled)' if pool['labelled'] else ''}, {pool['duplicates_skipped']} duplicates skipped")
    for split in ("seed", "dev", "test"):
        part = manifest[split]
        msg.text(f"  {split}: " + (f"{part['sentences']} sentences, {part['entities']} entities" if part else
                                   "none" + (" (the annotator labels a seed drawn from the pool)"
                                             if split == "seed" and not pool["labelled"] else
                                             " (figures that need it: not available)" if split == "test" else "")))
