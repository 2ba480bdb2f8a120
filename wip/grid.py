import sys, torch
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
s = torch.load(sys.argv[1])  # (N,T,C,H,W)
N, T = min(6, s.shape[0]), s.shape[1]
fig, ax = plt.subplots(N, T, figsize=(T, N))
for i in range(N):
    for t in range(T):
        im = s[i, t].permute(1, 2, 0).squeeze(-1).numpy()
        ax[i, t].imshow(im, cmap="gray", vmin=0, vmax=1); ax[i, t].axis("off")
plt.tight_layout(); plt.savefig(sys.argv[2], dpi=60)
