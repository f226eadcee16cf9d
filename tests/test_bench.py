"The benchmark grid runner: a killed grid resumes where it stopped and ends where an unbroken one ends."
import csv
from dataclasses import replace
import pytest
from cpc.bench import run_seeds, grid_rows, summarise
from cpc.train import TrainConfig, Trainer, epochs_done

CFG = TrainConfig(dataset='fashion_mnist', model='small_cnn', noise_mode='sym', noise_rate=0.5, epochs=3, warmup_epochs=1,
                  batch_size=16, eval_batch_size=64, cleaner='cpc_agn')

def metrics(out): return list(csv.DictReader(open(out/'metrics.csv')))

def test_a_killed_grid_resumes_and_matches_an_unbroken_one(fmnist_dir, tmp_path, monkeypatch):
    grid = {'cpc': CFG, 'ce': replace(CFG, warmup_epochs=3)}
    full = run_seeds(grid, [0, 1], tmp_path/'full', data=fmnist_dir, device='cpu')
    run_epoch, calls = Trainer.run_epoch, []
    def killed(self, epoch):
        if epoch == 2 and self.cfg.seed == 1: raise KeyboardInterrupt  # during the second seed's last epoch
        calls.append(epoch); return run_epoch(self, epoch)
    monkeypatch.setattr(Trainer, 'run_epoch', killed)
    with pytest.raises(KeyboardInterrupt): run_seeds(grid, [0, 1], tmp_path/'grid', data=fmnist_dir, device='cpu')
    assert [epochs_done(tmp_path/'grid'/'cpc'/s) for s in ('seed0', 'seed1')] == [3, 2]
    monkeypatch.setattr(Trainer, 'run_epoch', run_epoch)
    outs = run_seeds(grid, [0, 1], tmp_path/'grid', data=fmnist_dir, device='cpu')
    for a, b in zip(full, outs):
        assert [r['test_acc'] for r in metrics(a)] == [r['test_acc'] for r in metrics(b)], b
    rows = grid_rows(grid, [0, 1], tmp_path/'grid')
    assert [(r['cleaner'], r['seed'], r['epochs']) for r in rows] == [('cpc_agn', 0, 3), ('cpc_agn', 1, 3), ('ce', 0, 3), ('ce', 1, 3)]
    assert [g['seeds'] for g in summarise(rows)] == [2, 2]

def test_a_new_seed_is_added_without_rerunning_the_old(fmnist_dir, tmp_path):
    grid = {'ce': replace(CFG, warmup_epochs=1, epochs=1)}
    (old,) = run_seeds(grid, [0], tmp_path, data=fmnist_dir, device='cpu')
    stamp = (old/'metrics.csv').stat().st_mtime_ns
    outs = run_seeds(grid, [0, 1], tmp_path, data=fmnist_dir, device='cpu')
    assert (old/'metrics.csv').stat().st_mtime_ns == stamp and epochs_done(outs[1]) == 1
