"""The device check: where an epoch's time goes on CIFAR-sized data on one GPU, and whether every timed step trained.

Builds a CIFAR-10-format data set (Fashion-MNIST padded to 3x32x32 when its IDX files are found, else synthetic images
whose class is their colour, learnable in a few steps) and measures the device's own bf16 matrix-product rate (one
8192-cube product repeated for about a second). Then it runs rows in the order of their value, printing each one and
appending it to `--out` as it finishes, so a run cut off at its time limit keeps every row it finished:

  1. cifar10-sym50 (the paper's preset: batch 128, AugDMix strong views, cpc_awr), fused forwards + CUDA graphs
  2. cifar10-sym50-dividemix (DivideMix's schedule: batch 64, weak views, gmm_agn), fused forwards + CUDA graphs
  3. cifar10-sym50, eager (four no-grad forwards, no graphs)        4. cifar10-sym50-dividemix, eager
  5. torchrun: `cpc.cli` under `torch.distributed.run`, one process per GPU (one on the CPU), which joins the process
     group with NCCL on CUDA (gloo on the CPU) and checks one all-reduce; the backend that ran is reported
  6. clothing1m and 7. webvision: the image-file fixtures through DataLoader workers (ResNet-50 on the GPU)
  8. cifar10-sym50, fused without graphs, and 9. the same for DivideMix's schedule (GPU only, if the budget allows)

A training row trains `--warmup_epochs` warm-up epochs (the last one is timed), one priming SSL epoch whose SSL steps
stop after a few batches per network (untimed: the CUDA graphs are captured and checked against eager there, and
torch.compile would compile there), then one timed SSL epoch, then the pure model compute of that epoch's steps
(`cpc.bench._pure_ssl`, a sample of steps scaled to the epoch) and its FLOPs (torch's FlopCounterMode). The strong
augmentation's tables are built once, before any row. A row fails, with the reason, when either network's labeled set is
empty or its SSL steps did not run in the timed epoch; the script then exits 1 (the other rows still run). The graph
rows say whether the replay check passed or fell back to eager, and why; every row gives the achieved TFLOP/s of its SSL
steps against the measured matrix-product rate and the datasheet figure of the named device, and its peak memory.

  python bench/gpu_check.py [--fmnist DIR] [--out FILE] [--budget SECONDS]  # on a GPU: designed for 8 minutes on one H100
  python bench/gpu_check.py --smoke [--out FILE]                             # the same rows on the CPU (CI): ~90 s, one thread

`--out` ending in .csv gets CSV rows (header once), any other name JSON lines; rows are appended. `--budget` (default
480 s on a GPU, none with --smoke) starts a row only when the time spent plus the row's estimate (from the rows already
run) fits; a row left out is printed and written as 'skipped'. `--rows` picks rows by name, `--set FIELD=VALUE` changes
a TrainConfig field of every training row (e.g. --set warmup_epochs=3).

On the lent GPU machine (no fastcore, no Fashion-MNIST, no network): carry fastcore's wheel and the four Fashion-MNIST
.gz files in folders that git ignores. Here, once, in the repository root:
  echo /.whl/ >> .git/info/exclude; echo /.fmnist/ >> .git/info/exclude; mkdir -p .fmnist
  python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \\
      --platform manylinux_2_28_x86_64 -d .whl fastcore==1.14.5   # pure Python (108 kB), no runtime requirements
  cp /usr/share/datasets/fashion-mnist/*.gz .fmnist/               # `make fmnist` installs them (31 MB; the tree is ~5 MB)
then one device call, with carry [".whl", ".fmnist"] and timeout_s 600 (the package is imported from the repository root,
which the script puts on sys.path, and from PYTHONPATH in its child processes):
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \\
      && export PYTHONPATH=/tmp/site || exit; set -o pipefail; PYTHONUNBUFFERED=1 python3 bench/gpu_check.py \\
      --fmnist .fmnist --out $OUT/gpu_check.csv 2>&1 | tee $OUT/gpu_check.log
The rows come back in $OUT/gpu_check.csv even if the call is cut off; the closing table is the end of the output. torch,
torchvision, scikit-learn, scipy, matplotlib, seaborn and tqdm are on that machine already (KINDS.md lists its packages).
"""
from __future__ import annotations
import argparse, contextlib, csv, dataclasses, gc, json, logging, math, os, subprocess, sys, tempfile, time, traceback, warnings
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))  # the package from the repository root, installed or not
import numpy as np, torch
import torch.nn.functional as F

# Dense (no sparsity) bf16 tensor-core FLOP/s by device name, first match wins. NVIDIA's datasheets quote the rate with
# 2:4 sparsity; the dense rate is half of it: H100 SXM5 and H200 SXM 1,979 -> 989 TFLOP/s, H100 NVL and H200 NVL
# 1,671 -> 835, H100 PCIe 1,513 -> 756 (NVIDIA H100 Tensor Core GPU datasheet; NVIDIA H200 Tensor Core GPU datasheet);
# A100 312 dense (NVIDIA A100 datasheet). 'H100 80GB HBM3' is the SXM5 part (the PCIe card has HBM2e).
DATASHEET_BF16 = (('H200 NVL', 835e12), ('H200', 989e12), ('H100 NVL', 835e12), ('H100 PCIe', 756e12), ('H100', 989e12),
                  ('A100', 312e12))

@dataclasses.dataclass(frozen=True)
class Row:
    "One row of the check: a timed training row of a preset and variant, or a process check."
    name:str  # what --rows selects
    kind:str  # 'train' or 'process'
    preset:str = ''
    variant:str = ''
    gpu_only:bool = False

SMOKE = dict(model='small_cnn', batch_size=16, warmup_batch_size=32, eval_batch_size=256)  # the CPU twin: same steps, less compute
VARIANTS = {'fused + graphs': dict(fuse_views='on', cuda_graphs='on'), 'eager': dict(fuse_views='off', cuda_graphs='off'),
            'fused': dict(fuse_views='on', cuda_graphs='off')}
PAPER, DIVIDEMIX = 'cifar10-sym50', 'cifar10-sym50-dividemix'
ROWS = (Row('sym50-graphs', 'train', PAPER, 'fused + graphs'), Row('dividemix-graphs', 'train', DIVIDEMIX, 'fused + graphs'),
        Row('sym50-eager', 'train', PAPER, 'eager'), Row('dividemix-eager', 'train', DIVIDEMIX, 'eager'),
        Row('torchrun', 'process', DIVIDEMIX), Row('clothing1m', 'process', 'clothing1m'), Row('webvision', 'process', 'webvision'),
        Row('sym50-fused', 'train', PAPER, 'fused', gpu_only=True), Row('dividemix-fused', 'train', DIVIDEMIX, 'fused', gpu_only=True))

# Every field a record can have, in the CSV's column order (a JSON-lines record holds only its own).
COLUMNS = ('kind', 'row', 'name', 'preset', 'variant', 'ok', 'problem', 'device', 'data', 'images', 'model', 'batch_size',
           'cleaner', 'warmup_epochs', 'cpc_priming_passes', 'warmup_epoch_s', 'ssl_epoch_s', 'clean_s', 'ssl_s', 'test_s', 'ssl_steps_a',
           'ssl_steps_b', 'ms_per_step', 'pure_s', 'ssl_over_pure', 'ssl_tflops', 'share_of_measured', 'share_of_datasheet',
           'peak_mem_gib', 'labeled_a', 'labeled_b', 'graphs', 'test_acc', 'row_s', 'backend', 'world', 'exit_code',
           'last_line', 'estimate_s', 'elapsed_s', 'torch', 'matmul', 'matmul_tflops', 'datasheet_tflops', 'warmups',
           'budget_s', 'total_s', 'rows_ok', 'rows_failed', 'rows_skipped')

# ------------------------------------------------------------------------------------------------------------ the data
def synthetic_images(n:int, seed:int=0)->tuple:
    "uint8 images (n, 3, 32, 32) whose class is their colour (ten hues) under a random texture, and their labels."
    g = torch.Generator().manual_seed(seed)
    labels = torch.randperm(n, generator=g) % 10
    h = torch.arange(10) * 0.6  # hue x 6, ten hues 36 degrees apart, full saturation and value
    rgb = torch.stack([(h - 3).abs() - 1, 2 - (h - 2).abs(), 2 - (h - 4).abs()], 1).clamp(0, 1)
    base = 40 + 170 * rgb[labels][:, :, None, None]
    texture = torch.randint(-40, 41, (n, 3, 32, 32), generator=g)
    return (base + texture).clamp(0, 255).to(torch.uint8), labels

def cifar_data(root:Path, n_train:int, n_test:int, fmnist:str|None, synthetic:bool)->str:
    "Write a CIFAR-10-format copy of Fashion-MNIST (padded, grey in all three channels) or of synthetic images; say which."
    from cpc.data import load_fashion_mnist
    from cpc.fixtures import write_cifar_fixture
    try:
        if synthetic: raise FileNotFoundError
        tr, te = load_fashion_mnist(fmnist, train=True), load_fashion_mnist(fmnist, train=False)
        if n_train > len(tr) or n_test > len(te): raise ValueError(f"Fashion-MNIST has {len(tr)} / {len(te)} images")
        pad = lambda d, n: F.pad(d.images[:n], (2, 2, 2, 2)).expand(-1, 3, -1, -1)
        imgs, labels, what = torch.cat([pad(tr, n_train), pad(te, n_test)]), torch.cat([tr.labels[:n_train], te.labels[:n_test]]), 'Fashion-MNIST'
    except FileNotFoundError:  # DatasetLayoutError is one
        imgs, labels = synthetic_images(n_train + n_test)
        what = 'synthetic images (class = colour)' + ('' if synthetic else ', Fashion-MNIST not found')
    write_cifar_fixture(root, 'cifar10', n_train, n_test, images=imgs.numpy(), labels=labels.numpy())
    return f"{what}, {n_train:,} train / {n_test:,} test, 3x32x32"

# ------------------------------------------------------------------------------------------------ the device's own rate
def clock(device)->float:
    if torch.device(device).type == 'cuda': torch.cuda.synchronize()
    return time.perf_counter()

def matmul_rate(device:str, seconds:float=1.0)->tuple:
    "FLOP/s of one large matrix product repeated for about `seconds` on random data (bf16 8192-cube on CUDA; fp32 on the CPU, as its rows run), and what was run."
    cuda = device == 'cuda'
    n, dtype = (8192, torch.bfloat16) if cuda else (512, torch.float32)
    g = torch.Generator(device).manual_seed(0)
    a, b = (torch.randn(n, n, device=device, generator=g).to(dtype) for _ in range(2))
    c = torch.empty(n, n, device=device, dtype=dtype)
    for _ in range(3): torch.mm(a, b, out=c)  # cuBLAS handles, kernel choice
    t = clock(device); torch.mm(a, b, out=c); one = max(clock(device) - t, 1e-6)
    reps = max(3, int(seconds / one))
    if cuda:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps): torch.mm(a, b, out=c)
        end.record(); torch.cuda.synchronize()
        secs = start.elapsed_time(end) / 1e3
    else:
        t = clock(device)
        for _ in range(reps): torch.mm(a, b, out=c)
        secs = clock(device) - t
    if not torch.isfinite(c.float()).all(): raise RuntimeError("the matrix product gave non-finite values")
    return 2 * n ** 3 * reps / secs, f"{n}-cube {str(dtype).replace('torch.', '')} torch.mm x{reps} ({secs:.2f} s)"

def datasheet_rate(name:str)->float|None:
    "Dense bf16 FLOP/s of the device `name` from `DATASHEET_BF16`; None when it is not listed."
    return next((r for key, r in DATASHEET_BF16 if key.lower() in name.lower()), None)

def strong_aug_warmup(device:str, batch:int)->str:
    "Build the strong augmentation's tables (and the weak one's constants) before any clock starts; the op and host-sync counts of the first and a later call."
    from cpc.augment import strong_augment, weak_augment
    from cpc.data import NORM_STATS
    from cpc.steptools import OpCounter
    x = synthetic_images(batch, seed=1)[0].to(device)
    counts = []
    for _ in range(2):
        with OpCounter() as oc: strong_augment(x, *NORM_STATS['cifar10']); weak_augment(x, *NORM_STATS['cifar10'])
        counts.append(f"{oc.total:,} ops / {oc.n_syncs} host syncs")
    clock(device)
    return f"AutoAugment tables built before the clock (first call {counts[0]}; then {counts[1]})"

# ------------------------------------------------------------------------------------------------- one training row
def row_config(row:Row, smoke:bool, warmup_epochs:int, overrides:dict):
    "The TrainConfig of a training row: the preset with the row's variant, the warm-up, one priming and one timed SSL epoch."
    from cpc.cli import PRESETS, parse_value
    base = PRESETS[row.preset].config
    kw = dict(VARIANTS[row.variant])
    if smoke: kw.update(SMOKE, cuda_graphs='off')  # no CUDA graphs on the CPU
    kw |= {f: parse_value(f, v) for f, v in overrides.items()}
    W = kw.pop('warmup_epochs', warmup_epochs)
    # epochs = W + 2 keeps the prototype warm-up (round(0.05 * epochs)) at 0: the paper's cleaner splits in both SSL epochs
    return dataclasses.replace(base, warmup_epochs=W, epochs=W + 2, lr_drop=base.lr_drop_epoch, **kw)

PRIME_CPC_STEPS = {'cuda': 300, 'cpu': 100}  # CPC minibatch steps of the priming epoch (at least its cpc_epochs passes); 50,000 samples: 2 passes

class _Records(logging.Handler):
    "Keeps the trainer's log messages of one row (an empty labeled or unlabeled set, a skipped SSL step)."
    def __init__(self): super().__init__(logging.WARNING); self.messages = []
    def emit(self, record): self.messages.append(record.getMessage())

def _learned(bank)->list:
    "The learned cleaners of a `CleanerBank` that train in minibatch passes (the prototype cleaners: g, C and their optimiser)."
    return [c for c in bank.states.values() if hasattr(c, 'epochs') and hasattr(c, 'batch_size')]

def _graph_steps(t)->dict:
    "The run's GraphSteps by role: the SSL and warm-up steps of both networks, the CPC update steps of the cleaner banks."
    out = {'SSL': [], 'warm-up': [], 'CPC update': []}
    for (kind, _), gs in t.method._steps.items(): out['SSL' if kind == 'ssl' else 'warm-up'].append(gs)
    out['CPC update'] = [c._graph for b in t.method.banks for c in _learned(b) if getattr(c, '_graph', None) is not None]
    return out

def _graph_state(t)->dict:
    return {role: (sum(len(g.graphs) for g in gs), sum(g.replays for g in gs)) for role, gs in _graph_steps(t).items()}

def graph_report(t, before:dict, caught:list)->str:
    """Per role (SSL, warm-up, CPC update steps): whether the CUDA graphs passed their check against an eager step and how
    often they replayed, or that they fell back to eager and why (the warning `GraphStep` gave), or why none was captured."""
    if not t.rt.cuda_graphs: return 'off' if t.rt.device.type == 'cuda' else 'off (no CUDA graphs on the CPU)'
    after, parts = _graph_state(t), []
    for role, gs in _graph_steps(t).items():
        (g0, r0), (g1, r1) = before[role], after[role]
        fell = [g for g in gs if g.capture is None]
        if fell:
            why = [str(w.message) for w in caught if any(f"of the {g.name} " in str(w.message) for g in fell)]
            s = f"{role}: FELL BACK to eager ({len(fell)} of {len(gs)}): " + (' / '.join(dict.fromkeys(why)) or 'the replay differed from eager')
        elif g1 == 0: s = f"{role}: never captured (no steady-shape batch: " + ('a labeled or unlabeled set under one batch)' if role == 'SSL'
                                                                          else 'fewer samples than one full batch)')
        else: s = f"{role}: check passed, {g1} graph(s), {r1} replays ({r1 - r0} in the timed epoch)"
        if g1 > g0: s += f", {g1 - g0} captured inside the timed epoch (its time includes the capture)"
        parts.append(s)
    return '; '.join(parts)

def train_row(row:Row, data:Path, tmp:Path, device:str, a, rate:float, sheet:float|None)->dict:
    "Run one timed training row; its record (ok False with the reason when a network's labeled set is empty or its SSL steps did not run)."
    from cpc.bench import _pure_ssl, _pure_flop
    from cpc.train import Trainer
    cfg = row_config(row, a.smoke, a.warmup_epochs, a.overrides)
    W, B = cfg.warmup_epochs, cfg.batch_size
    rec = dict(kind='train', name=row.name, preset=row.preset, variant=row.variant, model=cfg.model, batch_size=B, warmup_epochs=W)
    if device == 'cuda': torch.cuda.reset_peak_memory_stats()
    t0 = clock(device)
    t = Trainer(cfg, data=data, out=tmp/row.name, device=device, verbose=False)
    spent, steps, limit, current = {}, {}, [None], [0]
    def timed(name):
        owner = t if name == 'evaluate' else t.method
        f = getattr(owner, name)
        def g(*args, **kw):
            if name == 'ssl_epoch': current[0] = args[1]
            s = clock(device); r = f(*args, **kw)
            spent.setdefault((name, len(t.history)), []).append(clock(device) - s)
            return r
        setattr(owner, name, g)
    for name in ('clean_step', 'ssl_epoch', 'evaluate'): timed(name)
    inputs = t.method.ssl_inputs
    def counted(*args):
        key = (len(t.history), current[0])
        for i, item in enumerate(inputs(*args)):
            if limit[0] is not None and i >= limit[0]: return
            steps[key] = steps.get(key, 0) + 1
            yield item
    t.method.ssl_inputs = counted
    log, caught = logging.getLogger('cpc.methods'), []
    handler = _Records(); log.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            for e in range(W): t.history.append(t.run_epoch(e))  # the first builds the warm-up step's graphs
            # priming: the SSL steps stop after a few batches per network (capture + eager check, then replays); the eval
            # pass runs in full, and the CPC cleaners train for PRIME_CPC_STEPS minibatches, as a real run's have by the
            # time its prototype warm-up ends (the timed epoch's update makes the preset's cpc_epochs passes again)
            limit[0], cpcs = 1 if a.smoke else 4, [c for b in t.method.banks for c in _learned(b)]
            for c in cpcs: c.epochs = max(cfg.cpc_epochs, math.ceil(PRIME_CPC_STEPS[device] / math.ceil(len(t.train) / c.batch_size)))
            rec['cpc_priming_passes'] = cpcs[0].epochs if cpcs else 0
            t.history.append(t.run_epoch(W)); limit[0] = None
            for c in cpcs: c.epochs = cfg.cpc_epochs
            before = _graph_state(t) if t.rt.cuda_graphs else {}
            n_before = len(handler.messages)
            t.history.append(t.run_epoch(W + 1))  # the timed epoch
            rec['peak_mem_gib'] = torch.cuda.max_memory_allocated() / 2**30 if device == 'cuda' else None
            n_steps = [steps.get((W + 1, k), 0) for k in range(2)]
            rec['graphs'] = graph_report(t, before, caught)
            cleaner, thr = t.method.active_cleaner(W + 1)
            last, E = t.history[-1], W + 1
            ssl = sum(spent.get(('ssl_epoch', E), [0.]))
            rec.update(cleaner=cleaner, warmup_epoch_s=t.history[W - 1]['seconds'] if W else math.nan, ssl_epoch_s=last['seconds'],
                       clean_s=sum(spent.get(('clean_step', E), [0.])), ssl_s=ssl, test_s=sum(spent.get(('evaluate', E), [0.])),
                       ssl_steps_a=n_steps[0], ssl_steps_b=n_steps[1], labeled_a=int(last['labeled_a']), labeled_b=int(last['labeled_b']),
                       test_acc=' '.join(f"{r['test_acc']:.3f}" for r in t.history))
            problems = []
            for k, ab in enumerate('ab'):
                if rec[f'labeled_{ab}'] == 0:
                    q = t.method.last_clean[1 - k]['q'][cleaner]
                    problems.append(f"network {ab.upper()}'s labeled set is empty: {cleaner} of network {'BA'[k]} kept 0 of "
                                    f"{len(q)} (largest clean probability {float(q.max()):.3g}, threshold {thr})")
                if n_steps[k] == 0: problems.append(f"network {ab.upper()}: no SSL step ran in the timed epoch")
            problems += [m for m in dict.fromkeys(handler.messages[n_before:]) if 'labeled set' in m]
            if problems: raise _NotTrained('; '.join(problems))
            # the pure model compute of the timed epoch's steps: a sample of steps per network (after two untimed), scaled
            cap, warm = (1, 0) if a.smoke else (40, 2)
            pure = 0.
            for k, n in enumerate(n_steps):
                if warm: _pure_ssl(t, k, warm)
                m = min(n, cap)
                pure += _pure_ssl(t, k, m) * n / m
            flop = _pure_flop(t) * sum(n_steps)
            tf = flop / ssl / 1e12
            rec.update(ms_per_step=1e3 * ssl / sum(n_steps), pure_s=pure, ssl_over_pure=ssl / pure, ssl_tflops=tf,
                       share_of_measured=tf * 1e12 / rate, share_of_datasheet=tf * 1e12 / sheet if sheet else None, ok=True, problem='')
    except _NotTrained as e: rec.update(ok=False, problem=f"did not train: {e}")
    finally: log.removeHandler(handler); t.release()
    rec['row_s'] = clock(device) - t0
    return rec

class _NotTrained(RuntimeError): "A timed row whose labeled set was empty or whose SSL steps did not run."

# -------------------------------------------------------------------------------------------------- the process checks
def torchrun_child(cli_args:list)->int:
    "Under torchrun: join the process group with NCCL on CUDA (gloo on the CPU), check one all-reduce, say which backend ran, then run `cpc.cli`."
    import torch.distributed as dist
    from cpc.cli import main as cli_main
    cuda = 'cuda' in cli_args[cli_args.index('--device') + 1]
    local = int(os.environ.get('LOCAL_RANK', '0'))
    if cuda: torch.cuda.set_device(local)
    dist.init_process_group('nccl' if cuda else 'gloo')
    x = torch.ones(1, device=f'cuda:{local}' if cuda else 'cpu')
    dist.all_reduce(x)
    if dist.get_rank() == 0:
        print(f"torchrun: backend {dist.get_backend()}, world {dist.get_world_size()}, all_reduce "
              f"{'ok' if int(x.item()) == dist.get_world_size() else 'WRONG'}", flush=True)
    return cli_main(cli_args)

def _metrics(out:Path)->list:
    m = out/'metrics.csv'
    if not m.is_file(): return []
    with open(m, newline='') as f: return list(csv.DictReader(f))

def _run_cli_here(args:list)->tuple:
    "`cpc.cli.main(args)` in this process, its output captured: (exit code, output lines)."
    import io
    from cpc.cli import main as cli_main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try: rc = cli_main(args)
        except SystemExit as e: rc = e.code if isinstance(e.code, int) else 2  # argparse refused an argument
        except Exception as e: rc = 1; print(f"{type(e).__name__}: {e}")
    return rc, buf.getvalue().splitlines()

def process_row(row:Row, data:Path, tmp:Path, device:str, a)->dict:
    """A process check: `cpc.cli` under torchrun in child processes (the backend they joined, reported by each child), or
    two epochs of an image-file fixture through the DataLoader path (in this process). Exit code, seconds, labeled sets
    and test accuracy of its epochs; ok False when it failed or did not train."""
    from cpc.fixtures import write_clothing1m_fixture, write_webvision_fixture
    out, W = tmp/row.name, int(a.overrides.get('warmup_epochs', a.warmup_epochs))
    t0 = time.perf_counter()
    if row.name == 'torchrun':
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in [str(ROOT), os.environ.get('PYTHONPATH', '')] if p))
        n = max(torch.cuda.device_count(), 1) if device == 'cuda' else 1  # one process per GPU; one on the CPU, as on a one-GPU machine
        if device == 'cpu': env.setdefault('OMP_NUM_THREADS', str(torch.get_num_threads()))
        twin = [x for f, v in SMOKE.items() for x in (f'--{f}', str(v))] if a.smoke else []
        args = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(n), str(Path(__file__).resolve()),
                '--torchrun-child', '--preset', row.preset, '--data', str(data), '--out', str(out), '--device', device,
                '--epochs', str(W + 1), '--warmup_epochs', str(W), *twin, *(f'--{f}={v}' for f, v in a.overrides.items() if f != 'warmup_epochs')]
        # a hung process group (NCCL waiting for a peer) must not eat the loan: the whole group is killed at the limit
        limit = max(120., a.budget - (time.perf_counter() - a.t_start)) if a.budget else 1800.
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp, start_new_session=True)
        try: stdout, stderr = p.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9); stdout, stderr = p.communicate()
            stderr += f"\ncpc_train: killed after {limit:.0f} s (the budget's end)"
        rc, text = p.returncode, (stdout + '\n' + stderr).splitlines()
    else:
        root = (write_clothing1m_fixture if row.name == 'clothing1m' else write_webvision_fixture)(tmp/f'{row.name}-data')
        # random fixture images: the GMM split drives training (proto_warmup=1), so that the SSL step runs on the DataLoader's views
        rc, text = _run_cli_here(['--preset', row.name, '--data', str(root), '--out', str(out), '--device', device, '--epochs', '2',
                                  '--warmup_epochs', '1', '--proto_warmup', '1', '--num_batches', '2', '--batch_size', '2' if a.smoke else '8',
                                  '--eval_batch_size', '16', '--num_workers', '0' if a.smoke else '4', '--pretrained', 'False',
                                  '--model', 'small_cnn' if a.smoke else 'resnet50'])
    secs = time.perf_counter() - t0
    last = next((l for l in reversed(text) if l.startswith(('done:', 'cpc_train:'))), text[-1] if text else '')
    back = next((l for l in text if l.startswith('torchrun: backend')), '')
    hist = _metrics(out)
    rec = dict(kind='process', name=row.name, preset=row.preset, exit_code=rc, row_s=secs, last_line=last.strip()[:300],
               model='small_cnn' if a.smoke else ('preact_resnet18' if row.name == 'torchrun' else 'resnet50'),
               test_acc=' '.join(f"{float(r['test_acc']):.3f}" for r in hist))
    if back: rec.update(backend=back.split()[2].rstrip(','), world=int(back.split()[4].rstrip(',')))
    problems = [] if rc == 0 else [f"exit code {rc}: {last.strip()[:300]}"]
    if row.name == 'torchrun':
        want = 'nccl' if device == 'cuda' else 'gloo'
        if rec.get('backend') != want or 'all_reduce ok' not in back: problems.append(f"expected backend {want} and a correct all_reduce, got {back or 'no report'}")
    if hist:
        rec.update(labeled_a=int(hist[-1]['labeled_a']), labeled_b=int(hist[-1]['labeled_b']))
        if rec['labeled_a'] == 0 or rec['labeled_b'] == 0: problems.append(f"empty labeled set (labeled {rec['labeled_a']}/{rec['labeled_b']})")
    elif rc == 0: problems.append("no metrics.csv")
    skipped = [l.strip() for l in text if 'SSL step is skipped' in l]
    if skipped: problems.append('; '.join(dict.fromkeys(skipped)))
    if rc != 0: print('\n'.join(text[-30:]), file=sys.stderr)
    rec.update(ok=not problems, problem='; '.join(problems))
    return rec

# --------------------------------------------------------------------------------------------------- budget and output
PROCESS_PRIOR_S = {'cuda': 60., 'cpu': 20.}  # a fixture check's seconds before any has run (resnet50 build, workers)

def estimate(row:Row, done:list, device:str)->float|None:
    "Seconds `row` should take, from the rows already run: the slowest earlier row of its preset (a fixture check: the slowest earlier check); None before any row."
    runs = [r for r in done if r.get('row_s') is not None]
    if row.kind == 'train':
        same = [r['row_s'] for r in runs if r['kind'] == 'train' and r['preset'] == row.preset]
        other = [r['row_s'] for r in runs if r['kind'] == 'train']
        return max(same or other) if (same or other) else None
    if row.name == 'torchrun':  # its preset's warm-up epochs and one SSL epoch, plus starting the processes
        same = [r for r in runs if r['kind'] == 'train' and r['preset'] == row.preset]
        if same: return max(r['row_s'] for r in same) + PROCESS_PRIOR_S[device] / 2
        return max((r['row_s'] for r in runs), default=None)
    checks = [r['row_s'] for r in runs if r['kind'] == 'process' and r['name'] != 'torchrun']
    return max(checks) if checks else PROCESS_PRIOR_S[device]

def fits(elapsed:float, est:float|None, budget:float|None)->bool:
    "Whether a row estimated at `est` seconds may start after `elapsed` seconds within `budget` (no budget or no estimate: yes)."
    return budget is None or est is None or elapsed + est <= budget

class Writer:
    "Appends records to `path` as they come, each flushed to disk: CSV (header once) for a .csv name, else JSON lines."
    def __init__(self, path):
        self.path = Path(path) if path else None
        if self.path: self.path.parent.mkdir(parents=True, exist_ok=True)
    def write(self, rec:dict):
        if self.path is None: return
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()}
        with open(self.path, 'a', newline='') as f:
            if self.path.suffix == '.csv':
                w = csv.DictWriter(f, COLUMNS)
                if f.tell() == 0: w.writeheader()
                w.writerow({k: '' if clean.get(k) is None else clean[k] for k in COLUMNS})
            else: f.write(json.dumps({k: v for k, v in clean.items() if k in COLUMNS}) + '\n')
            f.flush(); os.fsync(f.fileno())

TRAIN_HEAD = ("| # | preset | variant | cleaner | warm-up epoch (s) | SSL epoch (s) | eval + cleaners (s) | SSL steps A/B | SSL (s) "
              "| ms / step | pure (s) | SSL / pure | SSL TFLOP/s | of measured | of datasheet | peak GiB | labeled A/B | graphs "
              "| test acc per epoch | row (s) | ok |\n" + '|---' * 21 + '|')
PROCESS_HEAD = "| # | check | backend (world) | exit code | seconds | labeled A/B | test acc | last line | ok |\n" + '|---' * 9 + '|'

def _f(v, fmt:str)->str:
    return '-' if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)

def format_row(r:dict)->str:
    ok = 'yes' if r.get('ok') else 'skipped' if r['kind'] == 'skipped' else f"**NO**: {r.get('problem', '')}"
    if r['kind'] == 'skipped': return f"| {r['row']} | {r['name']} | skipped: {r['problem']} |"
    if r['kind'] == 'process':
        back = f"{r['backend']} ({r['world']})" if r.get('backend') else '-'
        lab = f"{r['labeled_a']}/{r['labeled_b']}" if r.get('labeled_a') is not None else '-'
        return (f"| {r['row']} | {r['name']} | {back} | {r.get('exit_code', '-')} | {_f(r.get('row_s'), '.0f')} | {lab} "
                f"| {r.get('test_acc') or '-'} | {r.get('last_line', '')[:110]} | {ok} |")
    if 'labeled_a' not in r:  # it broke before the timed epoch
        return f"| {r['row']} | {r['preset']} | {r['variant']} |" + ' - |' * 17 + f" {_f(r.get('row_s'), '.0f')} | {ok} |"
    return (f"| {r['row']} | {r['preset']} | {r['variant']} | {r['cleaner']} | {_f(r['warmup_epoch_s'], '.2f')} | {r['ssl_epoch_s']:.2f} "
            f"| {r['clean_s']:.2f} | {r['ssl_steps_a']}/{r['ssl_steps_b']} | {r['ssl_s']:.2f} | {_f(r.get('ms_per_step'), '.1f')} "
            f"| {_f(r.get('pure_s'), '.2f')} | {_f(r.get('ssl_over_pure'), '.2f')} | {_f(r.get('ssl_tflops'), '.3g')} "
            f"| {_f(r.get('share_of_measured'), '.1%')} | {_f(r.get('share_of_datasheet'), '.1%')} | {_f(r.get('peak_mem_gib'), '.2f')} "
            f"| {r['labeled_a']}/{r['labeled_b']} | {r['graphs']} | {r['test_acc']} | {r['row_s']:.0f} | {ok} |")

# ---------------------------------------------------------------------------------------------------------------- main
def parse_args(argv:list):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--smoke', action='store_true', help='the CPU version (CI): small_cnn, batch 16, on 128 synthetic images; the same rows')
    ap.add_argument('--fmnist', default=None, help='folder with the Fashion-MNIST .gz files (default: the system copy)')
    ap.add_argument('--synthetic', action='store_true', help='synthetic images even where Fashion-MNIST is found (the default with --smoke)')
    ap.add_argument('--images', type=int, default=None, help='training images (default: 50,000; 128 with --smoke)')
    ap.add_argument('--warmup_epochs', type=int, default=None, help='warm-up epochs of every training row (default: 2)')
    ap.add_argument('--out', default=None, help='append every record to this file as it comes (.csv: CSV; otherwise JSON lines)')
    ap.add_argument('--budget', type=float, default=None, help='seconds: start a row only if it should end by then (default: 480 on a GPU, none with --smoke)')
    ap.add_argument('--rows', default=None, help=f"comma-separated row names, in the script's order: {', '.join(r.name for r in ROWS)}")
    ap.add_argument('--set', action='append', default=[], metavar='FIELD=VALUE', help='change a TrainConfig field of every training row (repeatable)')
    a = ap.parse_args(argv)
    try: a.overrides = dict(s.split('=', 1) for s in a.set)
    except ValueError: ap.error(f"--set expects FIELD=VALUE, got {a.set}")
    from cpc.cli import parse_value
    try:
        for f, v in a.overrides.items(): parse_value(f, v)
    except ValueError as e: ap.error(f"--set: {e}")
    fixed = sorted(set(a.overrides) & {'epochs', 'lr_drop'})
    if fixed: ap.error(f"--set {', '.join(fixed)}: the rows set these themselves (warm-up epochs + a priming and a timed SSL epoch)")
    if a.rows is not None:
        names = a.rows.split(',')
        unknown = [n for n in names if n not in {r.name for r in ROWS}]
        if unknown: ap.error(f"--rows: unknown {unknown}; expected names from {[r.name for r in ROWS]}")
    if a.warmup_epochs is None: a.warmup_epochs = 2
    if a.warmup_epochs < 1: ap.error("--warmup_epochs must be >= 1 (the split needs a trained network)")
    if a.budget is None and not a.smoke: a.budget = 480.
    return a

def main(argv:list|None=None)->int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ['--torchrun-child']: return torchrun_child(argv[1:])
    a = parse_args(argv)
    device = 'cpu' if a.smoke else 'cuda'
    if device == 'cuda' and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run with --smoke for the CPU version", file=sys.stderr); return 2
    # one thread on the CPU unless OMP_NUM_THREADS says otherwise: these small convolutions gain little from a second
    # thread, and on a busy machine two threads that wait for each other ran them 4x slower
    if a.smoke: torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    t_start = a.t_start = time.perf_counter()
    n_train, n_test = a.images or (128 if a.smoke else 50_000), 64 if a.smoke else 10_000
    name = torch.cuda.get_device_name() if device == 'cuda' else 'CPU'
    rows = [r for r in ROWS if not (r.gpu_only and device == 'cpu')]
    if a.rows is not None: rows = [r for r in rows if r.name in a.rows.split(',')]
    writer, done = Writer(a.out), []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        what = cifar_data(tmp/'cifar', n_train, n_test, a.fmnist, a.synthetic or (a.smoke and a.fmnist is None))
        try: rate, how = matmul_rate(device, 0.5 if a.smoke else 1.0)
        except Exception as e: rate, how = math.nan, f"the matrix product failed: {type(e).__name__}: {e}"  # the rows still run
        sheet = datasheet_rate(name) if device == 'cuda' else None
        try: aug = strong_aug_warmup(device, 128)
        except Exception as e: aug = f"building the AutoAugment tables failed ({type(e).__name__}: {e}); the first strong-view row pays for them"
        warm = '; '.join([aug,
                          "CUDA graphs captured and checked in each row's untimed first warm-up epoch and untimed priming SSL epoch"
                          if device == 'cuda' else "no CUDA graphs on the CPU",
                          "torch.compile off in these rows (it would compile in the same untimed epochs)"])
        head = dict(kind='device', device=name, torch=torch.__version__, data=what, images=n_train, matmul=how,
                    matmul_tflops=rate / 1e12, datasheet_tflops=sheet / 1e12 if sheet else None, warmups=warm, budget_s=a.budget)
        writer.write(head)
        print(f"gpu_check on {name}, torch {torch.__version__}: {what}\n"
              f"measured {rate / 1e12:.4g} TFLOP/s ({how}); datasheet dense bf16: "
              f"{f'{sheet / 1e12:.0f} TFLOP/s' if sheet else 'not listed for this device'}\n"
              f"warm-ups: {warm}\nbudget: {f'{a.budget:.0f} s' if a.budget else 'none'}\n", flush=True)
        last_kind = None
        for i, row in enumerate(rows, 1):
            elapsed, est = time.perf_counter() - t_start, estimate(row, done, device)
            if not fits(elapsed, est, a.budget):
                rec = dict(kind='skipped', row=i, name=row.name, preset=row.preset, variant=row.variant, estimate_s=est, elapsed_s=elapsed,
                           problem=f"{elapsed:.0f} s spent + about {est:.0f} s for this row > budget {a.budget:.0f} s")
            else:
                try:
                    rec = (train_row(row, tmp/'cifar', tmp, device, a, rate, sheet) if row.kind == 'train'
                           else process_row(row, tmp/'cifar', tmp, device, a))
                except Exception as e:  # a broken row is reported; the next rows still run
                    traceback.print_exc()
                    rec = dict(kind=row.kind, name=row.name, preset=row.preset, variant=row.variant, ok=False,
                               problem=f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}")
                rec.update(row=i, estimate_s=est, elapsed_s=elapsed, device=name, data=what, images=n_train)
                rec.setdefault('row_s', time.perf_counter() - t_start - elapsed)
            done.append(rec); writer.write(rec)
            gc.collect()  # the row's trainer (its wrapped methods refer to it) and graphs, before the next row's peak memory
            if device == 'cuda': torch.cuda.empty_cache()
            kind = 'process' if rec['kind'] == 'process' else 'train'
            if kind != last_kind: print('\n' + (PROCESS_HEAD if kind == 'process' else TRAIN_HEAD)); last_kind = kind
            print(format_row(rec), flush=True)
    failed = [r for r in done if r['kind'] != 'skipped' and not r.get('ok')]
    skipped = [r for r in done if r['kind'] == 'skipped']
    total = time.perf_counter() - t_start
    writer.write(dict(kind='summary', device=name, total_s=total, rows_ok=len(done) - len(failed) - len(skipped),
                      rows_failed=len(failed), rows_skipped=len(skipped)))
    trains, procs = [r for r in done if r['kind'] == 'train'], [r for r in done if r['kind'] == 'process']
    print(f"\n## gpu_check on {name}: {what}; measured {rate / 1e12:.4g} TFLOP/s ({how})"
          + (f", datasheet {sheet / 1e12:.0f}" if sheet else '') + f"\n\n{TRAIN_HEAD}\n" + '\n'.join(map(format_row, trains))
          + f"\n\n{PROCESS_HEAD}\n" + '\n'.join(map(format_row, procs))
          + (f"\n\nskipped (budget {a.budget:.0f} s): " + ', '.join(r['name'] for r in skipped) if skipped else '')
          + f"\n\ntotal {total:.0f} s; {len(done) - len(failed) - len(skipped)} rows ok, {len(failed)} failed, {len(skipped)} skipped")
    for r in failed: print(f"gpu_check: row {r['row']} ({r['name']}) FAILED: {r['problem']}", file=sys.stderr)
    for r in done:
        if 'FELL BACK' in (r.get('graphs') or ''): print(f"gpu_check: row {r['row']} ({r['name']}): CUDA graphs fell back to eager: {r['graphs']}", file=sys.stderr)
    return 1 if failed else 0

if __name__ == '__main__': sys.exit(main())
