"""Tests of vidgen_edu.data.StochasticBalls: random walls, bounce tables, true futures, registration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vidgen_edu.data import BouncingBalls, StochasticBalls, make_dataset, make_source, simulate_balls

MAX_ANGLE = 75.0


@pytest.fixture(scope="module")
def one_ball() -> tuple[StochasticBalls, torch.Tensor, torch.Tensor]:
    """One ball (no ball-ball collisions: every velocity change is a wall hit), many hits."""
    src = StochasticBalls(num_balls=1)
    _, info = src.generate(300, T=50, seed=1, dtype=torch.float32)
    return src, info["states"].double(), info["wall_hits"]


def _single_wall_normal(src: StochasticBalls, pos: torch.Tensor, reach: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Inward normal (..., 2) of the only wall within ``reach`` px of ``pos (..., 2)``; where there is exactly one."""
    r = float(src.radii[0])
    near_lo = pos - r < reach  # (..., 2)
    near_hi = src.size - r - pos < reach
    normal = near_lo.double() - near_hi.double()
    exactly_one = (near_lo | near_hi).sum(-1) == 1
    return normal, exactly_one


# ------------------------------------------------------------------ seeding


def test_deterministic_prefix_and_seeds() -> None:
    src = StochasticBalls()
    video, info = src.generate(10, T=15, seed=3)
    assert video.shape == (10, 15, 1, 32, 32) and info["states"].shape == (10, 15, 2, 4)
    assert info["wall_hits"].shape == (10, 15, 2) and info["wall_hits"].dtype == torch.bool
    again, info2 = src.generate(10, T=15, seed=3)
    assert torch.equal(video, again) and torch.equal(info["states"], info2["states"])
    assert torch.equal(info["wall_hits"], info2["wall_hits"])
    # clip i does not depend on n, and a shorter clip is the start of a longer one
    few, info3 = src.generate(3, T=8, seed=3)
    assert torch.equal(few, video[:3, :8]) and torch.equal(info3["wall_hits"], info["wall_hits"][:3, :8])
    assert torch.equal(src.sample_batch(3, T=15, seed=3), video[:3])
    clip, states = src.sample(T=15, seed=3, return_states=True)
    assert torch.equal(clip, video[0]) and torch.equal(states, info["states"][0])
    assert not torch.equal(src.sample_batch(10, T=15, seed=4), video)
    assert not info["wall_hits"][:, 0].any(), "frame 0 has no previous frame to hit a wall after"
    assert info["wall_hits"].any(), "15 frames should see some wall hits"


def test_equals_bouncing_balls_until_the_first_wall_hit() -> None:
    stochastic = StochasticBalls()
    elastic = BouncingBalls(num_balls=2, speed=(1.0, 2.0))
    _, info = stochastic.generate(32, T=30, seed=5)
    _, ref = elastic.generate(32, T=30, seed=5)
    hit_any = info["wall_hits"].any(-1)  # (n, T)
    first = torch.where(hit_any.any(1), hit_any.float().argmax(1), torch.tensor(30))  # (n,) first hit frame
    assert (first < 30).sum() >= 28 and (first > 1).sum() >= 16
    for j in range(32):
        f = int(first[j])
        assert torch.equal(info["states"][j, :f], ref["states"][j, :f]), f"clip {j} before its first hit"
        if f < 30:
            assert not torch.equal(info["states"][j, f], ref["states"][j, f]), f"clip {j}: the wall hit was elastic"


# ------------------------------------------------------------------ the hook in simulate_balls


def test_simulate_balls_without_hook_unchanged_and_hook_sees_the_hits() -> None:
    src = BouncingBalls(num_balls=3)
    p0, v0 = src.initial_conditions(16, seed=2)
    kwargs = {"size": src.size, "radii": src.radii, "masses": src.masses, "substeps": src.substeps}
    default = simulate_balls(p0, v0, 25, **kwargs)
    assert torch.equal(simulate_balls(p0, v0, 25, wall=None, **kwargs), default)
    seen = []

    def watch(t: int, v: np.ndarray, normal: np.ndarray) -> None:
        # elastic reflection already done: on a hit axis the velocity points along the inward normal
        hit = normal != 0
        assert (np.sign(v[hit]) == normal[hit]).all()
        assert set(np.unique(normal).tolist()) <= {-1, 0, 1}
        seen.append((t, hit.any(-1).copy()))

    # a hook that changes nothing changes nothing, bit for bit
    assert torch.equal(simulate_balls(p0, v0, 25, wall=watch, **kwargs), default)
    assert len(seen) == 24 * src.substeps and [t for t, _ in seen[:: src.substeps]] == list(range(1, 25))
    assert sum(h.sum() for _, h in seen) > 10, "there should have been wall hits"
    # unbatched input: the hook sees a batch of one
    shapes = []
    simulate_balls(p0[0], v0[0], 3, wall=lambda t, v, normal: shapes.append(v.shape), **kwargs)
    assert shapes[0] == (1, 3, 2)


def test_table_entries_are_used_in_order_and_wrap_around() -> None:
    src = StochasticBalls(num_balls=1)
    p0 = torch.tensor([[[10.0, 16.0]]], dtype=torch.float64)
    v0 = torch.tensor([[[-2.0, 0.0]]], dtype=torch.float64)
    # angle 0: the ball leaves along the normal, so it goes back and forth along x, one hit at a time
    speeds = torch.tensor([[[1.1, 1.2, 1.3]]], dtype=torch.float64)
    states, hits = src.simulate_bounces(p0, v0, 120, torch.zeros_like(speeds), speeds)
    v = states[0, :, 0, 2:].double()  # (T, 2)
    at_hits = v[hits[0, :, 0]]  # (hits, 2) velocity just after each hit
    assert len(at_hits) >= 5
    expected = torch.tensor([1.1, 1.2, 1.3] * 3)[: len(at_hits)]
    torch.testing.assert_close(at_hits.norm(dim=-1), expected.double(), atol=1e-6, rtol=0)
    assert (at_hits[:, 1].abs() < 1e-6).all(), "angle 0: along the normal"
    assert (at_hits[::2, 0] > 0).all() and (at_hits[1::2, 0] < 0).all(), "left wall, right wall, ..."
    # the dataset tables wrap the same way when a clip has more hits than table entries
    tiny = StochasticBalls(num_balls=1, speed=2.0)
    tiny.table_size = 2
    _, info = tiny.generate(4, T=100, seed=0)
    assert (info["wall_hits"].sum(1) > 2).all()
    assert torch.isfinite(info["states"]).all()


def test_corner_hit_leaves_along_the_rotated_diagonal() -> None:
    src = StochasticBalls(num_balls=1)
    # from (10, 10) at (-1.75, -1.75) both coordinates cross r = 3 in the same sub-step
    p0 = torch.tensor([[[10.0, 10.0]]], dtype=torch.float64)
    v0 = torch.tensor([[[-1.75, -1.75]]], dtype=torch.float64)
    theta, speed = 0.3, 1.5
    states, hits = src.simulate_bounces(p0, v0, 8, torch.full((1, 1, 4), theta), torch.full((1, 1, 4), speed))
    (t,) = hits[0, :, 0].nonzero()[:, 0].tolist()  # exactly one hit
    n = torch.tensor([1.0, 1.0]) / math.sqrt(2)
    # v = s R(theta) n
    expected = speed * torch.tensor(
        [math.cos(theta) * n[0] - math.sin(theta) * n[1], math.sin(theta) * n[0] + math.cos(theta) * n[1]]
    )
    torch.testing.assert_close(states[0, t, 0, 2:], expected, atol=1e-6, rtol=0)


# ------------------------------------------------------------------ physics


def test_straight_lines_between_hits_and_inside_the_frame(one_ball) -> None:
    src, states, hits = one_ball
    pos, vel = states[..., :2], states[..., 2:]  # (n, T, 1, 2)
    r = float(src.radii[0])
    assert (pos >= r - 1e-5).all() and (pos <= src.size - r + 1e-5).all()
    speed = vel.norm(dim=-1)
    assert (speed >= 1.0 - 1e-5).all() and (speed <= 2.0 + 1e-5).all()
    free = ~hits[:, 1:]  # (n, T-1, 1) no wall hit between t - 1 and t
    # x_t - x_{t-1} = v_{t-1} and v_t = v_{t-1} between hits
    step_err = (pos[:, 1:] - pos[:, :-1] - vel[:, :-1]).norm(dim=-1)
    assert step_err[free].max() < 1e-4
    changed = (vel[:, 1:] - vel[:, :-1]).norm(dim=-1) > 1e-6
    # one ball: the velocity changes exactly at the wall hits
    assert torch.equal(changed, hits[:, 1:])


def test_two_balls_straight_away_from_contacts() -> None:
    src = StochasticBalls()
    _, info = src.generate(64, T=40, seed=2, dtype=torch.float32)
    states, hits = info["states"].double(), info["wall_hits"]
    pos, vel = states[..., :2], states[..., 2:]
    r = torch.as_tensor(src.radii)
    assert (pos >= r[:, None] - 1e-5).all() and (pos <= src.size - r[:, None] + 1e-5).all()
    gap = (pos[:, :, 0] - pos[:, :, 1]).norm(dim=-1) - r.sum()  # (n, T)
    apart = (gap[:, 1:] > 2 * 3.0) & (gap[:, :-1] > 2 * 3.0)  # no contact possible between t - 1 and t
    free = apart[..., None] & ~hits[:, 1:]  # (n, T-1, N)
    step_err = (pos[:, 1:] - pos[:, :-1] - vel[:, :-1]).norm(dim=-1)
    assert free.sum() > 1000 and step_err[free].max() < 1e-4
    changed = (vel[:, 1:] - vel[:, :-1]).norm(dim=-1) > 1e-6
    assert not changed[free].any()
    assert changed[hits[:, 1:]].all(), "a wall hit draws a new velocity"
    assert (changed & ~hits[:, 1:]).any(), "... and the balls still collide with each other"


def test_bounce_speed_direction_and_uniform_angle(one_ball) -> None:
    src, states, hits = one_ball
    pos, vel = states[:, :, 0, :2], states[:, :, 0, 2:]  # (n, T, 2)
    # A ball travels at most 2 px per frame, so all hits since the last frame were on walls within 2 px.
    # Where only one wall is that close, v_t is the velocity the last hit on that wall gave.
    normal, one_wall = _single_wall_normal(src, pos, reach=2.0 + 1e-4)
    sel = hits[:, :, 0] & one_wall  # (n, T)
    v, n = vel[sel], normal[sel]  # (h, 2)
    assert len(v) > 800
    speed = v.norm(dim=-1)
    assert (speed >= 1.0 - 1e-5).all() and (speed <= 2.0 + 1e-5).all()
    assert abs(speed.mean().item() - 1.5) < 0.05
    # theta = atan2(n x v, n . v), the angle from the inward normal
    theta = torch.rad2deg(torch.atan2(n[:, 0] * v[:, 1] - n[:, 1] * v[:, 0], (n * v).sum(-1)))
    assert ((n * v).sum(-1) > 0).all(), "the ball leaves the wall"
    assert theta.abs().max() <= MAX_ANGLE + 1e-3 and theta.abs().max() > MAX_ANGLE - 3
    # Kolmogorov-Smirnov distance to Uniform(-75, 75) (1% critical value ~ 1.63 / sqrt(h) ~ 0.055)
    x = torch.sort((theta + MAX_ANGLE) / (2 * MAX_ANGLE)).values
    h = len(x)
    ks = torch.maximum(torch.arange(1, h + 1) / h - x, x - torch.arange(h) / h).max()
    assert ks < 0.07, f"angles not uniform: KS distance {ks:.3f} over {h} hits"
    assert abs(theta.mean()) < 5 and abs(theta.std() - 2 * MAX_ANGLE / math.sqrt(12)) < 3


def test_max_angle_argument() -> None:
    src = StochasticBalls(num_balls=1, max_angle=20.0)
    _, info = src.generate(100, T=40, seed=0, dtype=torch.float32)
    pos, vel = info["states"][:, :, 0, :2].double(), info["states"][:, :, 0, 2:].double()
    normal, one_wall = _single_wall_normal(src, pos, reach=2.0 + 1e-4)
    sel = info["wall_hits"][:, :, 0] & one_wall
    v, n = vel[sel], normal[sel]
    cos = (n * v).sum(-1) / v.norm(dim=-1)
    assert len(v) > 100 and (cos >= math.cos(math.radians(20.0)) - 1e-5).all()


# ------------------------------------------------------------------ true futures


@pytest.fixture(scope="module")
def futures_setup() -> dict:
    context, horizon = 6, 8
    ds = make_dataset("balls-stochastic", "test", num_clips=24, T=context + horizon, dtype=torch.float32)
    src = ds.source
    state = ds.states[:, context - 1]  # (n, N, 4) at the last context frame
    fs, fh = src.futures(state, K=5, horizon=horizon, seed=1)
    return {"ds": ds, "src": src, "state": state, "fs": fs, "fh": fh, "context": context, "horizon": horizon}


def test_futures_shapes_and_reproducible(futures_setup) -> None:
    s = futures_setup
    src, state, fs, fh = s["src"], s["state"], s["fs"], s["fh"]
    assert fs.shape == (24, 5, 8, 2, 4) and fs.dtype == torch.float32
    assert fh.shape == (24, 5, 8, 2) and fh.dtype == torch.bool
    again, again_h = src.futures(state, K=5, horizon=8, seed=1)
    assert torch.equal(again, fs) and torch.equal(again_h, fh)
    assert not torch.equal(src.futures(state, K=5, horizon=8, seed=2)[0], fs)
    # future (j, k) does not depend on n, K or the horizon
    part, part_h = src.futures(state[:7], K=3, horizon=4, seed=1)
    assert torch.equal(part, fs[:7, :3, :4]) and torch.equal(part_h, fh[:7, :3, :4])
    # rendered futures
    clips, hits = src.future_clips(state[:4], K=2, horizon=3, seed=1)
    assert clips.shape == (4, 2, 3, 1, 32, 32) and torch.equal(hits, fh[:4, :2, :3])
    torch.testing.assert_close(clips, src.render(fs[:4, :2, :3]), atol=0, rtol=0)


def test_futures_follow_the_clip_until_the_first_hit_then_differ(futures_setup) -> None:
    s = futures_setup
    ds, src, fs, fh, c, H = s["ds"], s["src"], s["fs"], s["fh"], s["context"], s["horizon"]
    own = ds.states[:, c:]  # (n, H, N, 4) the clip's own continuation
    own_frames = ds.clips()[:, c:]  # (n, H, 1, H, W)
    hit_any = fh.any(-1)  # (n, K, H)
    first = torch.where(hit_any.any(-1), hit_any.float().argmax(-1), torch.tensor(H))  # (n, K)
    # all K futures reach their first wall hit in the same frame: until then they are one trajectory
    assert (first == first[:, :1]).all()
    differ = 0
    for j in range(len(fs)):
        f = int(first[j, 0])
        torch.testing.assert_close(fs[j, :, :f], own[j, None, :f].expand(5, -1, -1, -1), atol=1e-4, rtol=0)
        frames = src.render(fs[j, :, :f])
        torch.testing.assert_close(frames, own_frames[j, None, :f].expand_as(frames), atol=1e-3, rtol=0)
        if f < H:
            assert ds.wall_hits[j, c + f].any(), f"clip {j}: its own first hit after frame {c - 1} is frame {c + f}"
            assert not ds.wall_hits[j, c : c + f].any()
            # after the hit the K futures (velocity, then position) are all different
            for k in range(5):
                for k2 in range(k + 1, 5):
                    assert not torch.equal(fs[j, k, f:], fs[j, k2, f:])
                    differ += 1
        else:
            # no wall within the horizon: K identical futures, the elastic simulator's
            assert (fs[j] == fs[j, :1]).all()
            assert not ds.wall_hits[j, c:].any()
            elastic = BouncingBalls(num_balls=2, speed=(1.0, 2.0)).simulate(
                s["state"][j, :, :2], s["state"][j, :, 2:], H + 1
            )
            assert torch.equal(fs[j, 0], elastic[1:])
    no_hit = (first[:, 0] == H).sum()
    assert differ > 0 and no_hit >= 2, f"want clips with and without hits ({no_hit} without)"


def test_futures_spread_out_after_hits(futures_setup) -> None:
    # the last future frame of clips with an early hit: a real spread, not rounding noise
    s = futures_setup
    fs, fh = s["fs"], s["fh"]
    early = fh[:, 0, :4].any(-1).any(-1)  # (n,) a hit within the first 4 future frames
    spread = fs[early, :, -1, :, :2].std(dim=1).amax(-1).amax(-1)  # (e,) px
    assert early.sum() >= 5 and (spread > 0.3).all()


# ------------------------------------------------------------------ registration and bad input


def test_make_dataset_and_splits() -> None:
    ds = make_dataset("balls-stochastic", "test", num_clips=8, T=20)
    assert ds.data.shape == (8, 20, 1, 32, 32) and ds.name == "balls-stochastic"
    assert ds.states.shape == (8, 20, 2, 4) and ds.wall_hits.shape == (8, 20, 2)
    assert ds.source.for_split("train") is ds.source
    train = make_dataset("balls-stochastic", "train", num_clips=8, T=20)
    assert not torch.equal(train.data, ds.data)
    again = make_dataset("balls-stochastic", "test", num_clips=8, T=20)
    assert torch.equal(again.data, ds.data) and torch.equal(again.wall_hits, ds.wall_hits)
    src = make_source("balls-stochastic", num_balls=3, max_angle=30)
    assert isinstance(src, StochasticBalls) and src.max_angle == 30.0 and "max_angle=30.0" in repr(src)
    assert ds.clips().min() >= 0 and ds.clips().max() <= 1 and ds.clips().amax() > 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_angle": 0.0}, "max_angle"),
        ({"max_angle": -10.0}, "max_angle"),
        ({"max_angle": 90.0}, r"\(0, 90\)"),
        ({"max_angle": 120.0}, r"\(0, 90\)"),
        ({"max_angle": "wide"}, "max_angle"),
        ({"speed": (0.0, 1.0)}, "speed must be > 0"),
        ({"num_balls": 0}, "num_balls"),
    ],
)
def test_bad_parameters(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        StochasticBalls(**kwargs)


def test_bad_futures_arguments() -> None:
    src = StochasticBalls()
    state = src.generate(2, T=1, seed=0)[1]["states"][:, 0]  # (2, 2, 4)
    with pytest.raises(ValueError, match="K must be"):
        src.futures(state, K=0, horizon=3)
    with pytest.raises(ValueError, match="horizon must be"):
        src.futures(state, K=2, horizon=0)
    with pytest.raises(ValueError, match=r"states must have shape \(n, N, 4\).*states\[None\]"):
        src.futures(state[0], K=2, horizon=3)
    with pytest.raises(ValueError, match=r"\(n, 2, 4\)"):
        src.futures(torch.zeros(2, 3, 4), K=2, horizon=3)
    with pytest.raises(ValueError, match="inside the frame"):
        src.futures(torch.zeros(2, 2, 4), K=2, horizon=3)
    with pytest.raises(ValueError, match="seed"):
        src.futures(state, K=2, horizon=3, seed=-1)
    p0, v0 = state[..., :2], state[..., 2:]
    with pytest.raises(ValueError, match=r"bounce_angle and bounce_speed"):
        src.simulate_bounces(p0, v0, 3, torch.zeros(2, 2, 4), torch.zeros(2, 2, 5))
    with pytest.raises(ValueError, match=r"\(n, N, 2\)"):
        src.simulate_bounces(p0[0], v0[0], 3, torch.zeros(2, 4), torch.zeros(2, 4))
