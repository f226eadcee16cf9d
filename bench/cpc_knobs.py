"""CPC's open knobs, re-chosen on real features: replay the eval passes of a noisy Fashion-MNIST run.

`cache` trains one CPU-track run driven by DivideMix's cleaner (gmm_agn), so the CPC knobs cannot change what the
networks see, and keeps every eval pass (indices, losses, softmax, backbone features) with the given labels and the
true clean mask. `sweep` replays those cached epochs through fresh `CleanerBank`s, one knob changed at a time from a base
(the current `PrototypeCleaner` defaults: dot product, rescaled features, d and passes from the preset), and prints a CSV row per (knob setting, cached run): mean AUC, precision and recall of cpc_agn and cpc_awr
over the SSL epochs and both networks, beside the GMMs' (which the knobs do not touch).

  python bench/cpc_knobs.py cache runs/knobs/sym50-seed0 fmnist-sym50 0
  python bench/cpc_knobs.py cache runs/knobs/sym50-seed1 fmnist-sym50 1
  python bench/cpc_knobs.py sweep runs/knobs/sym50-seed0 runs/knobs/sym50-seed1 > nbs/benchmarks/results/cpc_knobs.csv
"""
import csv, sys
from dataclasses import asdict, replace
from pathlib import Path
import numpy as np, torch
from cpc.cleaner import CleanerBank, CLEANERS
from cpc.cli import PRESETS
from cpc.diagnostics import cleaner_metrics
from cpc.train import Trainer, TrainConfig

def cache(out, preset, seed):
    "Train `preset` with gmm_agn driving and keep every eval pass in out/evals.pt."
    cfg = replace(PRESETS[preset].config, cleaner='gmm_agn', seed=int(seed))
    t, evals, now = Trainer(cfg, out=Path(out), device='cpu', overwrite=True), [], {}
    eval_pass, clean_step = t.method.eval_pass, t.method.clean_step
    def keep(k, idx=None):
        ev = eval_pass(k, idx)
        evals.append(dict(epoch=now['epoch'], k=k, **{n: v.cpu() for n, v in ev.items()}))
        return ev
    def step(epoch):
        now['epoch'] = epoch
        return clean_step(epoch)
    t.method.eval_pass, t.method.clean_step = keep, step
    t.fit()
    torch.save(dict(cfg=asdict(cfg), labels=t.train.labels.cpu(), clean=t.clean_mask.cpu(), evals=evals), Path(out)/'evals.pt')

# one knob at a time from the base: the current PrototypeCleaner defaults (d=128, hidden 256, dot product, features
# rescaled by their RMS, mean init, alpha_p 1, the network's lr) with the cached preset's cpc_epochs (5 for fmnist-sym50).
BASE = dict(normalize=False, rescale=True)
KNOBS = {'base (defaults)': {}, 'rescale=False': dict(rescale=False), 'dim=32': dict(dim=32), 'dim=512': dict(dim=512),
         'hidden=None (linear g)': dict(hidden=None), 'hidden=1024': dict(hidden=1024),
         'cosine x5': dict(normalize=True, scale=5.), 'cosine x10': dict(normalize=True, scale=10.),
         'cosine x20': dict(normalize=True, scale=20.),
         'init=random': dict(init='random'), 'alpha_p=0': dict(alpha_p=0.), 'alpha_p=0.5': dict(alpha_p=.5),
         'alpha_p=2': dict(alpha_p=2.), 'passes=3': dict(epochs=3), 'passes=10': dict(epochs=10),
         'lr x0.1': dict(lr_mult=.1), 'lr x5': dict(lr_mult=5.)}

def replay(path, lr_mult=1., **knobs)->dict:
    "Mean metrics of every cleaner when fresh banks with `knobs` see the cached eval passes in their order."
    z = torch.load(Path(path)/'evals.pt', weights_only=False)
    cfg = TrainConfig(**z['cfg'])
    kw = dict(dim=cfg.cpc_dim, epochs=cfg.cpc_epochs, alpha_p=cfg.alpha_p, momentum=cfg.momentum,
              weight_decay=cfg.weight_decay) | BASE | knobs
    feat_dim = z['evals'][0]['features'].shape[1]
    banks = [CleanerBank(10, feat_dim, p_threshold=cfg.p_threshold, seed=cfg.seed + 2 * k, **kw) for k in range(2)]
    thr, rows = {c: getattr(cfg, CLEANERS[c].threshold) for c in CLEANERS}, []
    for ev in z['evals']:
        idx = ev['idx']
        q = banks[ev['k']].step(ev['losses'], z['labels'][idx], ev['probs'], ev['features'], lr=cfg.lr_at(ev['epoch']) * lr_mult)
        rows.append({f'{m}_{c}': v for c in CLEANERS for m, v in cleaner_metrics(q[c], z['clean'][idx], thr[c]).items()})
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}

def sweep(*paths, only=None):
    "Print the CSV: a row per knob setting (all of KNOBS, or the names in `only`) and cached run."
    w = None
    for name, knobs in KNOBS.items():
        if only and name not in only: continue
        for p in paths:
            row = dict(knob=name, run=Path(p).name, **{k: round(v, 4) for k, v in replay(p, **knobs).items()})
            if w is None: w = csv.DictWriter(sys.stdout, list(row)); w.writeheader()
            w.writerow(row); sys.stdout.flush()

if __name__ == '__main__':
    torch.set_num_threads(1)
    a = sys.argv[1:]
    if a[:1] == ['cache'] and len(a) == 4: cache(*a[1:])
    elif a[:1] == ['sweep'] and len(a) > 1: sweep(*a[1:])
    else: raise SystemExit(__doc__)
