"""Captions read back from video (chapter 06): parse_caption, clips_for_captions, the attribute classifier, scores."""

from __future__ import annotations

import pytest
import torch

from vidgen_edu import attributes
from vidgen_edu.data import COLORS, DIRECTIONS, SHAPES, MovingShapes, caption, make_dataset, parse_caption

_COLORS, _SHAPES, _DIRECTIONS = list(COLORS), list(SHAPES), list(DIRECTIONS)


@pytest.fixture()
def quick(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("VIDGEN_QUICK", "1")
    monkeypatch.setenv("VIDGEN_CACHE", str(tmp_path))


def test_parse_caption_round_trip_and_errors() -> None:
    ds = make_dataset("shapes", "test", num_clips=20, T=4, seed=0, num_shapes=3, directions=_DIRECTIONS,
                      colors=_COLORS)
    for text in ds.captions:
        assert caption(*zip(*parse_caption(text))) == text
    assert parse_caption("a red square moves left;  a blue circle moves up-left ") == [
        ("square", "red", "left"), ("circle", "blue", "up-left")]
    for bad in ("", "a red square moves left;", "a purple square moves left", "a red blob moves left",
                "a red square moves sideways", "the red square moves left", "a red square goes left",
                "a red square moves", "red square moves left"):
        with pytest.raises(ValueError, match="caption"):
            parse_caption(bad)
    with pytest.raises(ValueError):
        parse_caption(None)  # type: ignore[arg-type]


def test_clips_for_captions() -> None:
    source = MovingShapes()
    captions = ["a red square moves left; a blue circle moves down", "a white cross moves up-right",
                "a green triangle moves right; a yellow square moves up; a cyan circle moves left"]
    state = torch.get_rng_state()
    clips = source.clips_for_captions(captions, T=10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is never used
    assert clips.shape == (3, 10, 3, 32, 32) and clips.dtype == torch.float32
    assert clips.min() >= 0 and clips.max() <= 1
    again = source.clips_for_captions(captions, T=10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(clips, again)
    assert torch.equal(source.clips_for_captions(captions[:1], 10), source.clips_for_captions(captions[:1], 10))
    # each caption's colours, and only those, are in its clip, moving the right way
    centres, mass = attributes.color_tracks(attributes.color_membership(clips))
    velocity = attributes.color_velocity(centres, mass)  # (3, 7, 2)
    for b, text in enumerate(captions):
        objects = parse_caption(text)
        visible = {_COLORS[c] for c in (mass[b].mean(0) > 10).nonzero()[:, 0].tolist()}
        assert visible == {color for _, color, _ in objects}
        for _, color, direction in objects:
            v = velocity[b, _COLORS.index(color)]
            assert torch.dot(v / v.norm(), torch.tensor(DIRECTIONS[direction])) > 0.9
    with pytest.raises(ValueError):
        source.clips_for_captions("a red square moves left", T=10)
    with pytest.raises(ValueError):
        source.clips_for_captions(["a red square moves nowhere"], T=10)


def test_color_membership_and_velocity() -> None:
    pure = torch.tensor(list(COLORS.values()))[None, :, :, None, None]  # (1, 7, 3, 1, 1): frame t has colour t
    m = attributes.color_membership(pure)  # (1, 7, 7, 1, 1)
    torch.testing.assert_close(m[0, :, :, 0, 0], torch.eye(7))
    ds = make_dataset("shapes", "test", num_clips=8, T=6, seed=0, num_shapes=1, dtype=torch.float32)
    centres, mass = attributes.color_tracks(attributes.color_membership(ds.clips()))
    v = attributes.color_velocity(centres, mass)[torch.arange(8), ds.colors[:, 0]]  # (8, 2)
    true = ds.positions[:, 1, 0] - ds.positions[:, 0, 0]  # constant velocity of the one shape
    torch.testing.assert_close(v, true, atol=0.05, rtol=0)


def test_attribute_net_shapes_and_bad_input() -> None:
    net = attributes.AttributeNet()
    for T in (2, 10, 17):
        p, s, d = net(torch.rand(3, T, 3, 32, 32))
        assert p.shape == (3, 7) and s.shape == (3, 7, 4) and d.shape == (3, 7, 8)
    for bad in (torch.rand(3, 10, 1, 32, 32), torch.rand(3, 1, 3, 32, 32), torch.rand(10, 3, 32, 32)):
        with pytest.raises(ValueError, match="B, T"):
            net(bad)


class StubNet:
    """Hand-made logits: the colours, shapes and directions it 'sees' in every clip."""

    def __init__(self, seen: list[list[tuple[str, str, str]]]) -> None:
        self.seen = seen

    def __call__(self, clips: torch.Tensor) -> attributes.Logits:
        B = len(clips)
        p, s, d = -torch.ones(B, 7), torch.zeros(B, 7, 4), torch.zeros(B, 7, 8)
        for b, objects in enumerate(self.seen[:B]):
            for shape, color, direction in objects:
                c = _COLORS.index(color)
                p[b, c] = 1.0
                s[b, c, _SHAPES.index(shape)] = 5.0
                d[b, c, _DIRECTIONS.index(direction)] = 5.0
        return p, s, d


def test_caption_scores_logic_with_a_stub() -> None:
    captions = ["a red square moves left; a blue circle moves down",
                "a green cross moves up",
                "a yellow triangle moves right; a red circle moves left"]
    seen = [
        [("square", "red", "left"), ("circle", "blue", "down")],  # all right
        [("cross", "green", "up"), ("square", "white", "left")],  # right, but an extra colour
        [("circle", "yellow", "right"), ("circle", "red", "up")],  # yellow: wrong shape; red: wrong direction
    ]
    clips = torch.rand(3, 5, 3, 32, 32)
    scores = attributes.caption_scores(clips, captions, StubNet(seen))
    assert scores == pytest.approx({"caption_acc": 1 / 3, "color_acc": 1.0, "shape_acc": 4 / 5,
                                    "direction_acc": 4 / 5})
    seen[0] = [("square", "red", "left")]  # blue missed: its shape and direction slots still read "square", "left"
    scores = attributes.caption_scores(clips, captions, StubNet(seen))
    assert scores["color_acc"] == pytest.approx(4 / 5) and scores["caption_acc"] == 0.0
    assert attributes.predicted_captions(clips, StubNet(seen))[1] == "a green cross moves up; a white square moves left"


def test_caption_scores_bad_input() -> None:
    stub = StubNet([])
    clips = torch.rand(2, 5, 3, 32, 32)
    with pytest.raises(ValueError):
        attributes.caption_scores(clips, ["a red square moves left"], stub)  # one caption for two clips
    with pytest.raises(ValueError):
        attributes.caption_scores(clips, ["a red square moves left", "a red squares moves left"], stub)
    with pytest.raises(ValueError, match="own colour"):
        attributes.caption_scores(clips, ["a red square moves left"] * 1 + ["a red square moves left; "
                                                                            "a red circle moves up"], stub)
    with pytest.raises(ValueError, match="B, T"):
        attributes.caption_scores(clips[:, :, :1], ["a red square moves left"] * 2, stub)  # grey clips


def test_attribute_classifier_quick(quick, tmp_path, monkeypatch) -> None:
    torch.manual_seed(123)
    state = torch.get_rng_state()
    net = attributes.attribute_classifier("cpu")
    assert torch.equal(torch.get_rng_state(), state)  # training left the caller's RNG alone
    assert [p.name for p in tmp_path.glob("attribute_classifier-*-quick.pt")]
    monkeypatch.setenv("VIDGEN_CACHE", str(tmp_path / "other"))
    again = attributes.attribute_classifier("cpu")  # trained anew elsewhere: the same weights
    for a, b in zip(net.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    ds = make_dataset("shapes", "test", num_clips=6, T=10, seed=0)
    scores = attributes.caption_scores(ds.clips(), ds.captions, net)
    assert set(scores) == {"caption_acc", "color_acc", "shape_acc", "direction_acc"}
    assert all(0.0 <= v <= 1.0 for v in scores.values())


def test_trains_under_no_grad(quick) -> None:
    """The first caption_scores may train the classifier: that must work inside torch.no_grad()."""
    ds = make_dataset("shapes", "test", num_clips=4, T=6, seed=0)
    with torch.no_grad():
        scores = attributes.caption_scores(ds.clips(), ds.captions)
    assert 0.0 <= scores["caption_acc"] <= 1.0
