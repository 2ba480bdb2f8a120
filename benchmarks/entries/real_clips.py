"""The ceiling of the generation protocol: real clips drawn from the simulator, scored like samples."""

from vidgen_edu.bench import register
from vidgen_edu.evaluation import GENERATION, RealClips

for dataset, conditional in [("balls", False), ("digits", False), ("shapes", True)]:
    register("real-clips", dataset=dataset, task=GENERATION.task, chapter="06")(
        lambda device, d=dataset, c=conditional: {
            **GENERATION.evaluate(RealClips(d, GENERATION.frames), d, device, conditional=c), "params": 0})
