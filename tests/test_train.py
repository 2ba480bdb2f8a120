import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from vidgen_edu.train import Every, ema_of, fit, to_device


def _regression_data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    w = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    y = x @ w + 0.01 * torch.randn(n, 1, generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=g)


def _mse(model, batch):
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def test_fit_lowers_the_loss_of_a_tiny_model():
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    history = fit(model, _mse, _regression_data(), steps=200, lr=0.05, device="cpu", progress=False)
    assert len(history) == 200
    assert sum(history[-20:]) / 20 < 0.01 * (sum(history[:5]) / 5)
    assert not model.training  # handed back in eval mode


def test_fit_is_deterministic_on_cpu():
    def run():
        torch.manual_seed(1)
        model = nn.Linear(4, 1)
        return fit(model, _mse, _regression_data(seed=3), steps=30, device="cpu", progress=False)

    assert run() == run()


def test_fit_cycles_data_and_calls_back():
    calls = []
    data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(3)]  # 3 batches, 10 steps
    model = nn.Linear(4, 1)
    history = fit(model, _mse, data, steps=10, device="cpu", progress=False,
                  callbacks=[Every(4, lambda step, m, h: calls.append((step, len(h)))),
                             Every(5, lambda step, m, h: calls.append(("five", step)))])
    assert len(history) == 10
    assert calls == [(4, 4), ("five", 5), (8, 8), ("five", 10)]


def test_a_callback_needs_a_period():
    model = nn.Linear(4, 1)
    data = [(torch.randn(8, 4), torch.randn(8, 1))]
    with pytest.raises(TypeError, match="Every"):
        fit(model, _mse, data, steps=2, device="cpu", progress=False, callbacks=[lambda *a: None])
    with pytest.raises(ValueError, match="period"):
        Every(0, print)


def test_fit_steps_the_scheduler_after_every_optimizer_step():
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5**s)
    seen = []
    fit(model, _mse, [(torch.randn(8, 4), torch.randn(8, 1))], steps=3, optimizer=opt, scheduler=sched,
        device="cpu", progress=False, callbacks=[Every(1, lambda *_: seen.append(opt.param_groups[0]["lr"]))])
    assert seen == [0.5, 0.25, 0.125]


def test_fit_keeps_an_exponential_moving_average_of_the_weights():
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    start = model.weight.detach().clone()
    ema = ema_of(model, decay=0.9)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    expected = start.clone()
    def track(step, m, h):
        nonlocal expected
        # θ_ema ← d θ_ema + (1 − d) θ (the first update copies θ)
        expected = m.weight.detach().clone() if step == 1 else 0.9 * expected + 0.1 * m.weight.detach()
    fit(model, _mse, _regression_data(), steps=5, optimizer=opt, ema=ema, device="cpu", progress=False,
        callbacks=[Every(1, track)])
    torch.testing.assert_close(ema.module.weight, expected)
    assert not torch.equal(ema.module.weight, model.weight)
    with pytest.raises(ValueError, match="decay"):
        ema_of(model, decay=1.0)


def test_fit_uses_given_optimizer_and_clips_gradients():
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    before = model.weight.detach().clone()
    fit(model, _mse, [(torch.randn(8, 4), torch.randn(8, 1))], steps=3, optimizer=opt,
        grad_clip=1.0, device="cpu", progress=False)
    assert torch.equal(before, model.weight)  # lr 0: the given optimizer was used


def test_fit_bad_inputs():
    model = nn.Linear(4, 1)
    with pytest.raises(ValueError, match="steps"):
        fit(model, _mse, [], steps=0, progress=False)
    with pytest.raises(ValueError, match="empty"):
        fit(model, _mse, [], steps=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="scalar"):
        fit(model, lambda m, b: m(b[0]), [(torch.randn(8, 4), None)], steps=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="nan"):
        fit(model, lambda m, b: m(b[0]).sum() * float("nan"), [(torch.randn(8, 4),)], steps=1,
            device="cpu", progress=False)


def test_to_device_handles_nested_batches():
    batch = {"x": torch.ones(2), "pair": (torch.zeros(1), [torch.ones(1)]), "label": "text"}
    moved = to_device(batch, torch.device("cpu"))
    assert moved["label"] == "text"
    assert isinstance(moved["pair"], tuple) and isinstance(moved["pair"][1], list)
    assert torch.equal(moved["x"], batch["x"])
