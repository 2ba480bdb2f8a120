import time, torch, sys
from torch import nn
from vidgen_edu.data import make_dataset
from vidgen_edu.models.gan import attribute_loss, attribute_targets, caption_codes, AUX_LOGITS
from vidgen_edu.evaluation import GENERATION
torch.manual_seed(0)
class Reader2D(nn.Module):
    def __init__(self, w=32):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(6, w, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w, 2*w, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2*w, 2*w, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2*w, 4*w, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(4*w, AUX_LOGITS)
    def forward(self, x):  # (B, T, 3, H, W): first and last frame
        h = torch.cat([x[:, 0], x[:, -1]], 1) * 2 - 1
        return self.head(self.net(h).amax(dim=(-2, -1)))
data = make_dataset("shapes", "train", num_clips=6000, T=10, seed=0)
clips, caps = data.data, list(data.info["captions"])
codes_all = caption_codes(caps)
real = GENERATION.real("shapes"); tc = real.clips()[:300, :4]; tcodes = caption_codes(list(real.info["captions"])[:300])
net = Reader2D(int(sys.argv[1])); B = int(sys.argv[2]); lr = float(sys.argv[3])
opt = torch.optim.Adam(net.parameters(), lr=lr)
g = torch.Generator().manual_seed(0); t = time.time()
for step in range(1, 1201):
    idx = torch.randint(0, len(clips), (B,), generator=g); s = int(torch.randint(0, 7, (1,), generator=g))
    x = clips[idx, s:s+4].float() / 255
    loss = attribute_loss(net(x), codes_all[idx]); opt.zero_grad(); loss.backward(); opt.step()
    if step % 200 == 0:
        with torch.no_grad(): z = net(tc).view(len(tc), 7, -1)
        p, sh, d = attribute_targets(tcodes); m = p > 0
        print(step, round(time.time()-t,1), "s", round(loss.item(),3), "shape", (z[...,1:5].argmax(-1)==sh)[m].float().mean().item(), "dir", (z[...,5:].argmax(-1)==d)[m].float().mean().item(), flush=True)
