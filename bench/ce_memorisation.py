"""Does plain cross-entropy memorise noisy Fashion-MNIST labels? One network, SGD, lr /10 at half the epochs.
Every 5 epochs prints the test accuracy, the share of mislabelled training samples predicted as their (wrong) given
label ("memorised"), and the share of the others fitted. Made the weak-view table of the CPU-track notebook:
  python bench/ce_memorisation.py 4000 30 none  cnn_fc 0.02 5e-4 sym 0.5    (no augmentation)
  python bench/ce_memorisation.py 4000 30 pad0  cnn_fc 0.02 5e-4 sym 0.5    (flip only)
  python bench/ce_memorisation.py 4000 30 pad4  cnn_fc 0.02 5e-4 sym 0.5    (random crop, 4-pixel padding, + flip)
Arguments: train images, epochs, views (none | pad<P>), model, lr, weight decay, noise mode, noise rate.
"""
import sys, time
import torch, torch.nn.functional as F
from cpc.data import load_fashion_mnist, stratified_subset
from cpc.noise import inject_noise
from cpc.models import create_model
from cpc.augment import crop_flip, normalize

def main(n, epochs, views, model, lr, wd, mode, rate, batch=64):
    torch.set_num_threads(2); torch.manual_seed(0)
    tr, te = load_fashion_mnist(), load_fashion_mnist(train=False)
    tr, te = tr.subset(stratified_subset(tr.labels, n, 0)), te.subset(stratified_subset(te.labels, 5000, 0))
    noisy = torch.as_tensor(inject_noise(tr.labels, mode, rate, num_classes=10, seed=0, dataset='fashion_mnist'))
    wrong = noisy != tr.labels
    net = create_model(model, 10, in_channels=1)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=wd)
    view = (lambda x: normalize(x, tr.mean, tr.std)) if views == 'none' else \
           (lambda x: normalize(crop_flip(x, int(views[3:]), True), tr.mean, tr.std))
    def predict(x):
        net.eval()
        with torch.no_grad(): return torch.cat([net(normalize(x[i:i+1000], tr.mean, tr.std))[0].argmax(1) for i in range(0, len(x), 1000)])
    t = time.time()
    for ep in range(epochs):
        if ep == epochs // 2:
            for g in opt.param_groups: g['lr'] = lr / 10
        net.train(); perm = torch.randperm(n)
        for i in range(0, n, batch):
            j = perm[i:i+batch]
            loss = F.cross_entropy(net(view(tr.images[j]))[0], noisy[j]); opt.zero_grad(); loss.backward(); opt.step()
        if ep % 5 == 4 or ep == epochs - 1:
            p, acc = predict(tr.images), (predict(te.images) == te.labels).float().mean().item()
            print(f"epoch {ep+1}  test {acc:.3f}  memorised {(p[wrong] == noisy[wrong]).float().mean():.3f}  "
                  f"clean fitted {(p[~wrong] == noisy[~wrong]).float().mean():.3f}  {time.time() - t:.0f}s", flush=True)

if __name__ == '__main__':
    a = sys.argv[1:]
    if len(a) != 8: raise SystemExit(__doc__)
    main(int(a[0]), int(a[1]), a[2], a[3], float(a[4]), float(a[5]), a[6], float(a[7]))
