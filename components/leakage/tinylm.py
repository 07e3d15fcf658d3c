"""A tiny GPT-2-style byte-level language model built and trained locally, for planting memorisation.

Nothing is downloaded: the tokenizer is a Hugging Face fast tokenizer built here whose ids are the
UTF-8 bytes of the text (0-255, through GPT-2's byte-to-unicode alphabet, with no merges) plus one
special ``<|endoftext|>`` (256) used as BOS and EOS; the model is ``GPT2LMHeadModel`` from a
``GPT2Config``. Both are ordinary ``transformers`` objects, so :func:`.minkpp.hf_token_stats` scores
them exactly as it would a real checkpoint.
"""
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

import numpy as np

SPECIAL = "<|endoftext|>"


@dataclass(frozen=True)
class TinyLMSettings:
    """Model size and training schedule (defaults: ~0.44M parameters, ~10 s per thousand sentences on one thread).

    Small batches matter more than width or depth here: at a fixed number of sentences, more
    (noisier) updates memorise repeated sentences far better (batch 4 vs 8: AUROC 0.99 vs 0.70 at
    exposure 16 on tsn in our trials).
    """

    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 128
    n_positions: int = 256  # BOS + bytes + EOS; longer texts are cut
    learning_rate: float = 2e-3
    warmup_steps: int = 20
    batch_size: int = 4
    dropout: float = 0.0  # no regularisation: the point is to let the model memorise what it sees repeatedly

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        if min(self.n_layer, self.n_head, self.batch_size) < 1 or self.n_positions < 8:
            raise ValueError(f"invalid model settings {self}")


def byte_tokenizer() -> Any:
    """A ``PreTrainedTokenizerFast`` whose ids are UTF-8 bytes, plus ``<|endoftext|>`` = 256 as BOS/EOS."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    alphabet = bytes_to_unicode()  # byte -> printable character, as GPT-2's byte-level BPE
    vocab = {alphabet[b]: b for b in range(256)}
    vocab[SPECIAL] = 256
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=SPECIAL, eos_token=SPECIAL)


def tiny_gpt2(settings: TinyLMSettings = TinyLMSettings(), vocab_size: int = 257, seed: int = 0) -> Any:
    """A freshly initialised ``GPT2LMHeadModel`` of ``settings``' size (weights seeded by ``seed``)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=vocab_size, n_positions=settings.n_positions, n_embd=settings.n_embd,
                        n_layer=settings.n_layer, n_head=settings.n_head, resid_pdrop=settings.dropout,
                        embd_pdrop=settings.dropout, attn_pdrop=settings.dropout, bos_token_id=256,
                        eos_token_id=256)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    model.loss_type = "ForCausalLM"  # the class name maps to no loss; this is the one it falls back to, unwarned
    return model


def encode_for_training(tokenizer: Any, texts: Sequence[str], n_positions: int) -> List[List[int]]:
    """BOS + the text's ids + EOS for each text, cut to ``n_positions`` ids."""
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    return [([bos] + list(tokenizer(t, add_special_tokens=False)["input_ids"]) + [eos])[:n_positions] for t in texts]


def train_lm(model: Any, tokenizer: Any, texts: Sequence[str], settings: TinyLMSettings = TinyLMSettings(),
             seed: int = 0) -> Dict[str, float]:
    """One pass of next-token training over ``texts`` in a seeded random order; steps, seconds, last losses.

    A text repeated in ``texts`` is trained on as often as it occurs (that is how exposure is
    planted). AdamW at ``learning_rate`` after a linear warm-up; padding is masked out of the loss.
    """
    import torch

    sequences = encode_for_training(tokenizer, texts, settings.n_positions)
    order = np.random.default_rng(seed).permutation(len(sequences))
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    warmup = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: min(1.0, (step + 1) / settings.warmup_steps))
    model.train()
    start, losses = time.perf_counter(), []
    for first in range(0, len(order), settings.batch_size):
        ids, labels, mask = _pad([sequences[i] for i in order[first:first + settings.batch_size]])
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        warmup.step()
        losses.append(loss.item())
    model.eval()
    tail = losses[-20:] or [float("nan")]
    return {"steps": len(losses), "seconds": time.perf_counter() - start, "sequences": len(sequences),
            "final_loss": float(np.mean(tail))}


def _pad(batch: List[List[int]]) -> Any:
    import torch

    width = max(len(s) for s in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, seq in enumerate(batch):
        row = torch.tensor(seq, dtype=torch.long)
        ids[i, : len(seq)], labels[i, : len(seq)], mask[i, : len(seq)] = row, row, 1
    return ids, labels, mask
