"""From-scratch GRUs against PyTorch's, ConvGRUCell and the next-frame predictor (chapter 04)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidgen_edu.models.recurrent import GRU, ConvGRUCell, GRUCell, gru_step

ATOL = 1e-5


def _grads(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in module.named_parameters()}


@pytest.mark.parametrize("seed", range(6))
def test_grucell_matches_torch_outputs_and_gradients(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    I, H, B = (int(v) for v in torch.randint(1, 17, (3,), generator=g))
    bias = seed % 3 != 0
    torch.manual_seed(seed)
    ref = nn.GRUCell(I, H, bias=bias)
    ours = GRUCell(I, H, bias=bias)
    ours.load_state_dict(ref.state_dict())  # strict: same names and shapes
    x = torch.randn(B, I, generator=g)
    h = torch.randn(B, H, generator=g) if seed % 2 else None
    out_ref, out = ref(x, h), ours(x, h)
    torch.testing.assert_close(out, out_ref, atol=ATOL, rtol=0)
    w = torch.randn(B, H, generator=g)  # a random linear read-out, so every output matters
    (out_ref * w).sum().backward()
    (out * w).sum().backward()
    ref_grads, our_grads = _grads(ref), _grads(ours)
    assert ref_grads.keys() == our_grads.keys()
    for name in ref_grads:
        torch.testing.assert_close(our_grads[name], ref_grads[name], atol=ATOL, rtol=1e-4, msg=name)


def test_grucell_unbatched_and_state_dict_names() -> None:
    torch.manual_seed(0)
    ref, ours = nn.GRUCell(5, 7), GRUCell(5, 7)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}
    ours.load_state_dict(ref.state_dict())
    x, h = torch.randn(5), torch.randn(7)
    torch.testing.assert_close(ours(x, h), ref(x, h), atol=ATOL, rtol=0)
    assert ours(x).shape == (7,)


def test_gate_order_is_r_z_n() -> None:
    """Forcing the update gate to 1 (rows H:2H) must copy the state: z sits in the middle block."""
    H = 4
    cell = GRUCell(3, H)
    with torch.no_grad():
        cell.bias_ih[H:2 * H] = 50.0  # z_t = σ(large) = 1
    h = torch.randn(2, H)
    torch.testing.assert_close(cell(torch.randn(2, 3), h), h, atol=1e-6, rtol=0)


def test_reset_before_variant_differs_and_matches_its_equation() -> None:
    torch.manual_seed(1)
    after, before = GRUCell(4, 6), GRUCell(4, 6, reset_after=False)
    before.load_state_dict(after.state_dict())
    x, h = torch.randn(3, 4), torch.randn(3, 6)
    assert not torch.allclose(after(x, h), before(x, h), atol=1e-4)
    # Cho et al. (2014): n = tanh(W_n x + b_in + U_n (r ⊙ h) + b_hn)
    W, U, bi, bh = after.weight_ih, after.weight_hh, after.bias_ih, after.bias_hh
    r = torch.sigmoid(x @ W[:6].T + bi[:6] + h @ U[:6].T + bh[:6])
    z = torch.sigmoid(x @ W[6:12].T + bi[6:12] + h @ U[6:12].T + bh[6:12])
    n = torch.tanh(x @ W[12:].T + bi[12:] + (r * h) @ U[12:].T + bh[12:])
    torch.testing.assert_close(before(x, h), (1 - z) * n + z * h, atol=ATOL, rtol=0)


@pytest.mark.parametrize(
    "I,H,L,B,T,batch_first,with_h0,bias",
    [
        (3, 5, 1, 2, 4, True, False, True),
        (7, 4, 2, 3, 6, True, True, True),
        (2, 8, 3, 1, 5, False, True, True),
        (6, 3, 2, 4, 3, False, False, False),
        (5, 6, 4, 2, 2, True, True, False),
    ],
)
def test_gru_matches_torch(I: int, H: int, L: int, B: int, T: int, batch_first: bool, with_h0: bool,
                           bias: bool) -> None:
    torch.manual_seed(I * 100 + H * 10 + L)
    ref = nn.GRU(I, H, num_layers=L, bias=bias, batch_first=batch_first)
    ours = GRU(I, H, num_layers=L, bias=bias, batch_first=batch_first)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn((B, T, I) if batch_first else (T, B, I))
    h0 = torch.randn(L, B, H) if with_h0 else None
    out_ref, hn_ref = ref(x, h0)
    out, hn = ours(x, h0)
    assert out.shape == out_ref.shape and hn.shape == hn_ref.shape
    torch.testing.assert_close(out, out_ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(hn, hn_ref, atol=ATOL, rtol=0)
    w_out, w_h = torch.randn_like(out), torch.randn_like(hn)
    ((out_ref * w_out).sum() + (hn_ref * w_h).sum()).backward()
    ((out * w_out).sum() + (hn * w_h).sum()).backward()
    ref_grads, our_grads = _grads(ref), _grads(ours)
    assert ref_grads.keys() == our_grads.keys()
    for name in ref_grads:
        torch.testing.assert_close(our_grads[name], ref_grads[name], atol=1e-4, rtol=1e-4, msg=name)


@pytest.mark.parametrize("seed", range(3))
def test_gru_matches_torch_random_sizes(seed: int) -> None:
    g = torch.Generator().manual_seed(100 + seed)
    I, H, B, T = (int(v) for v in torch.randint(1, 10, (4,), generator=g))
    L = int(torch.randint(1, 4, (1,), generator=g))
    torch.manual_seed(seed)
    ref, ours = nn.GRU(I, H, num_layers=L, batch_first=True), GRU(I, H, num_layers=L, batch_first=True)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(B, T, I, generator=g)
    h0 = torch.randn(L, B, H, generator=g) if seed % 2 else None
    (out_ref, hn_ref), (out, hn) = ref(x, h0), ours(x, h0)
    torch.testing.assert_close(out, out_ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(hn, hn_ref, atol=ATOL, rtol=0)
    out_ref.sum().backward()
    out.sum().backward()
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-4, rtol=1e-4, msg=name)


def test_gru_unbatched_and_h0_gradient() -> None:
    torch.manual_seed(3)
    ref, ours = nn.GRU(3, 4, num_layers=2), GRU(3, 4, num_layers=2)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(5, 3)
    h0_ref = torch.randn(2, 4, requires_grad=True)
    h0 = h0_ref.detach().clone().requires_grad_(True)
    out_ref, hn_ref = ref(x, h0_ref)
    out, hn = ours(x, h0)
    torch.testing.assert_close(out, out_ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(hn, hn_ref, atol=ATOL, rtol=0)
    out_ref.sum().backward()
    out.sum().backward()
    torch.testing.assert_close(h0.grad, h0_ref.grad, atol=ATOL, rtol=1e-4)


def test_gru_last_output_is_last_state_of_top_layer() -> None:
    gru = GRU(3, 5, num_layers=2)
    out, hn = gru(torch.randn(2, 4, 3))
    torch.testing.assert_close(out[:, -1], hn[-1])


def test_gru_step_equals_cell() -> None:
    cell = GRUCell(4, 3)
    x, h = torch.randn(2, 4), torch.randn(2, 3)
    torch.testing.assert_close(gru_step(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), cell(x, h))


@pytest.mark.parametrize(
    "module,args",
    [
        (GRUCell(4, 3), (torch.randn(2, 5),)),  # wrong feature size
        (GRUCell(4, 3), (torch.randn(2, 3, 4),)),  # too many dims
        (GRUCell(4, 3), (torch.randn(2, 4), torch.randn(3, 3))),  # batch mismatch in h
        (GRUCell(4, 3), (torch.randn(4), torch.randn(2, 3))),  # batched h for unbatched x
        (GRU(4, 3), (torch.randn(2, 5, 3),)),  # wrong feature size
        (GRU(4, 3), (torch.randn(2, 3, 5, 4),)),  # 4-D input
        (GRU(4, 3, num_layers=2), (torch.randn(2, 5, 4), torch.randn(1, 2, 3))),  # h0 with too few layers
        (GRU(4, 3), (torch.randn(2, 0, 4),)),  # empty sequence
        (ConvGRUCell(2, 4), (torch.randn(1, 3, 8, 8),)),  # wrong channels
        (ConvGRUCell(2, 4), (torch.randn(1, 2, 8, 8), torch.randn(1, 4, 4, 4))),  # state size mismatch
    ],
)
def test_wrong_shapes_raise_value_error(module: nn.Module, args: tuple) -> None:
    with pytest.raises(ValueError):
        module(*args)


def test_convgru_cell_shapes_and_copy_state() -> None:
    cell = ConvGRUCell(2, 5, kernel_size=3)
    x = torch.rand(3, 2, 8, 8)
    h = cell(x)
    assert h.shape == (3, 5, 8, 8)
    assert cell(x, h).shape == (3, 5, 8, 8)
    with torch.no_grad():
        cell.conv_ih.bias[5:10] = 50.0  # update gate (middle block) → 1: the state is copied
    torch.testing.assert_close(cell(x, h), h, atol=1e-6, rtol=0)


def test_convgru_is_local() -> None:
    """A 3×3 ConvGRU step moves information by at most one pixel."""
    torch.manual_seed(0)
    cell = ConvGRUCell(1, 2, kernel_size=3)
    x = torch.zeros(1, 1, 9, 9)
    base = cell(x)
    x[0, 0, 4, 4] = 1.0
    changed = (cell(x) - base).abs().sum(dim=(0, 1)) > 0  # (9, 9)
    rows, cols = torch.nonzero(changed, as_tuple=True)
    assert changed[4, 4] and rows.min() >= 3 and rows.max() <= 5 and cols.min() >= 3 and cols.max() <= 5
    with pytest.raises(ValueError):
        ConvGRUCell(1, 2, kernel_size=4)


# ----------------------------------------------------------------------------- next-frame predictor

from vidgen_edu.models.predictor import NextFramePredictor  # noqa: E402


@pytest.mark.parametrize("core", ["gru", "convgru"])
def test_predictor_shapes(core: str) -> None:
    torch.manual_seed(0)
    model = NextFramePredictor(channels=1, size=16, hidden_size=8, width=4, core=core)
    clip = torch.rand(2, 7, 1, 16, 16)
    logits = model(clip)  # forward returns the logits only
    assert logits.shape == clip.shape
    logits_h, h = model.forward_with_state(clip)
    assert torch.equal(logits_h, logits)
    assert h.shape == model.init_state(2).shape
    future = model.rollout(clip[:, :4], horizon=5)
    assert future.shape == (2, 5, 1, 16, 16) and future.min() >= 0 and future.max() <= 1
    assert model.scheduled(clip, n_context=3, teacher_prob=0.5).shape == (2, 6, 1, 16, 16)


@pytest.mark.parametrize("core", ["gru", "convgru"])
def test_state_carries_over_between_calls(core: str) -> None:
    """Splitting a clip in two and passing the state on equals one pass; ``step`` equals a one-frame call."""
    torch.manual_seed(4)
    model = NextFramePredictor(channels=1, size=8, hidden_size=6, width=4, core=core).eval()
    clip = torch.rand(2, 6, 1, 8, 8)
    with torch.no_grad():
        whole, h_whole = model.forward_with_state(clip)
        first, h = model.forward_with_state(clip[:, :4])
        second, h = model.forward_with_state(clip[:, 4:], h)
        torch.testing.assert_close(torch.cat([first, second], dim=1), whole, atol=1e-5, rtol=0)
        torch.testing.assert_close(h, h_whole, atol=1e-5, rtol=0)
        logit, h_step = model.step(clip[:, 4], model.forward_with_state(clip[:, :4])[1])
        torch.testing.assert_close(logit, whole[:, 4], atol=1e-5, rtol=0)
        zero = model.forward_with_state(clip, model.init_state(2))
        torch.testing.assert_close(zero[0], whole, atol=0, rtol=0)


def test_rollout_runs_without_gradients() -> None:
    model = NextFramePredictor(channels=1, size=8, hidden_size=6, width=4, core="gru")
    with torch.enable_grad():
        future = model.rollout(torch.rand(2, 3, 1, 8, 8), horizon=2)
    assert not future.requires_grad and future.grad_fn is None


@pytest.mark.parametrize("core", ["gru", "convgru"])
def test_scheduled_sampling_extremes(core: str) -> None:
    """p = 1 is teacher forcing; p = 0 feeds back the model's own predictions (a rollout)."""
    torch.manual_seed(1)
    model = NextFramePredictor(channels=1, size=8, hidden_size=6, width=4, core=core).eval()
    clip = torch.rand(3, 6, 1, 8, 8)
    with torch.no_grad():
        teacher = model(clip[:, :-1])
        torch.testing.assert_close(model.scheduled(clip, 2, teacher_prob=1.0), teacher, atol=1e-5, rtol=0)
        free = torch.sigmoid(model.scheduled(clip, 2, teacher_prob=0.0))  # predictions of frames 1..5
        torch.testing.assert_close(free[:, 1:], model.rollout(clip[:, :2], horizon=4), atol=1e-5, rtol=0)


def test_predictor_from_scratch_matches_fused_and_gets_gradients() -> None:
    torch.manual_seed(2)
    fused = NextFramePredictor(channels=1, size=8, hidden_size=6, width=4, core="gru", num_layers=2)
    scratch = NextFramePredictor(channels=1, size=8, hidden_size=6, width=4, core="gru", num_layers=2,
                                 from_scratch=True)
    assert isinstance(fused.core, nn.GRU) and isinstance(scratch.core, GRU)
    scratch.load_state_dict(fused.state_dict())
    clip = torch.rand(2, 5, 1, 8, 8)
    torch.testing.assert_close(scratch.rollout(clip[:, :3], 3), fused.rollout(clip[:, :3], 3), atol=1e-5, rtol=0)
    scratch.scheduled(clip, 2, 0.5, generator=torch.Generator().manual_seed(0)).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in scratch.parameters())


def test_untrained_predictor_copies_the_last_frame() -> None:
    """The merge layer starts as "copy the input frame", so a new model is close to the copy baseline."""
    torch.manual_seed(3)
    model = NextFramePredictor(channels=1, size=16, hidden_size=8, width=4, core="convgru")
    clip = (torch.rand(4, 3, 1, 16, 16) > 0.8).float()
    with torch.no_grad():
        pred = torch.sigmoid(model(clip))
    assert (pred - clip).abs().mean() < 0.1


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m(torch.rand(2, 3, 1, 16, 8)),  # not square / wrong size
        lambda m: m(torch.rand(2, 3, 3, 16, 16)),  # wrong channels
        lambda m: m(torch.rand(3, 1, 16, 16)),  # a clip without the batch dimension
        lambda m: m.rollout(torch.rand(2, 3, 1, 16, 16), horizon=0),
        lambda m: m.scheduled(torch.rand(2, 3, 1, 16, 16), n_context=3, teacher_prob=0.5),
    ],
)
def test_predictor_bad_input_raises(call) -> None:
    model = NextFramePredictor(channels=1, size=16, hidden_size=4, width=4, core="convgru")
    with pytest.raises(ValueError):
        call(model)


def test_predictor_bad_config_raises() -> None:
    with pytest.raises(ValueError):
        NextFramePredictor(size=30, patch=4)
    with pytest.raises(ValueError):
        NextFramePredictor(core="lstm")
