"find_label_issues and the cpc_find_issues console script, across modules: saved outputs in, ranked issues out."
import csv, subprocess, sys
from pathlib import Path
import numpy as np, pytest, torch
from cpc.cleaner import synthetic_case
from cpc.issues import find_label_issues, clean_probs, wrong_label_counts

CONSOLE = Path(sys.executable).parent/'cpc_find_issues'

def test_help_shows_a_complete_example():
    r = subprocess.run([str(CONSOLE), '--help'], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and 'np.savez' in r.stdout and 'cpc_find_issues outputs.npz --cleaner cpc_awr --out issues.csv' in r.stdout

def test_console_script_on_saved_outputs(tmp_path):
    case = synthetic_case(num_classes=5, n_per_class=120, noise_rate=0.3, seed=1)
    np.savez(tmp_path/'out.npz', labels=case.labels.numpy(), pred_probs=case.probs.numpy(), features=case.features.numpy())
    r = subprocess.run([str(CONSOLE), str(tmp_path/'out.npz'), '--out', str(tmp_path/'issues.csv')], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(tmp_path/'issues.csv')))
    flagged = {int(x['index']) for x in rows if x['issue'] == '1'}
    expected = find_label_issues(case.labels, case.probs, case.features)
    assert flagged == set(np.flatnonzero(expected).tolist())
    noisy = set(np.flatnonzero(~case.clean.numpy()).tolist())
    assert len(flagged & noisy) / len(flagged) > 0.8  # most flagged labels are really wrong
    r = subprocess.run([str(CONSOLE), str(tmp_path/'missing.npz')], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and 'no such file' in r.stderr and 'Traceback' not in r.stderr

def test_npz_with_pickled_objects_is_refused(tmp_path):
    np.savez(tmp_path/'bad.npz', labels=np.array([object()], dtype=object), pred_probs=np.ones((1, 2)) / 2)
    r = subprocess.run([str(CONSOLE), str(tmp_path/'bad.npz'), '--cleaner', 'gmm_agn'], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and 'allow_pickle' in r.stderr

def test_same_seed_same_answer():
    case = synthetic_case(num_classes=4, n_per_class=80, seed=2)
    a, b = (clean_probs(case.labels, case.probs, case.features, seed=3) for _ in range(2))
    for c in a: assert np.array_equal(a[c], b[c])

def test_every_run_leaves_a_per_sample_table(clothing1m_dir, tmp_path, monkeypatch):
    "Image-file data: file keys, and NaN / -1 outside each epoch's sample; above SAMPLES_CSV_MAX it is a compressed .npz."
    import cpc.runs
    from cpc.train import TrainConfig, Trainer
    monkeypatch.setattr(cpc.runs, 'SAMPLES_CSV_MAX', 10)
    cfg = TrainConfig(dataset='clothing1m', noise_mode='real', noise_rate=0., model='small_cnn', epochs=2, warmup_epochs=1,
                      batch_size=2, eval_batch_size=8, num_workers=0, cleaner='cpc_agn', lambda_u=0, labeled_rows_only=True,
                      num_batches=3)
    Trainer(cfg, data=clothing1m_dir, out=tmp_path, device='cpu', verbose=False).fit()
    with np.load(tmp_path/'samples.npz', allow_pickle=False) as z:
        assert len(z['index']) == 28 and z['key'][0].startswith('images/')
        scored = ~np.isnan(z['q_cpc_agn_a'])
        assert scored.sum() == 6 and (z['pred_a'][~scored] == -1).all() and set(np.unique(z['labeled_b'])) <= {-1, 0, 1}


# ---- never silent, any scale, drop-in for cleanlab ---------------------------------------------------------------

def test_scale_of_the_features_does_not_matter():
    case = synthetic_case(num_classes=5, n_per_class=120, noise_rate=0.4, seed=3)
    from cpc.diagnostics import cleaner_metrics
    noisy = ~case.clean.numpy()
    aucs = []
    for s in (0.01, 1., 1000.):
        q = clean_probs(case.labels, case.probs, case.features * s, rounds=2, passes=2)
        assert all(np.isfinite(v).all() for v in q.values())
        aucs.append(cleaner_metrics(1 - q['cpc_awr'], noisy)['auc'])
    assert max(aucs) - min(aucs) < 0.02, aucs

def test_a_diverging_cpc_update_raises_and_leaves_the_cleaner_usable():
    from cpc.cleaner import PrototypeCleaner
    g = torch.Generator().manual_seed(0)
    v, y = torch.randn(600, 16, generator=g) * 100, torch.randint(0, 4, (600,), generator=g)
    clean, p = torch.rand(600, generator=g) > 0.4, torch.softmax(torch.randn(600, 4, generator=g), 1)
    cl = PrototypeCleaner(4, 16)
    cl.update(v, y, clean, p)
    before = cl.clean_prob(v, y)
    with pytest.raises(FloatingPointError, match='diverged'): cl.update(v, y, clean, p, lr=1e12)
    assert torch.equal(cl.clean_prob(v, y), before)
    with pytest.raises(ValueError, match='lr must be a finite number > 0, got inf'): cl.update(v, y, clean, p, lr=float('inf'))

def test_one_confident_mistake_does_not_squash_the_split():
    "The bounded finder loss: one p_y of 1e-12 among 40% noise; with the plain cross-entropy the GMM splits it off alone."
    case = synthetic_case(num_classes=5, n_per_class=200, noise_rate=0.4, seed=4)
    p = case.probs.double().clone()
    p[0] = torch.full((5,), 1e-12); p[0, (int(case.labels[0]) + 1) % 5] = 1 - 4e-12
    plain = -p.gather(1, case.labels[:, None]).squeeze(1).log()
    n_wrong = int((~case.clean).sum())
    with pytest.warns(UserWarning, match='split collapsed'):
        squashed = find_label_issues(case.labels, p, losses=plain.numpy(), cleaner='gmm_agn', filter_by='threshold')
    bounded = find_label_issues(case.labels, p, cleaner='gmm_agn', filter_by='threshold')
    assert squashed.sum() < 0.2 * n_wrong < 0.7 * n_wrong < bounded.sum() < 1.3 * n_wrong

def test_console_script_reads_excel_csv_and_refuses_gaps(tmp_path):
    rows = ''.join(f'{i % 2},{0.9 - 0.8 * (i % 2)},{0.1 + 0.8 * (i % 2)}\n' for i in range(18)) + '0,0.05,0.95\n1,0.97,0.03\n'
    (tmp_path/'bom.csv').write_text('label,prob_0,prob_1\n' + rows, encoding='utf-8-sig')
    r = subprocess.run([str(CONSOLE), str(tmp_path/'bom.csv'), '--cleaner', 'gmm_agn'], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    (tmp_path/'gap.csv').write_text('label,prob_0,prob_2\n' + rows)
    r = subprocess.run([str(CONSOLE), str(tmp_path/'gap.csv'), '--cleaner', 'gmm_agn'], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and 'without gaps' in r.stderr
    r = subprocess.run([str(CONSOLE), str(tmp_path/'bom.csv'), '--out', str(tmp_path/'no'/'x.csv')], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and 'does not exist' in r.stderr and 'Traceback' not in r.stderr and not (tmp_path/'no').exists()


# ---- how many labels are wrong, on cross-validated outputs of real data (cpc.finder_bench) ------------------------

def _digits(setting, seed):
    from cpc.finder_bench import finder_data, noisy_labels_for, cv_probs
    from sklearn.preprocessing import StandardScaler
    x, y = finder_data('digits')
    noisy = noisy_labels_for('digits', y, setting, seed)
    return y, noisy, cv_probs(x, noisy, seed), StandardScaler().fit_transform(x)

@pytest.mark.parametrize('seed', [0, 1])
def test_pairwise_noise_on_digits_is_flagged_at_its_rate(seed):
    "Digits 1-7, 3-8, 5-6 swapped at 30%: the estimate and the flagged set within 0.7-1.3x of the wrong labels, with and without features."
    y, noisy, p, f = _digits('pair30', seed)
    n_wrong = int((noisy != y).sum())
    assert 0.7 < wrong_label_counts(noisy, p).sum() / n_wrong < 1.3
    for features in (f, None):
        flagged = find_label_issues(noisy, p, features)
        assert 0.7 < flagged.sum() / n_wrong < 1.3
        assert (flagged & (noisy != y)).sum() / flagged.sum() > 0.6

def test_digits_sym40_gives_finite_scores_and_flags_the_wrong_labels():
    "Once all-NaN for cpc_agn ('0 of 1797 labels flagged'): every cleaner finite, each flags 0.7-1.3x the wrong labels."
    y, noisy, p, f = _digits('sym40', 0)
    n_wrong = int((noisy != y).sum())
    for c in ('gmm_agn', 'gmm_awr', 'cpc_agn', 'cpc_awr'):
        flagged, q = find_label_issues(noisy, p, f, cleaner=c, return_clean_probs=True)
        assert all(np.isfinite(v).all() for v in q.values())
        assert 0.7 < flagged.sum() / n_wrong < 1.3 and (flagged & (noisy != y)).sum() / flagged.sum() > 0.8

def test_confident_joint_is_cleanlabs():
    import cleanlab.count
    from cpc.issues import confident_joint
    y, noisy, p, _ = _digits('pair30', 0)
    C, C_cl = confident_joint(noisy, p), cleanlab.count.compute_confident_joint(noisy, p, calibrate=False)
    off = ~np.eye(10, dtype=bool)
    assert np.array_equal(C[off], C_cl[off]) and np.array_equal(np.diag(C).clip(min=1), np.diag(C_cl))

def test_console_script_reports_the_estimate(tmp_path):
    y, noisy, p, _ = _digits('pair30', 0)
    np.savez(tmp_path/'out.npz', labels=noisy, pred_probs=p)
    r = subprocess.run([str(CONSOLE), str(tmp_path/'out.npz')], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    est = wrong_label_counts(noisy, p)
    assert f"estimated wrong labels: {est.sum()} of {len(y)}; per class: {' '.join(map(str, est))}" in r.stdout
    assert 'flagged by gmm_agn (filter_by count, score consensus)' in r.stdout
    rows = list(csv.DictReader(open(tmp_path/'out_issues.csv')))
    assert sum(int(x['issue']) for x in rows) == est.sum() and [float(x['score']) for x in rows] == sorted(float(x['score']) for x in rows)

def test_all_four_cleaners_cost_at_most_three_times_cleanlab():
    "10,000 x 50, 10 classes: clean_probs (both GMMs, both CPCs) against cleanlab's pair of calls, medians of five, alternated in one run."
    from cpc.finder_bench import large_outputs, finder_speed
    speed = finder_speed(*large_outputs(n=10_000, d=50), repeats=5)
    assert speed['ratio'] <= 3, speed
