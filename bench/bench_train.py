"""Cost of one DivideMix SSL epoch relative to the pure model compute of the same images.

Per labeled batch of B the SSL step needs a no-grad forward of 4B images through the trained network, a no-grad
forward of 2B through the peer, and a forward+backward+SGD step on the 4B mixed images. The "pure" loop does
exactly that on tensors that already sit in memory: no augmentation, no targets, no mixup, no losses but one.
The ratio (SSL epoch / pure loop) is what the trainer adds on top of the model. Median of `--repeats` runs after
a warm-up run. Usage: python bench/bench_train.py [--model small_cnn] [--subset 4000] [--repeats 3]
"""
import argparse, statistics, tempfile, time
import torch, torch.nn.functional as F
from cpc.train import TrainConfig, Trainer

def pure_epoch(tr, n_iter, nx, nu):
    "The model compute of one SSL epoch on ready tensors."
    net, peer, opt = tr.nets[0], tr.nets[1], tr.opts[0]
    shape = tr.train.data.images.shape[1:]
    x = torch.randn(2 * nx + 2 * nu, *shape); K = tr.num_classes
    net.train(); peer.eval()
    for _ in range(n_iter):
        with torch.no_grad():
            net(x); peer(x[:2 * nu])
        logits = net(x)[0]
        loss = F.cross_entropy(logits, logits.detach().softmax(1))
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()

def main(model='small_cnn', subset=4000, repeats=3, dataset='fashion_mnist', batch_size=64):
    torch.set_num_threads(2)
    cfg = TrainConfig(dataset=dataset, model=model, train_subset=subset, epochs=4, warmup_epochs=1, batch_size=batch_size,
                      cleaner='gmm_agn', lambda_u=25)
    tr = Trainer(cfg, out=tempfile.mkdtemp(), device='cpu', verbose=False)
    n = len(tr.train)
    clean = torch.zeros(n, dtype=torch.bool); clean[torch.randperm(n, generator=torch.Generator().manual_seed(0))[: n // 2]] = True
    prob = clean.float() * 0.9 + 0.05
    n_iter = -(-int(clean.sum()) // batch_size)
    ssl, pure = [], []
    for r in range(repeats + 1):
        t = time.perf_counter(); tr.ssl_epoch(1, 0, prob, clean); a = time.perf_counter() - t
        t = time.perf_counter(); pure_epoch(tr, n_iter, batch_size, batch_size); b = time.perf_counter() - t
        if r: ssl.append(a); pure.append(b)
    s, p = statistics.median(ssl), statistics.median(pure)
    print(f"{model} on {dataset} (n={n}, {n_iter} labeled batches of {batch_size}, 2 threads): "
          f"SSL epoch {s:.2f}s, pure compute {p:.2f}s, ratio {s / p:.3f}")

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default='small_cnn'); ap.add_argument('--dataset', default='fashion_mnist')
    ap.add_argument('--subset', type=int, default=4000); ap.add_argument('--repeats', type=int, default=3)
    main(**vars(ap.parse_args()))
