"Trainer behaviour across modules: a real kill and resume, degenerate splits, non-finite losses."
import csv, logging, math, os, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch
from cpc.train import TrainConfig, Trainer, TrainingError
from cpc.data import FMNIST_SYSTEM_DIR

SMALL = dict(dataset='fashion_mnist', model='small_cnn', noise_mode='sym', noise_rate=0.5, warmup_epochs=1,
             batch_size=16, eval_batch_size=64, cleaner='cpc_awr', proto_warmup=0.2)

def rows(out:Path)->list:
    "metrics.csv without the wall-clock column."
    with open(out/'metrics.csv') as f: return [{k: v for k, v in r.items() if k != 'seconds'} for r in csv.DictReader(f)]

@pytest.mark.parametrize('method', ['dividemix', 'select'])
def test_sigkill_then_resume_matches_uninterrupted(method, fmnist_dir, tmp_path):
    "Every training method checkpoints all it needs: a run killed mid-way and resumed ends with the uninterrupted run's metrics."
    epochs, kw = 6, SMALL | dict(method=method)
    Trainer(TrainConfig(epochs=epochs, **kw), data=fmnist_dir, out=tmp_path/'full', device='cpu', verbose=False).fit()
    cmd = [sys.executable, '-m', 'cpc.cli', '--data', str(fmnist_dir), '--out', str(tmp_path/'killed'), '--device', 'cpu',
           '--epochs', str(epochs)] + [a for k, v in kw.items() for a in (f'--{k}', str(v))]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics, t0 = tmp_path/'killed'/'metrics.csv', time.time()
    while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 3):  # header + 2 finished epochs
        assert p.poll() is None and time.time() - t0 < 300, "the run ended before it could be killed"
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    done = len(rows(tmp_path/'killed'))
    assert 2 <= done < epochs, done
    tr = Trainer(TrainConfig(epochs=epochs, **kw), data=fmnist_dir, out=tmp_path/'killed', device='cpu', resume=True,
                 verbose=False)
    assert tr.start_epoch == done and len(tr.method.nets) == (2 if method == 'dividemix' else 1)
    tr.fit()
    full = rows(tmp_path/'full')
    assert rows(tmp_path/'killed') == full
    assert all((r['labeled_b'] == 'nan') == (method == 'select') for r in full)  # one network: no network B

@pytest.fixture
def trainer(fmnist_dir, tmp_path):
    "A trainer past its warm-up epoch."
    tr = Trainer(TrainConfig(epochs=3, **SMALL), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False)
    tr.history.append(tr.run_epoch(0)); tr.save()
    return tr

def test_empty_labeled_set_is_skipped_and_logged(trainer, caplog):
    n = len(trainer.train)
    with caplog.at_level(logging.WARNING, 'cpc.methods'):
        loss = trainer.method.ssl_epoch(1, 0, torch.zeros(n), torch.zeros(n, dtype=torch.bool))
    assert loss == 0 and 'empty labeled set' in caplog.text

def test_empty_unlabeled_set_trains_on_labeled_only(trainer, caplog):
    n = len(trainer.train)
    before = [p.clone() for p in trainer.method.nets[0].parameters()]
    with caplog.at_level(logging.WARNING, 'cpc.methods'):
        loss = trainer.method.ssl_epoch(1, 0, torch.ones(n), torch.ones(n, dtype=torch.bool))
    assert torch.isfinite(loss) and 'empty unlabeled set' in caplog.text
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.method.nets[0].parameters()))

def test_class_with_one_sample(trainer, caplog):
    y = trainer.train.labels
    y[(y == 9).nonzero().flatten()[1:]] = 0  # class 9 keeps a single sample
    with caplog.at_level(logging.WARNING):
        row = trainer.run_epoch(1)
    assert 0 <= row['auc_gmm_awr'] <= 1 and 'class-agnostic' in caplog.text

def test_nan_eval_loss_names_epoch_and_checkpoint(trainer):
    with torch.no_grad(): trainer.method.nets[1].head.weight.fill_(float('nan'))
    with pytest.raises(TrainingError, match=r"eval-pass loss of network B at epoch 1; last good checkpoint: .*checkpoint.pt"):
        trainer.run_epoch(1)

def test_nan_training_loss_before_any_checkpoint(fmnist_dir, tmp_path):
    tr = Trainer(TrainConfig(epochs=2, **SMALL), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False)
    with torch.no_grad(): tr.method.nets[0].head.bias.fill_(float('nan'))
    with pytest.raises(TrainingError, match="training loss at epoch 0; last good checkpoint: none"): tr.fit()

def test_checkpoint_loads_with_weights_only(trainer):
    sd = torch.load(trainer.ckpt, weights_only=True)
    assert sd['config'] == dict(TrainConfig(epochs=3, **SMALL).__dict__) and len(sd['history']) == 1

@pytest.mark.parametrize('dataset', ['clothing1m', 'webvision'])
def test_image_file_datasets_train_through_dataloader(dataset, clothing1m_dir, webvision_dir, tmp_path):
    "The DataLoader path (real-noise data sets, no clean mask): two epochs on the fixtures, AugDMix views."
    root = {'clothing1m': clothing1m_dir, 'webvision': webvision_dir}[dataset]
    cfg = TrainConfig(dataset=dataset, noise_mode='real', noise_rate=0., model='small_cnn', epochs=2, warmup_epochs=1,
                      batch_size=8, eval_batch_size=16, num_workers=0, cleaner='cpc_agn', strong_aug=True, num_batches=2)
    rows = Trainer(cfg, data=root, out=tmp_path, device='cpu', verbose=False).fit()
    assert [r['epoch'] for r in rows] == [0, 1] and 0 <= rows[-1]['test_acc'] <= 1
    assert rows[-1]['labeled_a'] + rows[-1]['labeled_b'] > 0
    assert all(r['auc_cpc_agn'] != r['auc_cpc_agn'] for r in rows)  # NaN: real noise has no known clean mask

def test_real_noise_mode_is_required_for_image_file_datasets(clothing1m_dir, tmp_path):
    with pytest.raises(ValueError, match="noise_mode='sym': clothing1m has real noise"):
        Trainer(TrainConfig(dataset='clothing1m', noise_mode='sym', model='small_cnn'), data=clothing1m_dir, out=tmp_path)

@pytest.mark.skipif(not FMNIST_SYSTEM_DIR.is_dir(), reason='needs the Debian Fashion-MNIST copy (make fmnist)')
def test_bf16_channels_last_on_cpu_stays_finite_and_learns(tmp_path):
    "The CUDA code path (bf16 autocast, channels_last) run on the CPU: the convolutions really run in bf16, and it learns."
    cfg = TrainConfig(dataset='fashion_mnist', model='small_cnn', noise_mode='sym', noise_rate=0.2, epochs=3, warmup_epochs=2,
                      train_subset=1000, test_subset=500, batch_size=32, precision='bf16', channels_last='on', cleaner='cpc_awr')
    tr = Trainer(cfg, out=tmp_path, device='cpu', verbose=False)
    conv = next(m for m in tr.method.nets[0].modules() if isinstance(m, torch.nn.Conv2d))
    dtypes = []
    h = conv.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    assert tr.rt.bf16 and tr.rt.channels_last and conv.weight.is_contiguous(memory_format=torch.channels_last)
    rows = tr.fit()
    h.remove()
    assert set(dtypes) == {torch.bfloat16}
    assert all(math.isfinite(r['test_acc']) for r in rows) and rows[-1]['test_acc'] > 0.3  # 10 classes: chance is 0.1 (fp32 ends at 0.478 here, bf16 at 0.474)
    assert 0 <= rows[-1]['auc_gmm_agn'] <= 1

def test_compile_trains_and_checkpoints_like_eager(fmnist_dir, tmp_path):
    "compile=True compiles each network in place: same parameters and checkpoint keys as eager, and a run that finishes."
    cfgs = [TrainConfig(**(SMALL | dict(epochs=1, compile=c))) for c in (False, True)]
    eager, comp = (Trainer(c, data=fmnist_dir, out=tmp_path/str(c.compile), device='cpu', verbose=False) for c in cfgs)
    assert comp.method.nets[0]._compiled_call_impl is not None and eager.method.nets[0]._compiled_call_impl is None
    assert list(comp.method.nets[0].state_dict()) == list(eager.method.nets[0].state_dict())
    for a, b in zip(eager.method.nets[0].parameters(), comp.method.nets[0].parameters()): assert torch.equal(a, b)  # same seed, same weights
    rows = comp.fit()
    assert [r['epoch'] for r in rows] == [0] and math.isfinite(rows[0]['test_acc']) and (tmp_path/'True'/'checkpoint.pt').is_file()
    eager.release()

def test_precision_defaults_follow_the_device(fmnist_dir, tmp_path):
    tr = Trainer(TrainConfig(epochs=1, **SMALL), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False)
    assert not tr.rt.bf16 and not tr.rt.channels_last
    tr.release()
    with pytest.raises(ValueError, match="precision='fp16'"): TrainConfig(precision='fp16')

def test_loss_floor_bounds_the_eval_pass_loss_only_when_asked(fmnist_dir, tmp_path):
    "loss_floor=0 (the default) keeps DivideMix's plain cross-entropy; loss_floor=1e-3 gives the finder's -log max(p_y, 1e-3)."
    import torch.nn.functional as F
    from cpc.mixmatch import bounded_ce
    plain = Trainer(TrainConfig(epochs=1, **SMALL), data=fmnist_dir, out=tmp_path/'a', device='cpu', verbose=False)
    ev = plain.method.eval_pass(0)
    y = plain.train.labels[ev['idx']]
    torch.testing.assert_close(ev['losses'], F.nll_loss(ev['probs'].log(), y, reduction='none'), rtol=1e-4, atol=1e-5)
    bounded = Trainer(TrainConfig(epochs=1, loss_floor=0.2, **SMALL), data=fmnist_dir, out=tmp_path/'b', device='cpu', verbose=False)
    ev_b = bounded.method.eval_pass(0)
    torch.testing.assert_close(ev_b['losses'], bounded_ce(y, ev_b['probs'], 0.2))
    assert ev_b['losses'].max() <= -math.log(0.2) + 1e-6 < ev['losses'].max()
