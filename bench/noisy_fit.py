"""How a finished run's networks treat the wrong labels of their training set (`cpc.diagnostics.noisy_fit`).
Usage: python bench/noisy_fit.py RUN_DIR [--data PATH]    (reads RUN_DIR/checkpoint.pt and its noise file; writes nothing)
"""
import argparse, torch
from cpc.train import TrainConfig, Trainer
from cpc.diagnostics import noisy_fit

def main(run, data=None):
    cfg = TrainConfig(**torch.load(f'{run}/checkpoint.pt', weights_only=True, map_location='cpu')['config'])
    tr = Trainer(cfg, data=data, out=run, device='cpu', resume=True, verbose=False)
    if tr.true_labels is None: raise SystemExit(f"{run}: real noise, the true labels are unknown")
    for k in range(2):
        r = noisy_fit(tr.method.eval_pass(k)['probs'].argmax(1), tr.train.labels, tr.true_labels)
        print(f"{run} network {'AB'[k]}: of {r['n_noisy']} mislabelled samples {r['memorised']:.3f} memorised, "
              f"{r['corrected']:.3f} predicted as their true class; {r['clean_fit']:.3f} of the others right")
    tr.release()

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('run'); ap.add_argument('--data')
    main(**vars(ap.parse_args()))
