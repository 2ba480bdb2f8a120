"""Tests of vidgen_edu.data: physics invariants, rendering, determinism, splits, captions, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from vidgen_edu.data import (
    COLORS,
    DIGIT_SPLITS,
    DIRECTIONS,
    SHAPES,
    SPLIT_SIZES,
    BouncingBalls,
    MovingDigits,
    MovingShapes,
    VideoDataset,
    caption,
    collide,
    digits_8x8,
    frames_dataset,
    make_dataset,
    make_source,
    render_balls,
    simulate_balls,
)

SOURCES = {
    "balls": lambda: BouncingBalls(),
    "digits": lambda: MovingDigits(),
    "shapes": lambda: MovingShapes(),
}


def _check_video(x: torch.Tensor, shape: tuple[int, ...]) -> None:
    assert tuple(x.shape) == shape
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()
    assert x.min() >= 0.0 and x.max() <= 1.0


# ------------------------------------------------------------------ collide


def test_collide_conserves_momentum_and_energy_and_keeps_tangential_velocity() -> None:
    rng = np.random.default_rng(0)
    n = 1000
    p1, p2 = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
    v1, v2 = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
    m1, m2 = rng.uniform(0.1, 5, n), rng.uniform(0.1, 5, n)
    w1, w2 = collide(p1, v1, p2, v2, m1, m2)
    momentum = lambda a, b: m1[:, None] * a + m2[:, None] * b  # noqa: E731
    energy = lambda a, b: 0.5 * (m1 * (a**2).sum(1) + m2 * (b**2).sum(1))  # noqa: E731
    np.testing.assert_allclose(momentum(w1, w2), momentum(v1, v2), atol=1e-10)
    np.testing.assert_allclose(energy(w1, w2), energy(v1, v2), rtol=1e-10)
    # only the components along the line of centres change
    d = p1 - p2
    t = np.stack([-d[:, 1], d[:, 0]], axis=1)
    np.testing.assert_allclose((w1 * t).sum(1), (v1 * t).sum(1), atol=1e-10)
    np.testing.assert_allclose((w2 * t).sum(1), (v2 * t).sum(1), atol=1e-10)
    # approaching pairs recede afterwards: <v1' - v2', d> = -<v1 - v2, d>
    np.testing.assert_allclose(((w1 - w2) * d).sum(1), -((v1 - v2) * d).sum(1), atol=1e-10)


def test_collide_known_cases_and_torch() -> None:
    # equal masses, head on: the velocities are exchanged
    w1, w2 = collide([0, 0], [1, 0], [2, 0], [-1, 0])
    np.testing.assert_allclose(w1, [-1, 0])
    np.testing.assert_allclose(w2, [1, 0])
    # 1-D textbook formula v1' = ((m1 - m2) v1 + 2 m2 v2) / (m1 + m2)
    w1, w2 = collide([0, 0], [1, 0], [2, 0], [-1, 0], 1.0, 3.0)
    np.testing.assert_allclose(w1, [(-2 * 1 + 2 * 3 * -1) / 4, 0])
    np.testing.assert_allclose(w2, [((3 - 1) * -1 + 2 * 1 * 1) / 4, 0])
    # torch tensors give torch tensors, equal to the NumPy result
    rng = np.random.default_rng(1)
    args = [rng.normal(size=(5, 2)) for _ in range(4)]
    expected = collide(*args, 2.0, 0.5)
    got = collide(*[torch.from_numpy(a) for a in args], 2.0, 0.5)
    assert isinstance(got[0], torch.Tensor)
    np.testing.assert_allclose(got[0].numpy(), expected[0])
    np.testing.assert_allclose(got[1].numpy(), expected[1])
    # coincident centres have no line of centres: nothing changes (and no NaN)
    w1, w2 = collide([1, 1], [1, 0], [1, 1], [0, 1])
    np.testing.assert_allclose(w1, [1, 0])
    np.testing.assert_allclose(w2, [0, 1])


# ------------------------------------------------------------------ bouncing balls


@pytest.fixture(scope="module")
def ball_runs() -> list[tuple[BouncingBalls, torch.Tensor]]:
    """States (n, T, N, 4) of a few configurations: default, unequal radii/masses, crowded."""
    configs = [
        BouncingBalls(),
        BouncingBalls(num_balls=4, radius=[2.0, 3.0, 4.0, 2.5], speed=(0.5, 2.0), mass="area", substeps=10),
        BouncingBalls(num_balls=6, size=24, radius=2.5, speed=1.0, mass="equal"),
    ]
    runs = []
    for src in configs:
        p0, v0 = src.initial_conditions(64, seed=3)
        runs.append((src, src.simulate(p0, v0, 40).double()))
    return runs


def test_kinetic_energy_constant_over_whole_trajectory(ball_runs) -> None:
    for src, states in ball_runs:
        ke = src.kinetic_energy(states)  # (n, T)
        assert (ke > 0).all()
        rel = (ke - ke[:, :1]).abs() / ke[:, :1]
        assert rel.max() < 1e-5, f"{src}: kinetic energy drifts by {rel.max():.2e}"


@pytest.mark.parametrize("radius", [4.0, [3.0, 4.0, 5.0, 3.5, 4.5] * 2])
def test_momentum_conserved_when_walls_are_out_of_reach(radius) -> None:
    # A crowd of 10 balls starts in a 60x60 patch at the centre of a 600x600 frame: they collide
    # with each other many times, but cannot travel the 260 px to a wall within T = 40 frames.
    crowd = BouncingBalls(num_balls=10, size=60, radius=radius, speed=1.0)
    src = BouncingBalls(num_balls=10, size=600, radius=radius, speed=1.0, substeps=12)
    p0, v0 = crowd.initial_conditions(16, seed=0)
    states = src.simulate(p0 + 270.0, v0, 40).double()  # (n, T, N, 4)
    m = torch.as_tensor(src.masses)
    v_bound = torch.sqrt(2 * src.kinetic_energy(states[:, 0])[:, None] / m).max()
    assert v_bound * 40 < 260, "the walls must be out of reach for this test to mean anything"
    P = src.momentum(states)  # (n, T, 2)
    torch.testing.assert_close(P, P[:, :1].expand_as(P), atol=1e-4, rtol=0)
    ke = src.kinetic_energy(states)  # (n, T)
    torch.testing.assert_close(ke, ke[:, :1].expand_as(ke), atol=0, rtol=1e-5)
    # ... and there were collisions: velocities changed in most clips
    changed = (states[:, -1, :, 2:] - states[:, 0, :, 2:]).norm(dim=-1).amax(-1) > 0.1  # (n,)
    assert changed.sum() >= 12


def test_momentum_of_isolated_collision() -> None:
    # two balls of different mass meeting obliquely in the middle of a big frame, far from walls
    src = BouncingBalls(num_balls=2, size=100, radius=[3.0, 5.0], speed=2.0)
    p0 = torch.tensor([[40.0, 50.0], [60.0, 52.0]], dtype=torch.float64)
    v0 = torch.tensor([[2.0, 0.0], [-1.5, -0.3]], dtype=torch.float64)
    states = src.simulate(p0, v0, 12).double()  # (T, N, 4)
    direct = simulate_balls(p0, v0, 12, size=100, radii=[3.0, 5.0], masses=[9.0, 25.0], substeps=8)
    assert torch.equal(direct.double(), states), "mass='area' means m = r^2"
    P = src.momentum(states)
    assert not torch.allclose(states[-1, :, 2:], v0.float().double()), "the balls should have collided"
    torch.testing.assert_close(P, P[:1].expand_as(P), atol=1e-5, rtol=0)
    ke = src.kinetic_energy(states)
    torch.testing.assert_close(ke, ke[:1].expand_as(ke), atol=1e-5, rtol=1e-6)


def test_balls_stay_inside_and_do_not_overlap(ball_runs) -> None:
    for src, states in ball_runs:
        r = torch.as_tensor(src.radii)
        pos = states[..., :2]  # (n, T, N, 2)
        assert (pos >= r[:, None] - 1e-4).all() and (pos <= src.size - r[:, None] + 1e-4).all()
        dist = (pos[..., :, None, :] - pos[..., None, :, :]).norm(dim=-1)  # (n, T, N, N)
        r_sum = r[:, None] + r[None, :]
        off_diag = ~torch.eye(src.num_balls, dtype=torch.bool)
        overlap = (r_sum - dist)[..., off_diag]
        # initial positions never overlap; later, at most a fraction of a sub-step's motion
        assert overlap[:, 0].max() <= 1e-6
        v_max = states[..., 2:].norm(dim=-1).max()
        assert overlap.max() <= 2 * v_max / src.substeps, f"{src}: overlap {overlap.max():.3f} px"


def test_balls_sample_is_simulate_then_render_and_deterministic() -> None:
    src = BouncingBalls()
    clip, states = src.sample(T=12, seed=5, return_states=True)
    _check_video(clip, (12, 1, 32, 32))
    assert states.shape == (12, 3, 4)
    p0, v0 = src.initial_conditions(1, seed=5)
    again = src.simulate(p0, v0, 12)[0]
    torch.testing.assert_close(again, states, atol=0, rtol=0)
    torch.testing.assert_close(src.render(states), clip, atol=0, rtol=0)
    # sample == sample_batch[0]; clip i does not depend on how many clips are drawn
    batch, batch_states = src.sample_batch(300, T=12, seed=5, return_states=True)
    assert torch.equal(batch[0], clip) and torch.equal(batch_states[0], states)
    assert torch.equal(src.sample_batch(3, T=12, seed=5), batch[:3])
    assert torch.equal(src.sample_batch(300, T=12, seed=5), batch)
    assert not torch.equal(src.sample(T=12, seed=6), clip)
    # a torch.Generator works as a seed, reproducibly
    a = src.sample(4, seed=torch.Generator().manual_seed(1))
    b = src.sample(4, seed=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_render_balls_soft_disc_and_max() -> None:
    pos = torch.tensor([[10.3, 12.6], [20.0, 8.5]])
    radii = [4.0, 3.0]
    frame = render_balls(pos, size=32, radii=radii, edge=1.0)  # (1, 32, 32)
    assert frame.shape == (1, 32, 32)
    ys, xs = torch.meshgrid(torch.arange(32) + 0.5, torch.arange(32) + 0.5, indexing="ij")
    single = []
    for (x, y), r in zip(pos.tolist(), radii):
        d = ((xs - x) ** 2 + (ys - y) ** 2).sqrt()
        single.append((r - d + 0.5).clamp(0, 1))
    torch.testing.assert_close(frame[0], torch.maximum(*single))
    # each ball alone renders as its own disc; together they combine by max
    alone = [render_balls(pos[i : i + 1], size=32, radii=radii[i : i + 1]) for i in range(2)]
    torch.testing.assert_close(frame, torch.maximum(*alone))
    # the rim is anti-aliased: some pixels strictly between 0 and 1; the area is about pi r^2
    assert ((frame > 0.05) & (frame < 0.95)).any()
    assert abs(alone[0].sum().item() - math.pi * 16) < 1.0
    hard = render_balls(pos, size=32, radii=radii, edge=0)
    assert set(hard.unique().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_balls": 0}, "num_balls"),
        ({"size": 0}, "size"),
        ({"radius": 0.0}, "radius"),
        ({"radius": -2.0}, "radius"),
        ({"radius": 16.0}, "does not fit"),
        ({"radius": [2.0, 3.0]}, "one radius per ball"),
        ({"num_balls": 40, "radius": 4.0}, "could not place"),
        ({"speed": -1.0}, "speed"),
        ({"speed": 30.0, "substeps": 2}, "substeps"),
        ({"substeps": 0}, "substeps"),
        ({"mass": "heavy"}, "mass"),
        ({"mass": [1.0, -1.0, 1.0]}, "mass"),
    ],
)
def test_balls_bad_parameters(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        BouncingBalls(**kwargs)


def test_bad_sampling_arguments() -> None:
    src = BouncingBalls()
    with pytest.raises(ValueError, match="T must be"):
        src.sample(T=0)
    with pytest.raises(ValueError, match="n must be"):
        src.sample_batch(0)
    with pytest.raises(ValueError, match="seed"):
        src.sample(seed=-1)
    with pytest.raises(ValueError, match="seed"):
        src.sample(seed=1.5)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        src.simulate(torch.zeros(3), torch.zeros(3), 5)
    with pytest.raises(ValueError, match="inside the frame"):
        src.simulate(torch.zeros(3, 2), torch.zeros(3, 2), 5)
    with pytest.raises(ValueError, match="dtype"):
        src.generate(2, 3, dtype=torch.int32)


# ------------------------------------------------------------------ determinism, all sources


@pytest.mark.parametrize("name", list(SOURCES))
def test_sources_deterministic_and_in_range(name) -> None:
    src = SOURCES[name]()
    a = src.sample_batch(6, T=8, seed=11)
    b = src.sample_batch(6, T=8, seed=11)
    c = src.sample_batch(6, T=8, seed=12)
    _check_video(a, (6, 8, src.channels, 32, 32))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.equal(src.sample(T=8, seed=11), a[0])
    # clips are not blank and move
    assert (a.amax(dim=(1, 2, 3, 4)) > 0.5).all()
    assert ((a[:, 1:] - a[:, :-1]).abs().amax(dim=(1, 2, 3, 4)) > 0.1).all()
    # T = 1 is allowed
    _check_video(src.sample(T=1, seed=0), (1, src.channels, 32, 32))


# ------------------------------------------------------------------ moving digits


def test_digits_8x8_and_disjoint_image_splits() -> None:
    images, labels = digits_8x8()
    assert images.shape == (1797, 8, 8) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() == 1.0
    assert labels.dtype == torch.int64 and set(labels.tolist()) == set(range(10))
    parts = [range(*DIGIT_SPLITS[s]) for s in ("train", "val", "test")]
    assert sum(len(p) for p in parts) == 1797
    assert len(set(parts[0]) | set(parts[1]) | set(parts[2])) == 1797
    for s in ("train", "val", "test"):
        img_s, lab_s = digits_8x8(s)
        start, stop = DIGIT_SPLITS[s]
        assert torch.equal(img_s, images[start:stop]) and torch.equal(lab_s, labels[start:stop])
        assert set(lab_s.tolist()) == set(range(10)), "every class in every split"
    with pytest.raises(ValueError, match="split"):
        digits_8x8("everything")


def test_digits_8x8_equals_sklearn_load_digits() -> None:
    from sklearn.datasets import load_digits

    data = load_digits()
    images, labels = digits_8x8()
    torch.testing.assert_close(images, torch.from_numpy(data.images).float() / 16, atol=0, rtol=0)
    assert torch.equal(labels, torch.from_numpy(data.target).long())


def test_moving_digits_max_combination_labels_and_motion() -> None:
    src = MovingDigits(num_digits=3, speed=(1.0, 2.5))
    video, info = src.generate(8, T=15, seed=2)
    _check_video(video, (8, 15, 1, 32, 32))
    _, labels = digits_8x8()
    assert torch.equal(info["labels"], labels[info["image_index"]])
    start, stop = DIGIT_SPLITS["train"]
    assert ((info["image_index"] >= start) & (info["image_index"] < stop)).all()
    pos = info["positions"]  # (n, T, K, 2)
    assert pos.shape == (8, 15, 3, 2)
    assert pos.min() >= 0 and pos.max() <= 32 - 16
    # the clip is the pixelwise max of the digits drawn one at a time
    alone = [src.render(pos[:, :, k : k + 1], info["image_index"][:, k : k + 1]) for k in range(3)]
    torch.testing.assert_close(video, torch.maximum(torch.maximum(alone[0], alone[1]), alone[2]), atol=0, rtol=0)
    # ... and strictly less than their sum where digits overlap
    assert (sum(alone) > video + 1e-3).any()
    # sub-pixel drawing keeps each digit's total brightness while it moves
    mass = alone[0].sum(dim=(2, 3, 4))  # (n, T)
    torch.testing.assert_close(mass, mass[:, :1].expand_as(mass), rtol=1e-4, atol=1e-4)
    # constant speed between bounces: per-frame displacement never exceeds the speed
    step = (pos[:, 1:] - pos[:, :-1]).norm(dim=-1)
    assert step.max() <= 2.5 + 1e-4
    # sample(..., return_labels=True) is clip 0 and its labels
    clip, lab = src.sample(T=15, seed=2, return_labels=True)
    assert torch.equal(clip, video[0]) and torch.equal(lab, info["labels"][0])


def test_moving_digits_split_and_bad_input() -> None:
    test_src = MovingDigits().for_split("test")
    _, info = test_src.generate(50, T=2, seed=0)
    start, stop = DIGIT_SPLITS["test"]
    assert ((info["image_index"] >= start) & (info["image_index"] < stop)).all()
    with pytest.raises(ValueError, match="digit_size"):
        MovingDigits(digit_size=40)
    with pytest.raises(ValueError, match="split"):
        MovingDigits(split="holdout")
    with pytest.raises(ValueError, match="num_digits"):
        MovingDigits(num_digits=0)
    with pytest.raises(ValueError, match=r"\(n, T, K, 2\)"):
        MovingDigits().render(torch.zeros(2, 3, 2), torch.zeros(2, 1))


# ------------------------------------------------------------------ moving shapes


def _centroid(img: torch.Tensor) -> torch.Tensor:
    """Intensity centroid (x, y) of frames (..., H, W) -> (..., 2), in pixel-centre coordinates."""
    H, W = img.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(H) + 0.5, torch.arange(W) + 0.5, indexing="ij")
    mass = img.sum(dim=(-1, -2))
    return torch.stack([(img * xs).sum(dim=(-1, -2)) / mass, (img * ys).sum(dim=(-1, -2)) / mass], -1)


def _parse(cap: str) -> list[tuple[str, str, str]]:
    out = []
    for part in cap.split("; "):
        a, color, shape, moves, direction = part.split(" ")
        assert (a, moves) == ("a", "moves")
        out.append((color, shape, direction))
    return out


def test_single_shape_caption_matches_pixel_motion() -> None:
    src = MovingShapes(num_shapes=1, colors=tuple(COLORS), directions=tuple(DIRECTIONS), speed=(0.6, 1.2))
    video, info = src.generate(48, T=10, seed=4)
    _check_video(video, (48, 10, 3, 32, 32))
    for i, cap in enumerate(info["captions"]):
        ((color, shape, direction),) = _parse(cap)
        assert shape in SHAPES
        # only the caption's colour is present
        rgb = torch.tensor(COLORS[color])
        assert (video[i][:, rgb == 0] == 0).all()
        c = _centroid(video[i][:, rgb > 0].mean(1))  # (T, 2)
        step = c[1:] - c[:-1]  # (T-1, 2) per-frame motion of the red (or ...) pixels
        u = torch.tensor(DIRECTIONS[direction], dtype=torch.float32)
        speed = step.norm(dim=-1)
        assert (speed > 0.5).all() and (speed < 1.3).all(), f"clip {i}: {cap!r}"
        # every frame moves the way the caption says (up to the rasterisation of the rim)
        assert ((step @ u) / speed > 0.99).all(), f"clip {i}: {cap!r} but centroid moved by {step.tolist()}"
        total = c[-1] - c[0]
        assert total @ u > 0.999 * total.norm(), f"clip {i}: {cap!r} but centroid moved by {total.tolist()}"


def test_two_shape_captions_match_pixel_motion() -> None:
    src = MovingShapes(num_shapes=2, colors=("red", "blue"), speed=1.0, shape_size=8)
    video, info = src.generate(64, T=8, seed=7)
    pos = info["positions"]  # (n, T, K, 2) centres
    # clips whose two shapes never touch, so each colour shows one whole shape
    apart = ((pos[:, :, 0] - pos[:, :, 1]).abs().amax(-1) > 8 + 1).all(1)
    assert apart.sum() >= 10
    channel = {"red": 0, "blue": 2}
    for i in apart.nonzero()[:, 0].tolist():
        for k, (color, _, direction) in enumerate(_parse(info["captions"][i])):
            c = _centroid(video[i, :, channel[color]])  # (T, 2)
            total = c[-1] - c[0]
            u = torch.tensor(DIRECTIONS[direction], dtype=torch.float32)
            assert total @ u > 0.95 * total.norm() and total.norm() > 0.9 * 7, info["captions"][i]
            # the stated motion is also the ground-truth motion
            torch.testing.assert_close(pos[i, -1, k] - pos[i, 0, k], 7.0 * u, atol=1e-4, rtol=0)


def test_shapes_stay_inside_long_clips() -> None:
    src = MovingShapes(num_shapes=2, speed=3.0, directions=tuple(DIRECTIONS))
    video, info = src.generate(20, T=30, seed=1)
    h = src.shape_size / 2
    pos = info["positions"]
    assert pos.min() >= h - 1e-4 and pos.max() <= 32 - h + 1e-4
    # every square keeps its area (10 x 10, up to the rasterised rim) in every frame: it never
    # leaves the frame, where one pixel out would cost 10
    src1 = MovingShapes(num_shapes=1, shapes=("square",), speed=3.0, directions=tuple(DIRECTIONS))
    v1 = src1.sample_batch(10, T=30, seed=2)
    area = v1.amax(2).sum(dim=(-1, -2))  # (n, T)
    torch.testing.assert_close(area, torch.full_like(area, 100.0), atol=1.5, rtol=0)


def test_shape_areas_match_geometry() -> None:
    # one static frame per shape, centred: the anti-aliased area is close to the true area
    src = MovingShapes(shape_size=12)
    size = 12.0
    expected = {
        "square": size**2,
        "circle": math.pi * (size / 2) ** 2,
        "triangle": size * size / 2,
        "cross": 2 * size * (size / 3) - (size / 3) ** 2,
    }
    pos = torch.full((len(SHAPES), 1, 1, 2), 16.3)
    codes = torch.arange(len(SHAPES))[:, None]
    red = torch.zeros_like(codes)
    frames = src.render(pos, codes, red)  # (4, 1, 3, H, W)
    assert (frames[:, :, 1:] == 0).all(), "red shapes have no green or blue"
    for k, name in enumerate(SHAPES):
        area = frames[k, 0, 0].sum().item()
        assert abs(area - expected[name]) < 0.03 * expected[name], f"{name}: area {area:.1f} != {expected[name]:.1f}"
    with pytest.raises(ValueError, match="SHAPES"):
        src.render(pos[:1], torch.tensor([[len(SHAPES)]]), red[:1])


def test_shapes_captions_api_and_bad_names() -> None:
    assert caption(["square", "circle"], ["red", "blue"], ["left", "down"]) == (
        "a red square moves left; a blue circle moves down"
    )
    src = MovingShapes()
    clip, cap = src.sample(T=5, seed=0, return_caption=True)
    batch, caps = src.sample_batch(3, T=5, seed=0, return_captions=True)
    assert torch.equal(clip, batch[0]) and cap == caps[0] and len(caps) == 3
    for kwargs, match in [
        ({"shapes": ("square", "hexagon")}, "hexagon"),
        ({"colors": ("red", "octarine")}, "octarine"),
        ({"directions": ("left", "sideways")}, "sideways"),
        ({"colors": ("red",), "num_shapes": 2}, "colours"),
        ({"shape_size": 32}, "shape_size"),
        ({"shapes": ()}, "at least one"),
        ({"speed": 0.0}, "speed"),
    ]:
        with pytest.raises(ValueError, match=match):
            MovingShapes(**kwargs)


# ------------------------------------------------------------------ datasets


@pytest.mark.parametrize("name", ["balls", "digits", "shapes"])
def test_video_dataset_shapes_and_info(name) -> None:
    ds = make_dataset(name, "val", num_clips=12, T=6, seed=1)
    assert len(ds) == 12
    C = 3 if name == "shapes" else 1
    _check_video(ds[3], (6, C, 32, 32))
    _check_video(ds.clips(slice(0, 4)), (4, 6, C, 32, 32))
    assert ds.data.dtype == torch.uint8
    attr = {"balls": "states", "digits": "labels", "shapes": "captions"}[name]
    assert len(getattr(ds, attr)) == 12
    batch = next(iter(DataLoader(ds, batch_size=5)))
    _check_video(batch, (5, 6, C, 32, 32))
    # uint8 storage is round(255 x) of the exact float clips
    exact = VideoDataset(ds.source, "val", num_clips=12, T=6, seed=1, dtype=torch.float32)
    assert exact.data.dtype == torch.float32
    assert (ds.clips() - exact.clips()).abs().max() <= 0.5 / 255 + 1e-6


def test_splits_are_disjoint_prefix_stable_and_seeded() -> None:
    assert SPLIT_SIZES == {"train": 8000, "val": 1000, "test": 1000}
    src = BouncingBalls()
    sets = {s: VideoDataset(src, s, num_clips=40, T=4, seed=0) for s in ("train", "val", "test")}
    keys = {s: {bytes(x.numpy()) for x in ds.data} for s, ds in sets.items()}
    assert all(len(k) == 40 for k in keys.values())
    assert not keys["train"] & keys["val"] and not keys["train"] & keys["test"] and not keys["val"] & keys["test"]
    # a smaller data set is a prefix of the larger one; the same seed gives the same tensors
    small = VideoDataset(src, "train", num_clips=7, T=4, seed=0)
    assert torch.equal(small.data, sets["train"].data[:7]) and torch.equal(small.states, sets["train"].states[:7])
    other = VideoDataset(src, "train", num_clips=7, T=4, seed=1)
    assert not torch.equal(other.data, small.data)
    # digits: each split draws from its own digit writings
    for s in ("train", "val", "test"):
        ds = make_dataset("digits", s, num_clips=60, T=2)
        start, stop = DIGIT_SPLITS[s]
        assert ((ds.image_index >= start) & (ds.image_index < stop)).all()


def test_frames_dataset() -> None:
    fr = frames_dataset("shapes", "train", num_clips=5, T=3, seed=2)
    assert len(fr) == 15
    _check_video(fr[4], (3, 32, 32))
    assert torch.equal(fr[4], fr.videos[1][1]) and torch.equal(fr[-1], fr.videos[4][2])
    with pytest.raises(IndexError):
        fr[15]


def test_dataset_bad_input() -> None:
    with pytest.raises(ValueError, match="'balls', 'digits', 'shapes'"):
        make_dataset("pendulum")
    with pytest.raises(ValueError, match="'balls', 'digits', 'shapes'"):
        make_source("pendulum")
    with pytest.raises(ValueError, match="split"):
        VideoDataset("balls", split="validation", num_clips=2)
    with pytest.raises(ValueError, match="num_clips"):
        VideoDataset("balls", num_clips=0)
    with pytest.raises(ValueError, match="T must be"):
        VideoDataset("balls", num_clips=2, T=0)
    with pytest.raises(ValueError, match="seed"):
        VideoDataset("balls", num_clips=2, seed=-3)
    with pytest.raises(ValueError, match="source"):
        VideoDataset(42, num_clips=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="radius"):
        make_dataset("balls", num_clips=2, radius=-1.0)
