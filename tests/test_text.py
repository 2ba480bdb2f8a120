"""The caption tokenizer (vidgen_edu.text): round trip, padding as "no caption", bad captions."""

from __future__ import annotations

import pytest
import torch

from vidgen_edu.data import make_dataset
from vidgen_edu.text import CaptionTokenizer

CAPS = ["a red square moves left; a blue circle moves down", "a white cross moves up"]
TOK = CaptionTokenizer()


def test_caption_tokenizer_round_trip_and_padding():
    words = TOK.encode(CAPS)
    assert words.shape == (2, TOK.length) and words.dtype == torch.long
    assert TOK.decode(words) == CAPS
    assert (words[1, 5:] == 0).all() and (words[1, :5] > 0).all()  # one object: five words, then padding
    assert TOK.decode(TOK.encode("a  red square moves   left ;a blue circle moves down")) == [CAPS[0]]
    assert len(set(TOK.vocab)) == len(TOK) and TOK.vocab[0] == "<pad>"


def test_every_caption_of_the_data_set_round_trips():
    captions = list(make_dataset("shapes", "test", num_clips=50, T=2).info["captions"])
    assert TOK.decode(TOK.encode(captions)) == captions


def test_caption_tokenizer_rejects_unknown_words_and_long_captions():
    with pytest.raises(ValueError, match="unknown word 'purple'.*vocabulary is a, moves"):
        TOK.encode(["a purple square moves left"])
    with pytest.raises(ValueError, match="unknown word '<pad>'"):
        TOK.encode(["a <pad> square moves left"])
    with pytest.raises(ValueError, match="more than length"):
        TOK.encode(["; ".join(["a red square moves left"] * 3)])
    with pytest.raises(ValueError, match="str"):
        TOK.encode([3])
    with pytest.raises(ValueError, match="tokens must lie"):
        TOK.decode(torch.tensor([[len(TOK)]]))
    with pytest.raises(ValueError, match=r"\(B, L\)"):
        TOK.decode(torch.zeros(3, dtype=torch.long))
