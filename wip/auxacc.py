import sys, dataclasses, torch
from vidgen_edu.recipes import video_gan
from vidgen_edu.evaluation import GENERATION
from vidgen_edu.models.gan import attribute_targets, caption_codes
tag = sys.argv[1]; kw = eval("dict(" + sys.argv[2] + ")")
r = dataclasses.replace(video_gan.SHAPES, **kw)
m = r.build(); m.load_state_dict(torch.load(f'/tmp/gan_{tag}.pt'), strict=False); m.eval()
real = GENERATION.real("shapes"); caps = list(real.info["captions"])[:200]; x = real.clips()[:200, :4]
codes = caption_codes(caps)
pres, shp, dr = attribute_targets(codes)
def acc(clips):
    with torch.no_grad():
        _, _, z = m.critics(clips, caps, aux=True)
    z = z.view(len(z), 7, -1); p = pres > 0
    return ((z[..., 0] > 0).float() == pres).float().mean().item(), (z[..., 1:5].argmax(-1) == shp)[p].float().mean().item(), (z[..., 5:].argmax(-1) == dr)[p].float().mean().item()
print("critic aux on real: presence, shape, direction", acc(x))
g = m.sample(200, T=4, cond=caps, generator=torch.Generator().manual_seed(0))
print("critic aux on generated:", acc(g))
