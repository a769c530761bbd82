"""Tiny random language models of every supported family, and a tiny BPE tokenizer, built offline.

The tokenizer is a byte-level BPE trained in memory on a few sentences with a
small vocabulary, so some words are one token and others several (for
multi-token slot values); the networks are 2-block models with 4 heads of
width 8 and seeded random weights.
"""

from __future__ import annotations

from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

CORPUS = [
    "When Mary and John went to the store, John gave a drink to Mary",
    "When Alice and Bob went to the park, Alice gave a book to Bob",
    "The capital of France is Paris. The capital of Spain is Madrid.",
    "Mary John Alice Bob Mary John went to the store park",
] * 20
NAMES = ("Mary", "John", "Alice", "Bob", "Bartholomew", "Xi")
PLACES = ("store", "park", "grand old library")
TEXT = "When {a} and {b} went to the {place}, {s} gave it to"
FAMILIES = ("gpt2", "llama", "qwen2", "mistral", "gemma", "gpt_neox")


def tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE of about 300 tokens trained on :data:`CORPUS` (deterministic)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<pad>", "<eos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>")


def module(family: str, vocab: int = 300, seed: int = 0) -> torch.nn.Module:
    """A 2-block model of ``family`` with 4 heads (head_dim 8; Gemma 16) and seeded random weights."""
    import transformers as tf

    common: dict[str, Any] = {"vocab_size": vocab, "bos_token_id": 1, "eos_token_id": 1, "pad_token_id": 0,
                              "initializer_range": 0.2}  # large weights: patches have visible effects
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if family == "gpt2":
            m = tf.GPT2LMHeadModel(tf.GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=64, **common))
        elif family == "gpt_neox":
            m = tf.GPTNeoXForCausalLM(tf.GPTNeoXConfig(
                hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=64, **common))
        else:
            cls = {"llama": (tf.LlamaConfig, tf.LlamaForCausalLM), "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM),
                   "mistral": (tf.MistralConfig, tf.MistralForCausalLM),
                   "gemma": (tf.GemmaConfig, tf.GemmaForCausalLM)}[family]
            extra = {"head_dim": 16} if family == "gemma" else {}  # o_proj reads 4 x 16 = 64 units
            m = cls[1](cls[0](hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                              num_key_value_heads=2, max_position_embeddings=64, **extra, **common))
    return m.eval()


HYPOTHESIS = '''
import causalabs as ca


class TinyIOI(ca.Hypothesis):
    """io = b if s == 0 else a; out = io (names 0..3)."""

    a, b = ca.inputs("a b", domain=range(4))
    s = ca.input("s", domain=(0, 1))
    place = ca.input("place", domain=range(3))
    io = ca.var(b * (1 - s) + a * s)
    out = ca.output(io)
'''

NETWORK = '''
import sys

import numpy as np

sys.path.insert(0, {tests!r})
import _lm_tiny as tiny

from causalabs.network import Alignment
from causalabs.network.hf import answer_tokens, candidate_decoder, hf_network
from causalabs.network.site_names import parse_site

TOK = tiny.tokenizer()
NAMES = tiny.NAMES[:4]


def subject(batch):
    return np.where(np.asarray(batch["s"]) == 0, batch["a"], batch["b"])


def load():
    vocab = {{"a": NAMES, "b": NAMES, "s": NAMES, "place": tiny.PLACES}}
    return hf_network(tiny.module({family!r}), tiny.TEXT, candidate_decoder(answer_tokens(TOK, NAMES)),
                      tokenizer=TOK, vocab=vocab, index={{"s": subject}}, name="tiny_lm")


def alignment():
    return Alignment({{"io": parse_site("model.layers.1[pos last]")}})
'''


def write_files(folder: Any, family: str = "llama") -> tuple[str, str]:
    """A tiny IOI hypothesis file and a network file over a tiny random LM with a text template: their paths."""
    from pathlib import Path

    folder = Path(folder)
    (folder / "tiny_ioi.py").write_text(HYPOTHESIS)
    (folder / "tiny_lm.py").write_text(NETWORK.format(tests=str(Path(__file__).resolve().parent), family=family))
    return f"{folder / 'tiny_ioi.py'}:TinyIOI", str(folder / "tiny_lm.py")
