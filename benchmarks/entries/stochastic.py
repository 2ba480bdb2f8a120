"""Stochastic prediction (chapter 07) on the stochastic balls: the model, its z-off ablation, and the oracle."""

from vidgen_edu.bench import register, register_recipe
from vidgen_edu.evaluation import STOCHASTIC_PREDICTION

DATA = "balls-stochastic"

register_recipe("stochastic_predictor_balls", STOCHASTIC_PREDICTION, model="stochastic-convgru", dataset=DATA,
                cpu_threads=1)
register_recipe("deterministic_predictor_balls", STOCHASTIC_PREDICTION, model="deterministic-convgru (z off)",
                dataset=DATA, cpu_threads=1)
register("simulator-oracle", dataset=DATA, task=STOCHASTIC_PREDICTION.task, chapter="07")(
    lambda device: {**STOCHASTIC_PREDICTION.oracle(DATA), "train_s": 0.0, "params": 0})
