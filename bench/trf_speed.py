"""Transformer learner speed: training and inference words per second, and GPU memory, on the named device.

Builds configs/learner-trf.cfg around an XLM-R model. By default that is the architecture of
Davlan/afro-xlmr-mini (12 layers, 384 wide, 250,002-entry vocabulary), randomly initialised,
with a tokenizer trained on the corpus: the speed is the architecture's, the weights are
irrelevant, and nothing is downloaded. ``--model NAME_OR_PATH`` measures a real checkpoint instead.
Trains ``--steps`` updates on the language's train split (batches of about ``--batch-words``
words) and runs the trained pipeline over the dev split with and without the uncertainty
component. Prints a Markdown table.

    python bench/trf_speed.py --lang zul --gpu-id 0            # on a GPU machine
    python bench/trf_speed.py --lang zul --gpu-id -1 --steps 5 --shape tiny   # a CPU smoke run
"""
import argparse
import platform
import tempfile
import time
from pathlib import Path
from typing import List

import spacy
from spacy.training import Example
from spacy.training.initialize import init_nlp
from spacy.util import load_config

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import make_doc
from spacy_llm_loop.learner.hf_local import AFRO_XLMR_MINI, TINY, build_local_xlmr
from spacy_llm_loop.learner.train import full_precision_on_cpu, use_device

ROOT = Path(__file__).resolve().parent.parent


def batches(examples: List[Example], words: int) -> List[List[Example]]:
    """Consecutive batches of about ``words`` words."""
    out, batch, size = [], [], 0
    for eg in examples:
        batch.append(eg)
        size += len(eg.reference)
        if size >= words:
            out.append(batch)
            batch, size = [], 0
    return out + ([batch] if batch else [])


def sync(gpu_id: int) -> None:
    """Wait for the GPU to finish (timings)."""
    if gpu_id >= 0:
        import torch

        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", default="zul")
    parser.add_argument("--gpu-id", type=int, default=0)
    parser.add_argument("--model", default=None, help="A Hugging Face name or folder (default: random afro-xlmr-mini)")
    parser.add_argument("--shape", choices=["afro-xlmr-mini", "tiny"], default="afro-xlmr-mini")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-words", type=int, default=1000)
    parser.add_argument("--no-mixed-precision", action="store_true")
    opts = parser.parse_args()
    import torch

    corpus = ROOT / "corpus" / opts.lang
    train, dev = load_docs(corpus / "train.spacy"), load_docs(corpus / "dev.spacy")
    tmp = Path(tempfile.mkdtemp(prefix="trf-speed-"))
    model = opts.model or str(build_local_xlmr(tmp / "xlmr", [d.text for d in train], tokenizer_vocab_size=8000,
                                               shape=AFRO_XLMR_MINI if opts.shape == "afro-xlmr-mini" else TINY))
    config = load_config(ROOT / "configs" / "learner-trf.cfg", interpolate=False, overrides={
        "components.transformer.model.name": model, "paths.train": str(corpus / "train.spacy"),
        "paths.dev": str(corpus / "dev.spacy")})
    if opts.gpu_id < 0:
        full_precision_on_cpu(config)
    elif opts.no_mixed_precision:
        config["components"]["transformer"]["model"]["mixed_precision"] = False
    use_device(opts.gpu_id)
    config = config.interpolate()
    nlp = init_nlp(config, use_gpu=opts.gpu_id)
    optimizer = nlp.create_optimizer()
    examples = [Example(make_doc(nlp.vocab, [t.text for t in d]), d) for d in train]
    todo = (batches(examples, opts.batch_words) * (opts.steps // max(len(examples) // 50, 1) + 2))[:opts.steps + 3]
    if opts.gpu_id >= 0:
        torch.cuda.reset_peak_memory_stats()
    for batch in todo[:3]:  # warm-up
        nlp.update(batch, sgd=optimizer, drop=0.1)
    sync(opts.gpu_id)
    start, words = time.perf_counter(), 0
    for batch in todo[3:]:
        nlp.update(batch, sgd=optimizer, drop=0.1)
        words += sum(len(eg.reference) for eg in batch)
    sync(opts.gpu_id)
    train_wps = words / (time.perf_counter() - start)
    train_mem = torch.cuda.max_memory_allocated() / 2**30 if opts.gpu_id >= 0 else None
    texts = [[t.text for t in d] for d in dev]
    dev_words = sum(len(w) for w in texts)
    rates = {}
    for name, disabled in (("ner", ["uncertainty"]), ("ner + uncertainty", [])):
        with nlp.select_pipes(disable=disabled):
            list(nlp.pipe([make_doc(nlp.vocab, w) for w in texts[:64]]))  # warm-up
            sync(opts.gpu_id)
            start = time.perf_counter()
            list(nlp.pipe([make_doc(nlp.vocab, w) for w in texts], batch_size=128))
            sync(opts.gpu_id)
            rates[name] = dev_words / (time.perf_counter() - start)
    device = torch.cuda.get_device_name(opts.gpu_id) if opts.gpu_id >= 0 else f"CPU ({platform.machine()})"
    precision = "mixed" if opts.gpu_id >= 0 and not opts.no_mixed_precision else "full"
    print(f"Transformer learner speed, {opts.lang}: {opts.model or 'random ' + opts.shape + ' architecture'}, "
          f"{device}, {precision} precision, spaCy {spacy.__version__}, torch {torch.__version__}\n")
    print("| measure | value |\n|---|---|")
    print(f"| training, words/s ({opts.steps} updates of ~{opts.batch_words} words) | {train_wps:,.0f} |")
    print(f"| inference (transformer + ner), words/s | {rates['ner']:,.0f} |")
    print(f"| inference with uncertainty (beam 16), words/s | {rates['ner + uncertainty']:,.0f} |")
    if train_mem is not None:
        print(f"| peak GPU memory in training, GiB | {train_mem:.2f} |")


if __name__ == "__main__":
    main()
