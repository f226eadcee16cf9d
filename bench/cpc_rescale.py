"""What CPC's feature rescaling (`PrototypeCleaner(rescale=True)`, `TrainConfig.cpc_rescale`) does to real training.

Trains the CPU track's fmnist-sym50 preset (CPC_awr driving) with the features rescaled inside the prototype cleaners
and with the raw features, for each seed, and writes one row per run: last-epoch test accuracy and the mean AUC of
both CPC cleaners over the SSL epochs (both networks). About 2.5 minutes a run on 2 cores.

  python bench/cpc_rescale.py runs/rescale nbs/benchmarks/results/cpc_rescale.csv 0 1 2
"""
import csv, sys
from dataclasses import replace
from pathlib import Path
import numpy as np
from cpc.bench import write_csv
from cpc.cli import PRESETS
from cpc.train import Trainer

def run(root:Path, seed:int, rescale:bool)->dict:
    "Train fmnist-sym50 with this seed and rescaling; its last test accuracy and the CPCs' mean AUC."
    cfg = replace(PRESETS['fmnist-sym50'].config, seed=seed, cpc_rescale=rescale)
    out = root/f"seed{seed}-{'rescaled' if rescale else 'raw'}"
    Trainer(cfg, out=out, device='cpu', overwrite=True, verbose=False).fit()
    rows = [r for r in csv.DictReader(open(out/'metrics.csv')) if r['auc_cpc_awr'] not in ('', 'nan')]
    auc = lambda c: float(np.mean([float(r[f'auc_{c}']) for r in rows]))
    last = list(csv.DictReader(open(out/'metrics.csv')))[-1]
    return dict(seed=seed, features='rescaled' if rescale else 'raw', last_acc=float(last['test_acc']),
                auc_cpc_agn=auc('cpc_agn'), auc_cpc_awr=auc('cpc_awr'))

if __name__ == '__main__':
    root, dest, seeds = Path(sys.argv[1]), Path(sys.argv[2]), [int(s) for s in sys.argv[3:]]
    rows = []
    for s in seeds:
        for rescale in (False, True):
            rows.append(run(root, s, rescale)); print(rows[-1], flush=True)
    write_csv(rows, dest)
