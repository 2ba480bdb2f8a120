"""Chapter 08's video GAN, its training film, the latent-walk baseline and content consistency."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from tests.test_attributes import StubNet
from vidgen_edu import attributes
from vidgen_edu.checkpoints import load_checkpoint, save_checkpoint
from vidgen_edu.data import COLORS, DIRECTIONS, SHAPES
from vidgen_edu.models.api import VideoGenerator
from vidgen_edu.models.gan import VideoGAN, d_hinge_loss, g_hinge_loss, minibatch_std, object_crops
from vidgen_edu.models.latent_walk import LatentWalk
from vidgen_edu.models.vae import ConvVAE
from vidgen_edu.recipes import video_gan
from vidgen_edu.runtime import Budget

CAPS = ["a red square moves left; a blue circle moves down", "a green cross moves up"]


@pytest.fixture(scope="module")
def gan() -> VideoGAN:
    torch.manual_seed(0)
    return VideoGAN(1, 32, 6, width=8, critic_width=8, content_dim=4, motion_dim=4, noise_dim=0).eval()


def test_generator_contract_shapes_and_reproducibility(gan):
    assert isinstance(gan, VideoGenerator)
    a = gan.sample(3, generator=torch.Generator().manual_seed(1))
    b = gan.sample(3, generator=torch.Generator().manual_seed(1))
    assert a.shape == (3, 6, 1, 32, 32) and torch.equal(a, b) and not a.requires_grad
    assert 0 <= a.min() and a.max() <= 1
    assert gan.sample(2, 9).shape == (2, 9, 1, 32, 32)  # any length: the motion GRU just runs longer


def test_critics_score_frames_and_windows(gan):
    clips = torch.rand(4, 6, 1, 32, 32)
    image, video = gan.critics(clips, frames=torch.tensor([0, 3]))
    assert image.shape == (4, 2) and video.shape == (4,)
    with pytest.raises(ValueError):
        gan.critics(torch.rand(4, 6, 3, 32, 32))


def test_content_code_is_shared_by_all_frames_and_motion_code_moves_them(gan):
    codes = gan.generator.draw(2, 6, torch.Generator().manual_seed(0))
    same = codes._replace(content=codes.content[:1].expand(2, -1))  # one content, two motions
    clips = gan.sample(2, codes=same)
    assert not torch.equal(clips[0], clips[1])
    swapped = codes._replace(motion0=codes.motion0.flip(0))
    assert not torch.equal(gan.sample(2, codes=swapped), gan.sample(2, codes=codes))


def test_conditional_sample_draws_captions_when_none_are_given():
    torch.manual_seed(0)
    net = VideoGAN(3, 32, 4, width=8, critic_width=8, content_dim=4, motion_dim=4, noise_dim=0,
                   conditional=True).eval()
    a = net.sample(2, generator=torch.Generator().manual_seed(3))
    b = net.sample(2, generator=torch.Generator().manual_seed(3))
    assert a.shape == (2, 4, 3, 32, 32) and torch.equal(a, b)
    assert net.sample(2, cond=CAPS).shape == (2, 4, 3, 32, 32)
    with pytest.raises(ValueError, match="captions"):
        net.sample(3, cond=CAPS)


def test_minibatch_std_sees_a_collapsed_batch():
    same = torch.ones(8, 3, 4, 4)
    varied = torch.randn(8, 3, 4, 4)
    assert minibatch_std(same)[:, -1].abs().max() == 0
    assert minibatch_std(varied)[:, -1].min() > 0
    assert minibatch_std(varied).shape == (8, 4, 4, 4)


def test_hinge_losses_on_hand_cases():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # relu(1 − real) = [0, 0.5] → 0.25; relu(1 + fake) = [0, 1] → 0.5
    assert d_hinge_loss(real, fake).item() == pytest.approx(0.75)
    assert g_hinge_loss(fake).item() == pytest.approx(1.0)


def test_the_training_film_is_kept_in_the_weights(tmp_path):
    r = dataclasses.replace(video_gan.BALLS, steps=Budget(full=4, quick=4), train_clips=Budget(full=16, quick=16),
                            width=8, critic_width=8)
    model, info = r.train("cpu")
    assert model.film_steps.tolist() == [0, 1, 2, 3, 4]
    assert model.film.dtype == torch.uint8 and model.film[-1].any()
    assert not torch.equal(model.film[0], model.film[-1])  # the generator changed between the shots
    assert set(info["history"]) == {"critic", "generator"} and len(info["history"]["critic"]) == 4
    path = tmp_path / "gan.pt"
    save_checkpoint(model, path)
    fresh = r.initial()
    load_checkpoint(path, fresh)
    assert torch.equal(fresh.film, model.film) and torch.equal(fresh.film_steps, model.film_steps)


def test_latent_walk_is_a_straight_line_in_latent_space():
    torch.manual_seed(0)
    vae = ConvVAE(1, latent_dim=4).eval()
    walk = LatentWalk(vae, frames=5)
    assert isinstance(walk, VideoGenerator)
    clips = walk.sample(2, generator=torch.Generator().manual_seed(0))
    assert clips.shape == (2, 5, 1, 32, 32)
    ends = torch.randn(2, 2, 4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(clips[:, 0], vae.decode(ends[0]))  # t = 0: z_a
    torch.testing.assert_close(clips[:, -1], vae.decode(ends[1]))  # t = 1: z_b
    torch.testing.assert_close(clips[:, 2], vae.decode(ends.mean(0)))  # t = 1/2: the midpoint
    with pytest.raises(ValueError, match="unconditional"):
        walk.sample(2, cond=CAPS)


class WindowStub:
    """The classifier's logits for windows, from a list of what each window 'shows'."""

    def __init__(self, per_window):
        self.per_window = per_window

    def __call__(self, windows):
        return StubNet(self.per_window)(windows)


def test_content_consistency_counts_clips_whose_objects_keep_colour_and_shape():
    clips = torch.rand(2, 6, 3, 32, 32)  # 3 windows of 2 frames each
    keep = [("square", "red", "left"), ("circle", "blue", "down")]
    change = [("circle", "red", "left"), ("circle", "blue", "down")]  # the red square turns into a circle
    stub = WindowStub([keep, keep, keep, keep, change, keep])  # clip 0: consistent; clip 1: not
    assert attributes.content_consistency(clips, window=2, net=stub) == pytest.approx(0.5)
    moved = [("square", "red", "up"), ("circle", "blue", "down")]  # a new direction is motion, not content
    stub = WindowStub([keep, moved, keep] * 2)
    assert attributes.content_consistency(clips, window=2, net=stub) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="two windows"):
        attributes.content_consistency(torch.rand(2, 3, 3, 32, 32), net=stub)


@pytest.fixture(scope="module")
def layered() -> VideoGAN:
    torch.manual_seed(0)
    return VideoGAN(3, 32, 6, width=8, critic_width=8, content_dim=4, motion_dim=4, noise_dim=0,
                    conditional=True, layered=True, aux=True).eval()


def test_layered_generator_draws_each_sprite_once_and_moves_it(layered):
    g = layered.generator
    codes = g.draw(2, 6, torch.Generator().manual_seed(0))
    assert codes.content.shape == (2, 2, 4) and codes.motion0.shape == (2, 2, 4)
    e, present = layered.embed.slots(CAPS)  # the second caption has one object
    assert present.tolist() == [[1.0, 1.0], [1.0, 0.0]]
    sprites = g.sprites(codes, e)
    assert sprites.shape == (2, 2, 4, 16, 16) and 0 <= sprites.min() and sprites.max() <= 1
    centres = g.positions(codes, e, 6)  # (B, T, K, 2) pixels
    assert centres.shape == (2, 6, 2, 2)
    step = (centres[:, 1:] - centres[:, :-1]).norm(dim=-1)
    assert step.max() <= g.max_speed * 2**0.5 + 1e-5  # each axis moves at most max_speed a frame
    clips = layered.sample(2, cond=CAPS, codes=codes)
    assert clips.shape == (2, 6, 3, 32, 32) and 0 <= clips.min() and clips.max() <= 1
    # the sprites do not depend on time: a longer clip draws the same sprites, only the positions run on
    longer = g.draw(2, 9, torch.Generator().manual_seed(0))
    torch.testing.assert_close(g.sprites(longer, e), sprites)
    torch.testing.assert_close(g.positions(longer, e, 9)[:, :6], centres)


def test_layered_generator_pastes_a_sprite_where_asked():
    g = VideoGAN(3, 32, 2, width=8, content_dim=4, motion_dim=4, conditional=True, layered=True).generator
    sprite = torch.zeros(1, 1, 4, 16, 16)
    sprite[..., 7:9, 7:9] = 1.0  # a 2×2 white, opaque dot at the sprite's centre (pixels 7 and 8)
    centre = torch.tensor([[[[20.0, 10.0]]]])  # (B, T, K, 2): x = 20, y = 10
    out = g.paste(sprite, centre)[0, 0, 0]  # (4, 32, 32)
    # the sprite's centre (8, 8) lands on pixel boundary (20, 10): the dot covers columns 19-20, rows 9-10
    assert out[3, 9:11, 19:21].min() > 0.99 and out[3].sum() == pytest.approx(4.0, abs=1e-4)


def test_an_absent_object_is_not_drawn(layered):
    codes = layered.generator.draw(1, 6, torch.Generator().manual_seed(2))
    e, present = layered.embed.slots(CAPS[1:])
    with_slot = layered.generator(codes, e, torch.ones_like(present))
    without = layered.generator(codes, e, present)
    only_first = layered.generator(codes._replace(content=codes.content[:, :1], motion0=codes.motion0[:, :1]),
                                   e[:, :1], present[:, :1])
    torch.testing.assert_close(without, only_first)
    assert not torch.allclose(with_slot, without)


def test_object_set_embedding_binds_attributes_and_ignores_order():
    from vidgen_edu.models.gan import ObjectSetEmbedding

    torch.manual_seed(0)
    emb = ObjectSetEmbedding(8)
    a = emb(["a red square moves left; a blue circle moves down"])
    swapped_order = emb(["a blue circle moves down; a red square moves left"])
    swapped_shapes = emb(["a red circle moves left; a blue square moves down"])
    torch.testing.assert_close(a, swapped_order)
    assert not torch.allclose(a, swapped_shapes)


def test_attribute_targets_and_loss_on_a_hand_case(layered):
    from vidgen_edu.models.gan import AUX_LOGITS, attribute_loss, attribute_targets, caption_codes

    codes = caption_codes(CAPS)  # red square left, blue circle down | green cross up
    present, shape, direction = attribute_targets(codes)
    red, green, blue = (list(COLORS).index(c) for c in ("red", "green", "blue"))
    assert present[0].nonzero()[:, 0].tolist() == sorted([red, blue]) and present[1].nonzero()[:, 0].tolist() == [green]
    assert shape[0, red] == list(SHAPES).index("square") and direction[0, blue] == list(DIRECTIONS).index("down")
    assert shape[1, red] == -1
    # zero logits: log 2 for presence, log 4 for shape, log 8 for direction
    loss = attribute_loss(torch.zeros(2, AUX_LOGITS), codes)
    assert loss.item() == pytest.approx(math.log(2) + math.log(4) + math.log(8), rel=1e-5)
    image, video = layered.critics(torch.rand(2, 6, 3, 32, 32), CAPS)
    assert image.shape == (2, 6) and video.shape == (2,)
    assert layered.reader(torch.rand(2, 6, 3, 32, 32)).shape == (2, AUX_LOGITS)
    with pytest.raises(ValueError, match="layered"):
        VideoGAN(1, 32, 6, layered=True)


def test_projection_score_is_the_unconditional_score_plus_the_inner_product():
    from vidgen_edu.models.gan import projection_score

    torch.manual_seed(0)
    score, project = torch.nn.Linear(5, 1), torch.nn.Linear(3, 5, bias=False)
    phi, e = torch.randn(4, 5), torch.randn(4, 3)
    # D(x, y) = w·φ(x) + b + ⟨V e(y), φ(x)⟩, written out with the layers' weights
    want = phi @ score.weight[0] + score.bias + ((e @ project.weight.T) * phi).sum(dim=1)
    torch.testing.assert_close(projection_score(score, project, phi, e), want)
    torch.testing.assert_close(projection_score(score, None, phi, e), phi @ score.weight[0] + score.bias)


def test_margin_shifts_each_path_into_the_frame_without_bending_it():
    g = VideoGAN(3, 32, 8, width=8, content_dim=4, motion_dim=4, conditional=True, layered=True,
                 margin=5.0).generator
    with torch.no_grad():
        g.velocity.bias[:] = 10.0  # every object runs right and down at full speed: out of the frame
    codes = g.draw(3, 8, torch.Generator().manual_seed(0))
    e, _ = g.embed.slots(CAPS + CAPS[:1])
    p_free, p_kept = g.paths(codes, e, 8), g.positions(codes, e, 8)  # (B, T, K, 2)
    assert p_free.max() > 27  # outside [5, 27] before the shift
    assert p_kept.min() >= 5 - 1e-4 and p_kept.max() <= 27 + 1e-4
    # one translation per path: the steps between frames are unchanged
    torch.testing.assert_close(p_kept[:, 1:] - p_kept[:, :-1], p_free[:, 1:] - p_free[:, :-1])
    # a path already inside is not moved; without a margin nothing is
    inside = torch.full((1, 8, 1, 2), 16.0)
    torch.testing.assert_close(g.keep_inside(inside), inside)
    g.margin = None
    torch.testing.assert_close(g.positions(codes, e, 8), p_free)


def test_object_crops_are_centred_on_the_objects():
    frames = torch.zeros(1, 2, 3, 32, 32)
    frames[0, 0, :, 10, 20] = 1.0  # a white pixel covering x in [20, 21], y in [10, 11]
    frames[0, 1, 1, 3, 4] = 1.0  # a green one covering [4, 5] × [3, 4], near the corner
    centres = torch.tensor([[[[20.0, 10.0]], [[4.0, 3.0]]]])  # (B, T, K, 2): each pixel's top-left corner
    crops = object_crops(frames, centres, 8)  # (2, 3, 8, 8): windows [c − 4, c + 4] in x and y
    assert crops.shape == (2, 3, 8, 8)
    # the window's pixel 4 covers [c, c + 1]: that is where the marked pixel lands, whole
    torch.testing.assert_close(crops[0, :, 4, 4], torch.ones(3))
    assert crops[0].sum() == pytest.approx(3.0, abs=1e-5)
    assert crops[1, 1, 4, 4] == pytest.approx(1.0) and crops[1].sum() == pytest.approx(1.0, abs=1e-5)


def test_object_critic_needs_the_layered_generator():
    with pytest.raises(ValueError, match="layered"):
        VideoGAN(3, 32, 6, conditional=True, crop=16)


def test_shapes_recipe_trains_with_reader_warmup_object_critic_and_opacity_penalty():
    r = dataclasses.replace(video_gan.SHAPES, steps=Budget(full=2, quick=2), train_clips=Budget(full=16, quick=16),
                            width=8, critic_width=8, reader_width=8, reader_warmup=Budget(full=3, quick=3),
                            reader_batch=4, batch_size=4)
    assert r.object_weight > 0 and r.margin is not None and r.opacity_weight > 0  # what the chapter's recipe uses
    model, info = r.train("cpu")
    assert model.object_critic is not None
    assert len(info["history"]["reader"]) == 2  # one reader step per game step (the warm-up is not recorded)
    assert len(info["history"]["critic"]) == 2
    ids = {id(p) for p in model.critic_parameters()}
    assert all(id(p) in ids for p in model.object_critic.parameters())
    # the generator's loss adds opacity_weight · mean α(1 − α) of the sprites it drew
    captions = ["a red square moves left; a blue circle moves down"] * 2
    model.eval()  # spectral norm's power iteration stays put: both losses see the same critics
    fake = model.generate(model.generator.draw(2, 10, torch.Generator().manual_seed(0)), captions)
    a = model.generator.last_opacity
    without = dataclasses.replace(r, opacity_weight=0.0).generator_loss(model, fake, captions)
    with_penalty = r.generator_loss(model, fake, captions)
    assert (with_penalty - without).item() == pytest.approx(r.opacity_weight * (a * (1 - a)).mean().item(), rel=1e-4)
