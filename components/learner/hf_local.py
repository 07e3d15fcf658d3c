"""Build an XLM-R-style Hugging Face model folder offline: random weights, a tokenizer trained on given text.

The transformer learner (``configs/learner-trf.cfg``) loads any Hugging Face name
or local folder. Tests, smoke runs and the speed benchmark need one without a
download: :func:`build_local_xlmr` trains a SentencePiece-style Unigram tokenizer
(``tokenizers``, metaspace pre-tokenisation, XLM-R's special tokens and ids) on
the texts it is given and writes it with a randomly initialised
``XLMRobertaModel`` of the requested shape. The tokenizer is saved as a fast
tokenizer only (``tokenizer.json``, class ``PreTrainedTokenizerFast``), so no
sentencepiece model file is needed. Weights are random: such a model is right for
plumbing and speed, never for accuracy.
"""
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Union

logger = logging.getLogger(__name__)
PathLike = Union[str, Path]
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>")  # ids 0-3, as in XLM-R
MASK_TOKEN = "<mask>"


@dataclass(frozen=True)
class XLMRShape:
    """The architecture hyper-parameters of an ``XLMRobertaModel``."""

    hidden_size: int = 32
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    intermediate_size: int = 64
    max_position_embeddings: int = 514
    vocab_size: int = 0  # 0: the tokenizer's size; larger pads the embedding table (e.g. 250002 for XLM-R)


# The architecture of Davlan/afro-xlmr-mini (MLM-adapted mMiniLMv2-L12-H384 distilled from XLM-R large).
AFRO_XLMR_MINI = XLMRShape(hidden_size=384, num_hidden_layers=12, num_attention_heads=12, intermediate_size=1536,
                           vocab_size=250002)
TINY = XLMRShape()


def train_unigram_tokenizer(texts: Iterable[str], vocab_size: int = 1000) -> Any:
    """A fast XLM-R-style tokenizer (``tokenizers.Tokenizer``) trained on ``texts``."""
    from tokenizers import Tokenizer, models, trainers

    tokenizer = xlmr_pipeline(Tokenizer(models.Unigram()))
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                      unk_token="<unk>", show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.add_special_tokens([MASK_TOKEN])
    return xlmr_pipeline(tokenizer)


def xlmr_pipeline(tokenizer: Any, bos: str = "<s>", eos: str = "</s>") -> Any:
    """Give a Unigram ``tokenizers.Tokenizer`` XLM-R's pipeline: NFKC, metaspace, ``<s> $A </s>`` (in place).

    The post-processor needs the ids of ``bos`` and ``eos``, so call it again after training.
    """
    from tokenizers import decoders, normalizers, pre_tokenizers, processors

    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    bos_id, eos_id = tokenizer.token_to_id(bos), tokenizer.token_to_id(eos)
    if bos_id is not None and eos_id is not None:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
            special_tokens=[(bos, bos_id), (eos, eos_id)])
    return tokenizer


def tokenizer_config(max_length: int = 512) -> Dict[str, Any]:
    """``tokenizer_config.json`` for a fast-only XLM-R-style tokenizer."""
    return {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_length,
            "bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>",
            "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": MASK_TOKEN}


def build_local_xlmr(output_dir: PathLike, texts: Iterable[str], *, shape: XLMRShape = TINY,
                     tokenizer_vocab_size: int = 1000, seed: int = 0) -> Path:
    """Write a randomly initialised XLM-R-style model and a tokenizer trained on ``texts`` to ``output_dir``."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = train_unigram_tokenizer(texts, tokenizer_vocab_size)
    tokenizer.save(str(output_dir / "tokenizer.json"))
    tok_config = tokenizer_config(shape.max_position_embeddings - 2)
    (output_dir / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2), encoding="utf-8")
    (output_dir / "special_tokens_map.json").write_text(
        json.dumps({k: v for k, v in tok_config.items() if k.endswith("_token")}, indent=2), encoding="utf-8")
    settings = asdict(shape)
    settings["vocab_size"] = max(shape.vocab_size, tokenizer.get_vocab_size())
    config = XLMRobertaConfig(**settings, pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1,
                              tokenizer_class="PreTrainedTokenizerFast")
    torch.manual_seed(seed)
    XLMRobertaModel(config).save_pretrained(str(output_dir))
    logger.info("wrote a random %d-layer, %d-wide XLM-R-style model (vocabulary %d) to %s",
                shape.num_hidden_layers, shape.hidden_size, settings["vocab_size"], output_dir)
    return output_dir
