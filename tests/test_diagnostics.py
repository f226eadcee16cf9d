"Behaviour of cpc.diagnostics across input types, degenerate inputs and the trainer's metrics.csv."
import math, warnings
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from cpc.diagnostics import (cleaner_metrics, ks_class_share, class_loss_density, plot_class_loss_density,
                             bernoulli_kl, agreement, prototype_accuracy, read_metrics, plot_auc_curves)


def _case(seed=0, n=2000):
    g = np.random.default_rng(seed)
    m = g.random(n) < 0.6
    q = np.clip(np.where(m, 0.7, 0.3) + g.normal(0, 0.2, n), 0, 1)
    return q, m


def test_metrics_match_sklearn_and_counts_torch_and_numpy():
    q, m = _case()
    r_np, r_t = cleaner_metrics(q, m), cleaner_metrics(torch.from_numpy(q), torch.from_numpy(m))
    assert r_np == r_t
    assert r_np['auc'] == pytest.approx(roc_auc_score(m, q))
    pred = q > 0.5
    assert r_np['precision'] == pytest.approx((pred & m).sum() / pred.sum())
    assert r_np['recall'] == pytest.approx((pred & m).sum() / m.sum())
    # a higher threshold claims fewer samples: recall can only fall
    assert cleaner_metrics(q, m, threshold=0.8)['recall'] <= r_np['recall']


def test_metrics_degenerate_cases_are_nan_not_crash():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        r = cleaner_metrics(np.array([0.2, 0.7]), np.array([False, False]))
    assert math.isnan(r['auc']) and math.isnan(r['recall']) and r['precision'] == 0.0
    assert any('AUC is undefined' in str(x.message) for x in w)
    r = cleaner_metrics(np.array([]), np.array([], dtype=bool))
    assert all(math.isnan(v) for v in r.values())


def test_bad_input_is_refused_with_named_value():
    q, m = _case()
    with pytest.raises(ValueError, match='clean_prob must be 1-D'): cleaner_metrics(q.reshape(-1, 2), m)
    with pytest.raises(ValueError, match='non-finite'): bernoulli_kl(np.array([np.nan]), np.array([0.5]))
    with pytest.raises(ValueError, match='labels must lie in'): ks_class_share(q, np.full(len(q), 7), m, 3)
    with pytest.raises(ValueError, match='edges must be increasing'): class_loss_density(q, np.zeros(len(q), int), 1, [1., 0.])


def test_ks_share_flags_shifted_classes_only():
    g = np.random.default_rng(1)
    K, n = 8, 300
    y = np.repeat(np.arange(K), n)
    clean = np.ones(K * n, bool)
    shift = np.where(np.arange(K) == 3, 1.0, 0.0)      # only class 3 differs
    loss = g.normal(shift[y], 1.0)
    r = ks_class_share(loss, y, clean, K)
    assert r['clean_pvalues'][3] < 1e-6
    assert r['clean'] <= 3 / K
    assert math.isnan(r['noisy']) and r['skipped']['noisy'] == list(range(K))


def test_kl_is_zero_iff_equal_and_agreement_symmetric():
    q, _ = _case(2)
    assert bernoulli_kl(q, q) == pytest.approx(0.0, abs=1e-12)
    q2 = np.clip(q + 0.1, 0, 1)
    assert bernoulli_kl(q, q2) > 0 and bernoulli_kl(q2, q) > 0
    assert agreement(q, q2) == agreement(q2, q)
    assert math.isfinite(bernoulli_kl(np.zeros(3), np.ones(3)))


def test_metrics_csv_roundtrip_and_png(tmp_path):
    import csv
    p = tmp_path / 'metrics.csv'
    with open(p, 'w', newline='') as fh:
        w = csv.writer(fh)
        w.writerow(['epoch', 'phase', 'auc_gmm_agn', 'auc_gmm_awr', 'auc_cpc_agn', 'auc_cpc_awr'])
        w.writerow([1, 'warmup', '', '', '', ''])
        for e in range(2, 6): w.writerow([e, 'ssl', 0.8, 0.79, 0.85, 0.86])
    cols = read_metrics(p)
    assert 'phase' not in cols and len(cols['epoch']) == 5
    fig = plot_auc_curves(p, out_png=tmp_path / 'fig3.png')
    assert (tmp_path / 'fig3.png').read_bytes()[:4] == b'\x89PNG'
    assert len(fig.axes[0].lines) == 4
    fig2 = plot_auc_curves({k: list(v) for k, v in cols.items()})
    assert len(fig2.axes[0].lines) == 4


def test_density_plot_runs_with_an_empty_group():
    q, m = _case(3)
    fig = plot_class_loss_density(q, (q * 4).astype(int) % 4, np.ones(len(q), bool), 4)
    assert len(fig.axes) == 2


def test_ks_share_tracks_class_heterogeneity_of_gmm_synthetic_losses():
    from cpc.gmm import synthetic_losses, gmm_clean_prob
    flat = ks_class_share(*synthetic_losses(num_classes=20, per_class=300, spread=0.0, seed=0), 20)
    hetero = ks_class_share(*synthetic_losses(num_classes=20, per_class=300, spread=1.5, seed=0), 20)
    assert flat['clean'] <= 0.2 and flat['noisy'] <= 0.2          # one shared distribution: ~alpha false alarms
    assert hetero['clean'] >= 0.5 and hetero['noisy'] >= 0.5
    l, y, m = synthetic_losses(num_classes=20, per_class=300, spread=1.5, seed=0)
    agn = cleaner_metrics(gmm_clean_prob(l), m)['auc']
    awr = cleaner_metrics(gmm_clean_prob(l, y, 20, class_aware=True), m)['auc']
    assert awr > agn      # per-class GMMs follow the class-dependent scales


def test_prototype_accuracy_and_fig4_numbers_with_a_real_cleaner():
    from cpc.cleaner import CleanerBank, synthetic_case
    case = synthetic_case(num_classes=5, n_per_class=60, feat_dim=16, seed=0)
    bank = CleanerBank(case.num_classes, case.feat_dim, seed=0, dim=16, hidden=None)
    for _ in range(5): q = bank.step(case.losses, case.labels, case.probs, case.features)
    acc = prototype_accuracy(bank['cpc_awr'], case.features, case.true_labels)
    assert 0.5 < acc <= 1.0                                   # far above chance (0.2)
    kl, agr = bernoulli_kl(q['gmm_awr'], q['cpc_awr']), agreement(q['gmm_awr'], q['cpc_awr'])
    assert math.isfinite(kl) and kl >= 0 and 0.5 < agr <= 1.0
    for c, qc in q.items(): assert 0.5 < cleaner_metrics(qc, case.clean)['auc'] <= 1.0, c
