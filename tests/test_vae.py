"""Tests of vidgen_edu.models.vae: shapes, logits from forward, the reparameterization, input checks (chapter 03)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vidgen_edu.losses import elbo_loss, reconstruction_nll
from vidgen_edu.models.vae import VAE, ConvVAE, reparameterize


def test_default_is_the_usual_design():
    assert [name for name, _ in VAE().named_children()] == ["fc1", "fc21", "fc22", "fc3", "fc4"]


def test_classic_vae_layout_and_shapes():
    torch.manual_seed(0)
    model = VAE(bottleneck_dim=20)  # the bottleneck variant
    assert [tuple(p.shape) for p in model.fc1.parameters()] == [(400, 784), (400,)]
    assert tuple(model.fc2.weight.shape) == (20, 400)  # the 20-unit ReLU bottleneck
    assert tuple(model.fc21.weight.shape) == (20, 20)
    assert tuple(model.fc22.weight.shape) == (20, 20)
    assert tuple(model.fc3.weight.shape) == (400, 20)
    assert tuple(model.fc4.weight.shape) == (784, 400)
    x = torch.rand(5, 784)
    logits, mu, logvar = model(x)
    assert logits.shape == (5, 784) and mu.shape == (5, 20) and logvar.shape == (5, 20)
    assert (logits < 0).any()  # logits, not probabilities
    # frames are flattened, and the logits keep their shape
    logits, mu, _ = model(torch.rand(3, 1, 28, 28))
    assert logits.shape == (3, 1, 28, 28) and mu.shape == (3, 20)


@pytest.mark.parametrize("make", [lambda: VAE(), lambda: ConvVAE(channels=3, latent_dim=4, width=4)])
def test_forward_returns_logits_and_decode_their_sigmoid(make):
    torch.manual_seed(0)
    model = make()
    z = torch.randn(6, model.latent_dim)
    frames = model.decode(z)
    torch.testing.assert_close(frames, torch.sigmoid(model.decode_logits(z)), atol=0, rtol=0)
    assert frames.min() >= 0 and frames.max() <= 1
    x = torch.rand(2, 784) if isinstance(model, VAE) else torch.rand(2, 3, 32, 32)
    torch.manual_seed(1)
    logits, mu, logvar = model(x)
    torch.manual_seed(1)
    z = reparameterize(mu, logvar)  # the same draw as inside forward
    torch.testing.assert_close(logits, model.decode_logits(z).reshape(x.shape), atol=0, rtol=0)


def test_bottleneck_features_are_non_negative():
    torch.manual_seed(0)
    feats = VAE(bottleneck_dim=20).features(torch.rand(8, 784))
    assert feats.shape == (8, 20) and (feats >= 0).all()


class _PyTorchExampleVAE(nn.Module):
    """The model of pytorch/examples vae/main.py, written out for the compatibility test."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = mu + torch.randn_like(logvar) * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar


def test_no_bottleneck_is_state_dict_compatible_with_pytorch_example():
    torch.manual_seed(0)
    ref = _PyTorchExampleVAE()
    ours = VAE(bottleneck_dim=None)
    ours.load_state_dict(ref.state_dict())  # strict: same names and shapes
    x = torch.rand(4, 784)
    for a, b in zip(ours.encode(x), ref.encode(x)):
        torch.testing.assert_close(a, b)
    z = torch.randn(4, 20)
    torch.testing.assert_close(ours.decode(z), ref.decode(z))
    # the example's forward returns probabilities, ours logits: the same numbers after a sigmoid
    torch.manual_seed(1)
    probs, mu_ref, logvar_ref = ref(x)
    torch.manual_seed(1)
    logits, mu, logvar = ours(x)
    torch.testing.assert_close(torch.sigmoid(logits), probs)
    torch.testing.assert_close((mu, logvar), (mu_ref, logvar_ref))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("latent", [2, 16])
def test_conv_vae_shapes(channels, latent):
    torch.manual_seed(0)
    model = ConvVAE(channels=channels, latent_dim=latent, width=8)
    x = torch.rand(2, channels, 32, 32)
    logits, mu, logvar = model(x)
    assert logits.shape == x.shape
    assert mu.shape == (2, latent) and logvar.shape == (2, latent)
    assert model.decode(torch.randn(3, latent)).shape == (3, channels, 32, 32)
    assert model.decode_logits(torch.randn(3, latent)).shape == (3, channels, 32, 32)


def test_reparameterize_distribution_and_generator():
    mu = torch.full((20000, 2), 1.5)
    logvar = torch.log(torch.tensor([0.25, 4.0])).expand(20000, 2)
    z = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.mean(0), torch.tensor([1.5, 1.5]), atol=0.05, rtol=0)
    torch.testing.assert_close(z.var(0), torch.tensor([0.25, 4.0]), atol=0.1, rtol=0)
    z2 = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    assert torch.equal(z, z2)


def test_gradients_flow_through_reparameterization():
    mu = torch.zeros(4, 3, requires_grad=True)
    logvar = torch.zeros(4, 3, requires_grad=True)
    z = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(1))
    (z**2).sum().backward()
    # d/dμ z² = 2z, d/dlogvar z² = 2z · ½σε = z·ε  (σ = 1, so z = ε)
    torch.testing.assert_close(mu.grad, 2 * z.detach())
    torch.testing.assert_close(logvar.grad, z.detach() ** 2)


@pytest.mark.parametrize("make", [lambda: VAE(input_dim=64, latent_dim=4, width=16),
                                  lambda: ConvVAE(latent_dim=4, width=4)])
def test_every_parameter_gets_a_gradient(make):
    torch.manual_seed(0)
    model = make()
    x = torch.rand(4, 1, 8, 8) if isinstance(model, VAE) else torch.rand(4, 1, 32, 32)
    logits, mu, logvar = model(x)
    elbo_loss(logits, x, mu, logvar, logits=True).loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    mu_head = model.fc21 if isinstance(model, VAE) else model.fc_mu
    assert mu_head.weight.grad.abs().sum() > 0  # the KL and the decoder both reach the encoder


def test_wrong_shapes_raise_naming_expected_shape():
    mlp = VAE(input_dim=1024, latent_dim=8)
    with pytest.raises(ValueError, match=r"\(B, 1024\)"):
        mlp(torch.rand(2, 784))
    with pytest.raises(ValueError, match=r"\(B, 1024\)"):
        mlp(torch.rand(1024))
    with pytest.raises(ValueError, match=r"\(B, 8\)"):
        mlp.decode(torch.rand(2, 3))
    conv = ConvVAE(channels=3, latent_dim=4, width=4)
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        conv(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        conv(torch.rand(2, 5, 3, 32, 32))  # a video is not a batch of frames
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        conv.decode(torch.rand(2, 5))
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        conv.decode_logits(torch.rand(2, 5))
    with pytest.raises(ValueError, match="same shape"):
        reparameterize(torch.zeros(2, 3), torch.zeros(2, 4))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError):
        VAE(latent_dim=0)
    with pytest.raises(ValueError):
        ConvVAE(size=30)
    with pytest.raises(ValueError):
        ConvVAE(channels=0)
    with pytest.raises(ValueError):
        VAE(width=0)


def test_small_vae_learns():
    """150 full-batch steps on 8x8 blobs: the negative ELBO drops clearly and beats the mean frame (z is used)."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    centres = torch.rand(256, 2, generator=g) * 7
    x = torch.exp(-((xx - centres[:, 0, None, None]) ** 2 + (yy - centres[:, 1, None, None]) ** 2) / 2)
    x = x.unsqueeze(1)  # (256, 1, 8, 8)
    torch.manual_seed(0)
    model = VAE(input_dim=64, latent_dim=2, width=64, bottleneck_dim=None)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        logits, mu, logvar = model(x)
        loss = elbo_loss(logits, x, mu, logvar, logits=True).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    final = sum(losses[-20:]) / 20
    assert final < 0.8 * sum(losses[:5]) / 5
    # and it beats the best model that ignores z: the mean frame as Bernoulli probabilities
    mean_frame = x.mean(dim=0, keepdim=True).expand_as(x)
    assert final < reconstruction_nll(mean_frame, x).mean().item()
