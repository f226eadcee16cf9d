"""Time one CPC update (one pass, default PrototypeCleaner) over 50,000 cached 512-d features on 2 CPU threads.

Target: under 2 s per update for K=10 and K=100. Reports the median of several runs after a warm-up update,
plus the time of `clean_prob` over the same features. Run: `.venv/bin/python bench/bench_cpc.py [--runs 5]`.
"""
import argparse, statistics, time
import torch
from cpc.cleaner import PrototypeCleaner

def bench(num_classes:int, n:int=50_000, feat_dim:int=512, runs:int=5, **kw)->dict:
    g = torch.Generator().manual_seed(0)
    v = torch.randn(n, feat_dim, generator=g).relu()           # post-ReLU backbone features
    y = torch.randint(0, num_classes, (n,), generator=g)
    clean = torch.rand(n, generator=g) < 0.5
    probs = torch.randn(n, num_classes, generator=g).softmax(1)
    cl = PrototypeCleaner(num_classes, feat_dim, **kw)
    cl.update(v, y, clean, probs, lr=0.02)                      # warm-up
    upd, score = [], []
    for _ in range(runs):
        t = time.perf_counter(); cl.update(v, y, clean, probs, lr=0.02); upd.append(time.perf_counter() - t)
        t = time.perf_counter(); cl.clean_prob(v, y); score.append(time.perf_counter() - t)
    return dict(update=statistics.median(upd), clean_prob=statistics.median(score), cleaner=repr(cl))

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, 50,000 x 512 features, median of {args.runs}')
    for K in (10, 100):
        r = bench(K, runs=args.runs)
        print(f"K={K:3d}: update (one pass) {r['update']:.3f} s  [target < 2 s]   clean_prob {r['clean_prob']:.3f} s   {r['cleaner']}")
