"""Flow matching (chapter 10): the 2-D toy, the video autoencoders, and the latent video flow models.

The captioned shapes model has one row per number of sampling steps (guided), each with
the unguided scores beside it (``*_noguide``); the 20-step row retrains the model, the
others load it. The autoencoder rows score its reconstructions of the protocol's real
clips, the ceiling of any generator that decodes through it; an autoencoder is the first
stage of its flow model, so its row loads it from the cache (its ``train_s`` is that of
the run that trained it) rather than training it a second time.
"""

import torch

from vidgen_edu import recipes
from vidgen_edu.bench import register, register_recipe
from vidgen_edu.evaluation import GENERATION, STOCHASTIC_PREDICTION
from vidgen_edu.metrics import psnr, ssim
from vidgen_edu.models.diffusion import euler
from vidgen_edu.models.dit import FlowPredictor

GUIDANCE = 3.0  # the chapter's guidance scale for the captioned shapes
STEPS = (1, 2, 5, 10, 20)


def _shapes_row(steps: int):
    def run(device) -> dict[str, float]:
        r = recipes.get("latent_flow_shapes")
        net = r.load_or_train(device, retrain=steps == STEPS[-1])  # the 20-step row retrains; the others load it
        guided = GENERATION.evaluate(net, "shapes", device, conditional=True, steps=steps, guidance=GUIDANCE)
        plain = GENERATION.evaluate(net, "shapes", device, conditional=True, steps=steps, guidance=1.0)
        noguide = {f"{k}_noguide": plain[k] for k in ("caption_acc", "color_acc", "shape_acc", "direction_acc")}
        return {**guided, **noguide, "steps": steps, "guidance": GUIDANCE, "train_s": r.info()["train_s"],
                "params": sum(p.numel() for p in net.net.parameters())}

    run.recipe = "latent_flow_shapes"
    return run


for _steps in STEPS:
    register(f"latent-flow-{_steps:02d}-steps", dataset="shapes", task=GENERATION.task, chapter="10")(
        _shapes_row(_steps))

register_recipe("latent_flow_balls", GENERATION, model="latent-flow", dataset="balls")


def _autoencoder_row(name: str, data: str):
    def run(device) -> dict[str, float]:
        r = recipes.get(name)
        vae = r.load_or_train(device)  # the first stage of its flow row, which trains it if it is not cached
        real = GENERATION.real(data)
        clips = real.clips()
        with torch.no_grad():
            rec = torch.cat([vae.decode(vae.latents(c.to(device))).cpu() for c in clips.split(100)])
        captions = list(real.info["captions"]) if data == "shapes" else None
        return {**GENERATION.score(rec, data, captions=captions, real=clips),
                "psnr_db": psnr(rec, clips).mean().item(), "train_s": r.info()["train_s"],
                "params": sum(p.numel() for p in vae.parameters())}

    run.recipe = name
    return run


register("tubelet-vae-reconstructions", dataset="shapes", task=GENERATION.task, chapter="10")(
    _autoencoder_row("tubelet_vae_shapes", "shapes"))
register("tubelet-vae-reconstructions", dataset="balls", task=GENERATION.task, chapter="10")(
    _autoencoder_row("tubelet_vae_balls", "balls"))


def masked_flow(device) -> dict[str, float]:
    """The masked-frames model as a stochastic predictor: 20 futures of 10 frames from 10 given ones."""
    r = recipes.get("masked_flow_balls_stochastic")
    flow = r.load_or_train(device, retrain=True)
    predictor = FlowPredictor(flow)  # the chapter's predictor: its default number of Euler steps
    metrics = STOCHASTIC_PREDICTION.evaluate(predictor, "balls-stochastic", device)
    return {**metrics, "steps": predictor.steps, "train_s": r.info()["train_s"],
            "params": sum(p.numel() for p in flow.net.parameters())}


masked_flow.recipe = "masked_flow_balls_stochastic"
register("masked-latent-flow", dataset="balls-stochastic", task=STOCHASTIC_PREDICTION.task, chapter="10")(masked_flow)


def stochastic_autoencoder(device) -> dict[str, float]:
    """The 20-frame autoencoder of the stochastic balls on the prediction protocol's test clips."""
    r = recipes.get("tubelet_vae_balls_stochastic")
    vae = r.load_or_train(device)  # the first stage of the masked flow row, which trains it if it is not cached
    clips = STOCHASTIC_PREDICTION.clips("balls-stochastic").clips()
    with torch.no_grad():
        rec = torch.cat([vae.decode(vae.latents(c.to(device))).cpu() for c in clips.split(100)])
    return {"psnr_db": psnr(rec, clips).mean().item(), "ssim": ssim(rec, clips).mean().item(),
            "train_s": r.info()["train_s"], "params": sum(p.numel() for p in vae.parameters())}


stochastic_autoencoder.recipe = "tubelet_vae_balls_stochastic"
register("tubelet-vae", dataset="balls-stochastic", task="video autoencoder", chapter="10")(stochastic_autoencoder)


def toy(device) -> dict[str, float]:
    """The 2-D toy: distance of 20-step samples to the nearest mode, for the net and for the exact field."""
    r = recipes.get("flow_matching_toy")
    net = r.load_or_train("cpu", retrain=True)
    mixture = r.mixture
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, r.modes, (4000,), generator=g)
    x0 = torch.randn(4000, 2, generator=g)
    with torch.no_grad():
        x_net = euler(lambda x, t: net(x, t, labels), x0, 20)
        x_exact = euler(lambda x, t: mixture.marginal_velocity(x, t, labels), x0, 20)
    data, _ = mixture.sample(4000, generator=g)
    return {"mode_distance": mixture.nearest(x_net)[0].mean().item(),
            "mode_distance_exact": mixture.nearest(x_exact)[0].mean().item(),
            "mode_distance_data": mixture.nearest(data)[0].mean().item(),
            "train_s": r.info()["train_s"], "params": sum(p.numel() for p in net.parameters())}


toy.recipe = "flow_matching_toy"
register("flow-matching-toy", dataset="ring", task="2-D flow", chapter="10")(toy)
