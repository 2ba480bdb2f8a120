"""Captions as word tokens: the smallest tokenizer that turns a shapes caption into integers (chapter 10).

A language model reads integers, not strings. Our captions come from a tiny grammar
(``"a red square moves left; a blue circle moves down"``, :func:`vidgen_edu.data.caption`),
so a word-level vocabulary is exact: every word of the grammar is one token, ``;`` is a
token of its own, and token 0 is padding, which also stands for *no caption* (the
unconditional model of classifier-free guidance). A word outside the vocabulary is an
error, never silently dropped: a model cannot follow a word it has no token for.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .data import COLORS, DIRECTIONS, SHAPES

PAD = "<pad>"


class CaptionTokenizer:
    """Word-level tokenizer of the moving-shapes captions; ``vocab[i]`` is the word of token ``i``.

    ``encode(captions)`` gives a (B, length) long tensor, padded with token 0 at the end;
    ``decode(tokens)`` gives the captions back (``decode(encode(c)) == c`` for captions of the
    grammar, spaces normalized).
    """

    def __init__(self, length: int = 11) -> None:
        self.vocab: list[str] = [PAD, "a", "moves", ";", *COLORS, *SHAPES, *DIRECTIONS]
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.length = length  # 11 tokens: two objects of five words and the ';' between them

    def __len__(self) -> int:
        return len(self.vocab)

    def words(self, caption: str) -> list[str]:
        """The words of a caption, ``;`` split off as a word of its own."""
        if not isinstance(caption, str):
            raise ValueError(f"a caption must be a str, got {type(caption).__name__}")
        return caption.replace(";", " ; ").split()

    def encode(self, captions: Sequence[str] | str) -> torch.Tensor:
        """Captions (B strings, or one) → tokens (B, length) long, padded with 0."""
        if isinstance(captions, str):
            captions = [captions]
        out = torch.zeros(len(captions), self.length, dtype=torch.long)
        for b, text in enumerate(captions):
            words = self.words(text)
            unknown = [w for w in words if w not in self.index or w == PAD]
            if unknown:
                raise ValueError(f"unknown word {unknown[0]!r} in caption {text!r}; the vocabulary is "
                                 f"{', '.join(self.vocab[1:])}")
            if len(words) > self.length:
                raise ValueError(f"caption {text!r} has {len(words)} tokens, more than length = {self.length}")
            out[b, :len(words)] = torch.tensor([self.index[w] for w in words], dtype=torch.long)
        return out

    def decode(self, tokens: torch.Tensor) -> list[str]:
        """Tokens (B, L) → B captions (padding dropped)."""
        if tokens.dim() != 2:
            raise ValueError(f"expected tokens (B, L), got {tuple(tokens.shape)}")
        if tokens.min() < 0 or tokens.max() >= len(self.vocab):
            raise ValueError(f"tokens must lie in [0, {len(self.vocab)}), got [{tokens.min()}, {tokens.max()}]")
        texts = []
        for row in tokens.tolist():
            text = " ".join(self.vocab[i] for i in row if i != 0)
            texts.append(text.replace(" ; ", "; "))
        return texts


__all__ = ["PAD", "CaptionTokenizer"]
