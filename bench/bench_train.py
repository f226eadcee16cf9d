"""Where an SSL epoch's time goes: `cpc.bench.epoch_timing` on a preset, from the command line.

Prints the seconds of the whole epoch, of the eval pass with all four cleaners, of the two SSL steps, of the test, and
of the pure model compute of the same SSL steps (no augmentation, targets, mixing or losses but one), with the ratios
`ssl_over_pure` and `clean_share`. Usage:
  python bench/bench_train.py [--preset fmnist-sym50] [--ssl_epochs 3] [--device cpu] [--threads 2]
"""
import argparse, torch
from cpc.bench import epoch_timing
from cpc.cli import PRESETS

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='fmnist-sym50'); ap.add_argument('--ssl_epochs', type=int, default=3)
    ap.add_argument('--device', default=None); ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    res = epoch_timing(PRESETS[a.preset].config, device=a.device, ssl_epochs=a.ssl_epochs)
    print(a.preset, ' '.join(f"{k}={v:.3f}" for k, v in res.items()))
