"""Video GANs (chapter 08) on the generation protocol, beside the latent-walk floor of a frame VAE."""

import torch

from vidgen_edu import recipes
from vidgen_edu.attributes import content_consistency
from vidgen_edu.bench import register, register_recipe
from vidgen_edu.evaluation import GENERATION
from vidgen_edu.models.latent_walk import LatentWalk

register_recipe("video_gan_balls", GENERATION, model="video-gan", dataset="balls")


def shapes_gan(device) -> dict[str, float]:
    r = recipes.get("video_gan_shapes")
    net = r.load_or_train(device, retrain=True)
    metrics = GENERATION.evaluate(net, "shapes", device, conditional=True)
    captions = list(GENERATION.real("shapes").info["captions"])
    clips = net.sample(len(captions), cond=captions, generator=torch.Generator().manual_seed(0))
    return {**metrics, "content_consistency": content_consistency(clips), "train_s": r.info()["train_s"],
            "params": sum(p.numel() for p in net.parameters())}


shapes_gan.recipe = "video_gan_shapes"
register("video-gan", dataset="shapes", task=GENERATION.task, chapter="08")(shapes_gan)
register("latent-walk", dataset="balls", task=GENERATION.task, chapter="08")(
    lambda device: {**GENERATION.evaluate(LatentWalk(recipes.load("conv_vae_balls", device), GENERATION.frames),
                                          "balls", device), "params": 0})
