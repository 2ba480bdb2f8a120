import sys, time, dataclasses, torch
torch.set_num_threads(1)
from vidgen_edu.recipes import video_gan
from vidgen_edu.runtime import Budget
name, steps = sys.argv[1], int(sys.argv[2])
kw = eval("dict(" + (sys.argv[3] if len(sys.argv) > 3 else "") + ")")
r = video_gan.BALLS if name == "balls" else video_gan.SHAPES
r = dataclasses.replace(r, steps=Budget(full=steps, quick=3), **kw)
torch.manual_seed(0)
t = time.time(); model, info = r.train("cpu"); print("train", time.time() - t, "s", flush=True)
torch.save(model.state_dict(), f"/tmp/gan_{name}_{steps}.pt")
h = info["history"]
import numpy as np
for k, v in h.items(): print(k, [round(float(np.mean(v[i:i+steps//10])), 3) for i in range(0, steps, max(1, steps//10))])
from vidgen_edu.evaluation import GENERATION
t = time.time()
if name == "balls":
    m = GENERATION.evaluate(model, "balls", "cpu")
else:
    m = GENERATION.evaluate(model, "shapes", "cpu", conditional=True)
print({k: round(v, 4) for k, v in m.items()}, "eval", time.time() - t)
model.train(); s2 = model.sample(8, generator=torch.Generator().manual_seed(0), cond=None if name=="balls" else ["a red square moves left; a blue circle moves down"]*8); torch.save(s2, f"/tmp/gan_{name}_{steps}_trainmode.pt"); model.eval()
s = model.sample(8, generator=torch.Generator().manual_seed(0), cond=None if name=="balls" else ["a red square moves left; a blue circle moves down"]*8)
torch.save(s, f"/tmp/gan_{name}_{steps}_samples.pt")
