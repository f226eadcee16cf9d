"""The device check: where an epoch's time goes on CIFAR-sized data on one GPU, eager and with CUDA graphs.

Builds a CIFAR-10-format data set (Fashion-MNIST padded to 3x32x32 when its IDX files are found, else synthetic images
with a learnable class signal), then for `cifar10-sym50-dividemix` (DivideMix's schedule) and `cifar10-sym50` (the
paper's preset: batch 128, AugDMix strong views, cpc_awr), each with the four no-grad forwards separate, fused
(chunked BatchNorm), and fused with CUDA graphs, trains one warm-up and two SSL epochs (`cpc.bench.epoch_timing`, one
SSL epoch timed) and prints one table: warm-up epoch, SSL epoch, eval pass with the four cleaners, the SSL steps, their
pure model compute, SSL / pure, the TFLOP/s the SSL steps achieve against the chip's bf16 rate, labeled-set sizes, and
the test accuracy after each epoch. Then a two-epoch run under a one-process `torchrun` (NCCL on CUDA, gloo on the
CPU), and two epochs on the Clothing1M and WebVision fixtures (the DataLoader path) on the same device.

  python bench/gpu_check.py [--fmnist DIR] [--out FILE]   # on a GPU: about 5 minutes on one H200 with 50,000 images
  python bench/gpu_check.py --smoke                       # the same code on the CPU (no graphs there), small_cnn on 256 images

On a machine without fastcore (the lent H200), carry its wheel and the Fashion-MNIST .gz files; for example, with the
wheel in .whl/ and the four files in .fmnist/ (both ignored by git, both carried):
  pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && PYTHONPATH=/tmp/site:. python bench/gpu_check.py --fmnist .fmnist
"""
import argparse, dataclasses, math, os, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np, torch
import torch.nn.functional as F
from cpc.bench import epoch_timing
from cpc.cli import PRESETS
from cpc.data import load_fashion_mnist
from cpc.fixtures import write_cifar_fixture, write_clothing1m_fixture, write_webvision_fixture

BF16_PEAK = 790e12  # dense bf16 FLOP/s of one H200, the rate the achieved TFLOP/s is set against
VARIANTS = {'four forwards': dict(fuse_views='off', cuda_graphs='off'), 'fused': dict(fuse_views='on', cuda_graphs='off'),
            'fused + graphs': dict(fuse_views='on', cuda_graphs='on')}

def cifar_data(root:Path, n_train:int, n_test:int, fmnist:str|None)->str:
    "Write a CIFAR-10-format copy of Fashion-MNIST (padded, grey in all three channels) or of synthetic images; return what was written."
    try:
        tr, te = load_fashion_mnist(fmnist, train=True), load_fashion_mnist(fmnist, train=False)
        pad = lambda d, n: F.pad(d.images[:n], (2, 2, 2, 2)).expand(-1, 3, -1, -1)
        imgs, labels, what = torch.cat([pad(tr, n_train), pad(te, n_test)]), torch.cat([tr.labels[:n_train], te.labels[:n_test]]), 'Fashion-MNIST'
    except FileNotFoundError:  # a fixed random template per class under noise: learnable, so the accuracies mean something
        g = torch.Generator().manual_seed(0)
        labels = torch.arange(n_train + n_test) % 10
        templates = torch.randint(0, 256, (10, 3, 32, 32), generator=g).float()
        imgs = (0.6 * templates[labels] + 0.4 * torch.randint(0, 256, (len(labels), 3, 32, 32), generator=g)).to(torch.uint8)
        what = 'synthetic images'
    write_cifar_fixture(root, 'cifar10', n_train, n_test, images=imgs.numpy(), labels=labels.numpy())
    return f"{what}, {n_train:,} train / {n_test:,} test, 3x32x32"

def timing_table(data:Path, device:str, smoke:bool)->list:
    "One row per preset and variant: the epoch_timing numbers, the achieved rate and the accuracy after each epoch."
    rows = []
    for preset in ('cifar10-sym50-dividemix', 'cifar10-sym50'):
        for variant, kw in VARIANTS.items():
            if device == 'cpu' and kw['cuda_graphs'] == 'on': continue  # no CUDA graphs on the CPU
            cfg = dataclasses.replace(PRESETS[preset].config, warmup_epochs=1, **kw,
                                      **(dict(model='small_cnn', eval_batch_size=256) if smoke else {}))
            hist = []
            tm = epoch_timing(cfg, data=data, device=device, ssl_epochs=1, rows=hist)
            rows.append(dict(preset=preset, variant=variant, **tm,
                             tflops=tm['ssl_flop'] / tm['ssl'] / 1e12, labeled=f"{hist[-1]['labeled_a']}/{hist[-1]['labeled_b']}",
                             accs=' '.join(f"{r['test_acc']:.3f}" for r in hist)))
            print(format_row(rows[-1]), flush=True)
    return rows

HEADER = ("| preset | variant | warm-up epoch (s) | SSL epoch (s) | eval + cleaners (s) | SSL steps (s) | pure compute (s) "
          "| SSL / pure | SSL TFLOP/s (share of 790) | labeled A/B | test acc per epoch |\n|---|---|---|---|---|---|---|---|---|---|---|")

def format_row(r:dict)->str:
    return (f"| {r['preset']} | {r['variant']} | {r['warmup']:.2f} | {r['epoch']:.2f} | {r['clean_step']:.2f} | {r['ssl']:.2f} "
            f"| {r['pure_ssl']:.2f} | {r['ssl_over_pure']:.2f} | {r['tflops']:.3g} ({r['tflops'] * 1e12 / BF16_PEAK:.2%}) "
            f"| {r['labeled']} | {r['accs']} |")

def run_cli(args:list, env:dict|None=None)->tuple:
    "Run `cpc_train` (or torchrun) in a subprocess; (exit code, seconds, last line of its output)."
    t0 = time.time()
    p = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)
    lines = (p.stdout if p.returncode == 0 else p.stderr).strip().splitlines()  # 'done: ...' or the error
    return p.returncode, time.time() - t0, lines[-1] if lines else ''

def process_checks(data:Path, tmp:Path, device:str, smoke:bool)->list:
    "A two-epoch run under a one-process torchrun, and two epochs on each image-file fixture: (what, exit code, seconds, last line)."
    small = ['--model', 'small_cnn'] if smoke else []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get('PYTHONPATH', '')]))
    out = []
    rc = run_cli(['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '1', '-m', 'cpc.cli',
                  '--preset', 'cifar10-sym50-dividemix', '--data', str(data), '--out', str(tmp/'torchrun'), '--device', device,
                  '--epochs', '2', '--warmup_epochs', '1', *small], env)
    out.append(('torchrun, 1 process (' + ('nccl' if device.startswith('cuda') else 'gloo') + '), cifar10-sym50-dividemix, 2 epochs', *rc))
    fixtures = {'clothing1m': write_clothing1m_fixture(tmp/'c1m'), 'webvision': write_webvision_fixture(tmp/'wv')}
    for name, root in fixtures.items():
        rc = run_cli(['-m', 'cpc.cli', '--preset', name, '--data', str(root), '--out', str(tmp/name), '--device', device,
                      '--epochs', '2', '--warmup_epochs', '1', '--num_batches', '2', '--batch_size', '8', '--eval_batch_size', '16',
                      '--num_workers', '0' if smoke else '4', '--pretrained', 'False', *(small or ['--model', 'resnet50'])], env)
        out.append((f'{name} fixture (DataLoader path), 2 epochs', *rc))
    return out

def main(argv=None)->int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--smoke', action='store_true', help='run on the CPU with small_cnn on 256 images (the CI check)')
    ap.add_argument('--fmnist', default=None, help='folder with the Fashion-MNIST .gz files (default: the system copy)')
    ap.add_argument('--images', type=int, default=None, help='training images (default: 50,000; 512 with --smoke)')
    ap.add_argument('--out', default=None, help='also write the report (markdown) to this file')
    a = ap.parse_args(argv)
    device = 'cpu' if a.smoke else 'cuda'
    if device == 'cuda' and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run with --smoke for the CPU version", file=sys.stderr); return 2
    if a.smoke: torch.set_num_threads(min(2, os.cpu_count() or 1))
    n_train = a.images or (256 if a.smoke else 50_000)
    n_test = 128 if a.smoke else 10_000
    name = torch.cuda.get_device_name() if device == 'cuda' else 'CPU'
    t0 = time.time()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        what = cifar_data(tmp/'cifar', n_train, n_test, a.fmnist)
        print(f"gpu_check on {name}, torch {torch.__version__}: {what}\n\n{HEADER}", flush=True)
        rows = timing_table(tmp/'cifar', device, a.smoke)
        checks = process_checks(tmp/'cifar', tmp, device, a.smoke)
    report = [f"gpu_check on {name}, torch {torch.__version__}: {what}", '', HEADER, *map(format_row, rows), '',
              '| check | exit code | seconds | last line |', '|---|---|---|---|',
              *(f"| {w} | {rc} | {s:.0f} | {last[:120]} |" for w, rc, s, last in checks), '',
              f"total {time.time() - t0:.0f} s"]
    print('\n'.join(report[len(rows) + 3:]))
    if a.out: Path(a.out).write_text('\n'.join(report) + '\n')
    return 0 if all(rc == 0 for _, rc, _, _ in checks) else 1

if __name__ == '__main__': sys.exit(main())
