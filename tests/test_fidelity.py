"Fidelity to the reference code (DivideMix, AugDMix, C2D) the paper was built on: one test (or more) per section of the Fidelity issue."
import dataclasses, json, math
import pytest, torch
from cpc.cleaner import CleanerBank
from cpc.gmm import LossHistory, gmm_clean_prob, synthetic_losses
from cpc.train import TrainConfig, Trainer
from cpc.methods import CleanerMethod
from cpc.datasets import DATASETS, balanced_sample
from cpc.cli import PRESETS, TABLE3

SMALL = dict(dataset='fashion_mnist', model='small_cnn', noise_mode='sym', noise_rate=0.5, warmup_epochs=1,
             batch_size=8, eval_batch_size=32, cpc_epochs=1)

# ---- 1. the 90%-noise GMM input is the mean of the normalised losses, not normalised again

def test_bank_and_gmm_clean_prob_agree_with_loss_history():
    K, n = 4, 400
    bank, hists = CleanerBank(K, 6, dim=4), [LossHistory(5) for _ in range(3)]
    g = torch.Generator().manual_seed(0)
    feats, probs = torch.randn(n, 6, generator=g), torch.softmax(torch.randn(n, K, generator=g), 1)
    for e in range(8):
        losses, labels, _ = synthetic_losses(num_classes=K, per_class=n // K, spread=2.0, seed=e)
        q = bank.step(losses, labels, probs, feats, history=hists[0], update=False)
        assert torch.equal(q['gmm_agn'], gmm_clean_prob(losses, history=hists[1]))
        assert torch.equal(q['gmm_awr'], gmm_clean_prob(losses, labels, K, class_aware=True, history=hists[2]))

# ---- 2. BatchNorm: DivideMix's no-grad forwards of the trained net run in train mode, one view per forward

def _bn_updates(net):
    return [int(m.num_batches_tracked) for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]

def _ssl_trainer(tmp_path, fmnist_dir, **kw):
    return Trainer(TrainConfig(epochs=3, **{**SMALL, **kw}), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False)

@pytest.mark.parametrize('strong', [False, True])
def test_ssl_step_updates_running_stats_five_times_per_step(tmp_path, fmnist_dir, strong):
    tr = _ssl_trainer(tmp_path, fmnist_dir, strong_aug=strong)
    n = len(tr.train)
    clean = torch.arange(n) % 2 == 0
    before, peer_before = _bn_updates(tr.method.nets[0]), _bn_updates(tr.method.nets[1])
    tr.method.ssl_epoch(1, 0, torch.full((n,), 0.9), clean)
    steps = math.ceil(int(clean.sum()) / tr.cfg.batch_size)
    # unlabeled view 1, view 2, labeled view 1, view 2 (no grad), then the mixed batch
    assert [a - b for a, b in zip(_bn_updates(tr.method.nets[0]), before)] == [5 * steps] * len(before)
    assert _bn_updates(tr.method.nets[1]) == peer_before  # the peer runs in eval mode

def test_no_grad_forwards_use_per_view_batch_statistics(tmp_path, fmnist_dir):
    "Each no-grad forward of the trained network sees one view of B images, as in DivideMix (not a fused 4B batch)."
    tr = _ssl_trainer(tmp_path, fmnist_dir)
    seen = []
    h = tr.method.nets[0].register_forward_hook(lambda m, i, o: seen.append((len(i[0]), torch.is_grad_enabled(), m.training)))
    n = len(tr.train)
    try: tr.method.ssl_epoch(1, 0, torch.full((n,), 0.9), torch.arange(n) < 8)  # one labeled batch of 8
    finally: h.remove()
    assert seen == [(8, False, True)] * 4 + [(32, True, True)]

# ---- 3. lambda_u = 0 follows the data set's script

@pytest.mark.parametrize('labeled_only, rows', [(False, 32), (True, 16)])
def test_lambda_u_zero_rows_forwarded(tmp_path, fmnist_dir, labeled_only, rows):
    tr = _ssl_trainer(tmp_path, fmnist_dir, lambda_u=0, labeled_rows_only=labeled_only)
    seen = []
    h = tr.method.nets[0].register_forward_hook(lambda m, i, o: seen.append(len(i[0])) if torch.is_grad_enabled() else None)
    n = len(tr.train)
    try: tr.method.ssl_epoch(1, 0, torch.full((n,), 0.9), torch.arange(n) < 8)
    finally: h.remove()
    assert seen == [rows]  # CIFAR script: all 4B mixed rows; Clothing1M/WebVision scripts: the 2B labeled rows

def test_labeled_rows_only_needs_lambda_u_zero():
    with pytest.raises(ValueError, match='needs lambda_u=0'): TrainConfig(lambda_u=25, labeled_rows_only=True)
    assert PRESETS['clothing1m'].config.labeled_rows_only and PRESETS['webvision'].config.labeled_rows_only
    assert not PRESETS['cifar10-sym20'].config.labeled_rows_only and PRESETS['cifar10-sym20'].config.lambda_u == 0

# ---- 4. Clothing1M: a fresh class-balanced sample per epoch; best-validation networks tested at the end

def test_balanced_sample_caps_each_class():
    labels = torch.cat([torch.zeros(500), torch.ones(60), torch.full((440,), 2)]).long()
    idx = balanced_sample(labels, 300, 3, torch.Generator().manual_seed(0))
    counts = torch.bincount(labels[idx], minlength=3).tolist()
    assert len(idx) == 260 and counts == [100, 60, 100] and len(set(idx.tolist())) == 260
    assert not torch.equal(idx, balanced_sample(labels, 300, 3, torch.Generator().manual_seed(1)))

def test_clothing1m_samples_per_epoch_and_selects_on_validation(clothing1m_dir, tmp_path):
    cfg = TrainConfig(dataset='clothing1m', noise_mode='real', noise_rate=0., model='small_cnn', epochs=3, warmup_epochs=1,
                      batch_size=2, eval_batch_size=8, num_workers=0, cleaner='cpc_agn', lambda_u=0, labeled_rows_only=True,
                      num_batches=3, select_on_val=True, proto_warmup=0.)
    tr = Trainer(cfg, data=clothing1m_dir, out=tmp_path, device='cpu', verbose=False)
    evals, _eval = [], CleanerMethod.eval_pass
    CleanerMethod.eval_pass = lambda self, k, idx=None: evals.append(idx.clone()) or _eval(self, k, idx)
    try: rows = tr.fit()
    finally: CleanerMethod.eval_pass = _eval
    assert [len(i) for i in evals] == [6] * 4  # num_batches x B per network and epoch, each a fresh draw
    assert not torch.equal(evals[0], evals[1])
    assert all(0 <= r['val_acc_a'] <= 1 and 0 <= r['val_acc_b'] <= 1 for r in rows)
    res = json.loads((tmp_path/'result.json').read_text())
    best_a = max(range(3), key=lambda e: (rows[e]['val_acc_a'], -e))
    assert res['epoch_a'] == best_a and res['val_acc_a'] == rows[best_a]['val_acc_a'] and 0 <= res['test_acc'] <= 1
    c = PRESETS['clothing1m'].config
    assert (c.select_on_val, c.num_batches, c.batch_size, c.warmup_batch) == (True, 1000, 32, 64)

def test_select_on_val_needs_a_validation_split():
    with pytest.raises(ValueError, match='select_on_val=True needs a clean validation split'):
        TrainConfig(dataset='cifar10', select_on_val=True)

# ---- 5. WebVision as C2D ran it, with top-1/top-5 on WebVision val and ILSVRC12 val

def test_webvision_transforms_and_transfer_metrics(webvision_dir, tmp_path):
    assert DATASETS['webvision'].crop == (227, 256)
    cfg = TrainConfig(dataset='webvision', noise_mode='real', noise_rate=0., model='small_cnn', epochs=2, warmup_epochs=1,
                      batch_size=4, eval_batch_size=8, num_workers=0, cleaner='cpc_awr', lambda_u=0, labeled_rows_only=True)
    tr = Trainer(cfg, data=webvision_dir, out=tmp_path, device='cpu', verbose=False)
    assert 'imagenet' in tr.extra and next(tr.extra['imagenet'].batches(torch.arange(2), ('plain',), 2))[1][0].shape[-1] == 227
    rows = tr.fit()
    for r in rows:
        for c in ('test_acc', 'test_top5', 'imagenet_top1', 'imagenet_top5'): assert 0 <= r[c] <= 1, (c, r[c])
        assert r['test_top5'] >= r['test_acc'] and r['imagenet_top5'] >= r['imagenet_top1']
    header = (tmp_path/'metrics.csv').read_text().splitlines()[0].split(',')
    assert {'test_top5', 'imagenet_top1', 'imagenet_top5'} <= set(header)

# ---- 6. the paper's own knobs

def test_prototype_optimiser_follows_the_run(tmp_path, fmnist_dir):
    tr = _ssl_trainer(tmp_path, fmnist_dir, weight_decay=1e-3, momentum=0.8, alpha_p=0.25)
    for bank in tr.method.banks:
        for name in ('cpc_agn', 'cpc_awr'):
            g = bank[name].opt.param_groups[0]
            assert (g['weight_decay'], g['momentum'], bank[name].alpha_p) == (1e-3, 0.8, 0.25)
    assert PRESETS['clothing1m'].config.weight_decay == 1e-3 and TrainConfig().alpha == 4.

def test_prototype_classifier_accuracy_per_epoch(tmp_path, fmnist_dir):
    rows = _ssl_trainer(tmp_path, fmnist_dir).fit()
    assert math.isnan(rows[0]['proto_acc_cpc_awr'])  # warm-up: no prototypes yet
    assert all(0 <= r[f'proto_acc_{c}'] <= 1 for r in rows[1:] for c in ('cpc_agn', 'cpc_awr'))

# ---- 7. baselines on their own published schedules

def test_baseline_schedules():
    d, a, r = (PRESETS[f'cifar100-sym90-{b}'].config for b in ('dividemix', 'augdmix', 'gmm_agn'))
    assert (d.epochs, d.lr_drop_epoch, d.batch_size, d.strong_aug, d.cleaner) == (300, 150, 64, False, 'gmm_agn')
    assert (a.epochs, a.lr_drop_epoch, a.batch_size, a.strong_aug, a.cleaner) == (400, 300, 128, True, 'gmm_agn')
    assert (r.epochs, r.lr_drop_epoch, r.batch_size, r.strong_aug, r.cleaner) == (450, 225, 128, True, 'gmm_agn')
    assert 'DivideMix' in PRESETS['cifar100-sym90-dividemix'].description and "AugDMix's" in PRESETS['cifar100-sym90-augdmix'].description
    assert str(TABLE3['cifar100-sym90']['gmm_agn']) in PRESETS['cifar100-sym90-gmm_agn'].description
    a10 = PRESETS['cifar10-asym40-augdmix'].config
    assert (a10.epochs, a10.lr_drop_epoch, a10.neg_entropy) == (350, 250, True)
