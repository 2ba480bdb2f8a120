import sys, time, dataclasses, torch
from vidgen_edu.recipes import video_gan
from vidgen_edu.runtime import Budget
name, steps = sys.argv[1], int(sys.argv[2])
kw = eval("dict(" + (sys.argv[3] if len(sys.argv) > 3 else "") + ")")
r = video_gan.BALLS if name == "balls" else video_gan.SHAPES
r = dataclasses.replace(r, steps=Budget(full=steps, quick=3), **kw)
print(r, torch.get_num_threads(), flush=True)
t = time.time(); model, info = r.train("cpu"); print("train", round(time.time() - t, 1), "s", flush=True)
tag = sys.argv[4] if len(sys.argv) > 4 else f"{name}_{steps}"
torch.save(model.state_dict(), f"/tmp/gan_{tag}.pt")
h = info["history"]
import numpy as np
for k, v in h.items(): print(k, [round(float(np.mean(v[i:i+steps//10])), 3) for i in range(0, steps, max(1, steps//10))])
from vidgen_edu.evaluation import GENERATION
t = time.time()
if name == "balls":
    m = GENERATION.evaluate(model, "balls", "cpu")
else:
    m = GENERATION.evaluate(model, "shapes", "cpu", conditional=True)
    from vidgen_edu.attributes import content_consistency
    caps = list(GENERATION.real("shapes").info["captions"])
    smp = model.sample(len(caps), cond=caps, generator=torch.Generator().manual_seed(0))
    m["content_consistency"] = content_consistency(smp, window=5); m["cc2"] = content_consistency(smp)
print({k: round(v, 4) for k, v in m.items()}, "eval", round(time.time() - t, 1), flush=True)
s = model.sample(8, generator=torch.Generator().manual_seed(0))
torch.save(s, f"/tmp/gan_{tag}_samples.pt")
