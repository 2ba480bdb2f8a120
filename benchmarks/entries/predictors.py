"""Next-frame predictors (chapters 04, 05) on the prediction protocol, with its baselines (copy-last, empty, oracle)."""

from vidgen_edu.bench import register, register_recipe
from vidgen_edu.evaluation import PREDICTION


def copy_last_frame(dataset: str) -> dict[str, float]:
    clips = PREDICTION.clips(dataset).clips()  # (N, 20, C, H, W)
    return {**PREDICTION.score(clips[:, PREDICTION.context:], PREDICTION.copy_last_frame(clips)),
            "train_s": 0.0, "params": 0}


def empty_frame(dataset: str) -> dict[str, float]:
    clips = PREDICTION.clips(dataset).clips()  # (N, 20, C, H, W)
    return {**PREDICTION.score(clips[:, PREDICTION.context:], PREDICTION.empty_frame(clips)),
            "train_s": 0.0, "params": 0}


def constant_velocity() -> dict[str, float]:
    test = PREDICTION.clips("balls")
    return {**PREDICTION.score(test.clips()[:, PREDICTION.context:], PREDICTION.constant_velocity(test)),
            "train_s": 0.0, "params": 0}


register("constant-velocity-oracle", dataset="balls", task=PREDICTION.task, chapter="04")(
    lambda device: constant_velocity())
for dataset in ("balls", "digits"):
    register("copy-last-frame", dataset=dataset, task=PREDICTION.task, chapter="04")(
        lambda device, d=dataset: copy_last_frame(d))
    register("empty-frame", dataset=dataset, task=PREDICTION.task, chapter="04")(
        lambda device, d=dataset: empty_frame(d))
    register_recipe(f"convgru_predictor_{dataset}", PREDICTION, model="convgru", dataset=dataset, cpu_threads=1)
    register_recipe(f"simvp_predictor_{dataset}", PREDICTION, model="simvp", dataset=dataset)
    register_recipe(f"video_transformer_{dataset}", PREDICTION, model="transformer-divided", dataset=dataset)
