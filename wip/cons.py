import sys, dataclasses, torch
from vidgen_edu.recipes import video_gan
from vidgen_edu.evaluation import GENERATION
from vidgen_edu.attributes import read_attributes
tag = sys.argv[1]; kw = eval("dict(" + sys.argv[2] + ")")
r = dataclasses.replace(video_gan.SHAPES, **kw)
m = r.build(); m.load_state_dict(torch.load(f'/tmp/gan_{tag}.pt'), strict=False); m.eval()
caps = list(GENERATION.real("shapes").info["captions"])
g = torch.Generator().manual_seed(0)
codes = m.generator.draw(len(caps), 10, g)
x = m.sample(len(caps), cond=caps, codes=codes)
e, present = m.embed.slots(caps)
with torch.no_grad(): pos = m.generator.positions(codes, e, 10)  # (B,T,K,2)
B = len(x)
w = x.reshape(B * 2, 5, 3, 32, 32)
p, s, _ = read_attributes(w); p, s = p.view(B, 2, -1), s.view(B, 2, -1)
col = (p[:, 0] != p[:, 1]).any(1); shp = ((s[:, 0] != s[:, 1]) & p[:, 0] & p[:, 1]).any(1)
out = ((pos < 3) | (pos > 29)).any(-1).any(-1).any(-1)
print("presence differs", col.float().mean().item(), "shape differs", shp.float().mean().item(), "a centre within 3px of the border", out.float().mean().item())
print("inconsistent & near border", ((col | shp) & out).float().mean().item())
print("speed px/frame", (pos[:, 1:] - pos[:, :-1]).norm(dim=-1).mean().item())
inc = col | shp
d = (pos[:, :, 0] - pos[:, :, 1]).norm(dim=-1).min(dim=1).values  # (B,) closest approach
ov = d < 10
print("overlap share all", ov.float().mean().item(), "among inconsistent", ov[inc].float().mean().item(), "n inconsistent", inc.sum().item())
