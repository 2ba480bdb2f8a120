import sys, dataclasses, torch, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
from vidgen_edu.recipes import video_gan
tag = sys.argv[1]; kw = eval("dict(" + sys.argv[2] + ")")
r = dataclasses.replace(video_gan.SHAPES, **kw)
m = r.build(); m.load_state_dict(torch.load(f'/tmp/gan_{tag}.pt'), strict=False); m.eval()
caps = ['a red square moves left; a blue circle moves down', 'a green triangle moves up; a yellow square moves right',
        'a blue cross moves right; a red triangle moves left', 'a yellow circle moves down; a green cross moves up']
x = m.sample(4, cond=caps, generator=torch.Generator().manual_seed(0))
fig, ax = plt.subplots(4, 10, figsize=(12, 5))
for i in range(4):
    for t in range(10):
        ax[i, t].imshow(x[i, t].permute(1, 2, 0).numpy()); ax[i, t].axis('off')
plt.savefig(f'/tmp/{tag}.png', dpi=60)
