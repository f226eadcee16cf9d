"""Time the class-aware GMM cleaner (gmm_awr) against a per-class sklearn loop.

Usage: .venv/bin/python bench/bench_gmm.py [--classes 100] [--per-class 500] [--threads 2] [--runs 7] [--device cpu]
Reports the median wall time of several runs after warm-up, and how closely the two agree.
"""
import argparse, os, statistics, time
import numpy as np, torch
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits
from sklearn.mixture import GaussianMixture
from cpc.gmm import GMM_SETTINGS, gmm_clean_prob, normalize_losses, synthetic_losses


def median_time(fn, runs, warmup=2, sync=lambda: None):
    "Median wall time of `fn()` over `runs` calls after `warmup` calls; also returns the last result."
    for _ in range(warmup): out = fn()
    sync()
    ts = []
    for _ in range(runs):
        t = time.perf_counter(); out = fn(); sync(); ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def sklearn_awr(losses, labels, K):
    "DivideMix-style class-aware cleaner: normalise, then one sklearn GaussianMixture per class."
    x = normalize_losses(losses).double().numpy()[:, None]
    y = labels.numpy()
    q = np.empty(len(x))
    for k in range(K):
        m = y == k
        gm = GaussianMixture(n_components=2, **GMM_SETTINGS).fit(x[m])
        q[m] = gm.predict_proba(x[m])[:, gm.means_.argmin()]
    return torch.from_numpy(q)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--classes', type=int, default=100)
    ap.add_argument('--per-class', type=int, default=500)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--runs', type=int, default=7)
    ap.add_argument('--device', default='cpu')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    threadpool_limits(a.threads)                 # sklearn's OpenMP/BLAS pools get the same cores
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    losses, labels, clean = synthetic_losses(a.classes, a.per_class, noise_rate=0.4, spread=3.0, seed=0)
    ld, yd = losses.to(dev), labels.to(dev)
    print(f'data: {a.classes} classes x {a.per_class} samples = {len(losses)}, device {dev}, torch threads {torch.get_num_threads()}, '
          f'load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other processes slow multi-threaded ops)')

    t_awr, q_awr = median_time(lambda: gmm_clean_prob(ld, yd, a.classes, class_aware=True), a.runs, sync=sync)
    t_agn, q_agn = median_time(lambda: gmm_clean_prob(ld), a.runs, sync=sync)
    t_skl, q_skl = median_time(lambda: sklearn_awr(losses, labels, a.classes), max(3, a.runs // 2), warmup=1)
    q_awr, q_agn = q_awr.cpu().double(), q_agn.cpu().double()

    print(f'gmm_awr (cpc.gmm, batched torch): {t_awr * 1e3:8.1f} ms  (median of {a.runs})')
    print(f'gmm_agn (cpc.gmm, one GMM)      : {t_agn * 1e3:8.1f} ms  (median of {a.runs})')
    print(f'sklearn per-class loop          : {t_skl * 1e3:8.1f} ms  (median of {max(3, a.runs // 2)}) '
          f'-> speed-up {t_skl / t_awr:.0f}x')
    print(f'max |q_awr - sklearn| = {(q_awr - q_skl).abs().max():.2e}, '
          f'mean = {(q_awr - q_skl).abs().mean():.2e}')
    print(f'AUC vs true clean mask: gmm_awr {roc_auc_score(clean, q_awr):.4f}, sklearn awr '
          f'{roc_auc_score(clean, q_skl):.4f}, gmm_agn {roc_auc_score(clean, q_agn):.4f}')
    print(f'budget: gmm_awr under 2 s: {"yes" if t_awr < 2 else "NO"}')


if __name__ == '__main__':
    main()
