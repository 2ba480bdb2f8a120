"""Frame VAEs (chapter 03) on the reconstruction protocol, and the mean-frame baseline."""

from vidgen_edu.bench import register, register_recipe
from vidgen_edu.evaluation import RECONSTRUCTION

CONV_VAES = [("conv_vae_digits", "digits-1"), ("conv_vae_balls", "balls"), ("conv_vae_one_ball", "one-ball")]
for recipe, dataset in CONV_VAES:
    register_recipe(recipe, RECONSTRUCTION, model="conv-vae", dataset=dataset)
    register("mean-frame", dataset=dataset, task=RECONSTRUCTION.task, chapter="03")(
        lambda device, d=dataset: {**RECONSTRUCTION.mean_frame(d), "train_s": 0.0, "params": 0})
register_recipe("mlp_vae_digits", RECONSTRUCTION, model="mlp-vae", dataset="digits-1")
