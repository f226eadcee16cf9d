"Behaviour of cpc.cleaner: L_C on hand-computed and degenerate inputs, checkpoint round trip, bad input, CleanerBank."
import io, math
import pytest, torch
from cpc.cleaner import (CLEANERS, CleanerBank, PrototypeCleaner, check_cleaner, prototype_losses, pseudo_labels,
                         synthetic_case)

def _ls(x): return -math.log1p(math.exp(-x))   # log sigmoid

@pytest.fixture(scope='module')
def case(): return synthetic_case(num_classes=4, n_per_class=50, feat_dim=16, seed=1)

def test_losses_match_hand_computation():
    lg = torch.tensor([[1.5, -0.5, 0.2], [0.3, 2.0, -1.0], [-2.0, 0.7, 0.1]])
    y, clean = torch.tensor([0, 1, 2]), torch.tensor([True, False, False])
    out = prototype_losses(lg, y, clean, torch.tensor([-1, -1, 1]), alpha_p=2.0)
    l_x = -(_ls(1.5) + (_ls(0.5) + _ls(-0.2)) / 3)
    l_u = -(_ls(-2.0) + _ls(-0.1)) / 2
    l_p = -_ls(0.7)
    assert out['l_x'].item() == pytest.approx(l_x, rel=1e-5)
    assert out['l_u'].item() == pytest.approx(l_u, rel=1e-5)
    assert out['l_p'].item() == pytest.approx(l_p, rel=1e-5)
    assert out['loss'].item() == pytest.approx(l_x + l_u + 2 * l_p, rel=1e-5)

@pytest.mark.parametrize('clean', [torch.ones(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool)])
def test_empty_sets_give_finite_zero_terms(clean):
    lg = torch.tensor([[50., -50.], [-80., 80.], [0., 0.]])
    out = prototype_losses(lg, torch.tensor([0, 1, 0]), clean, torch.full((3,), -1))
    assert all(torch.isfinite(v) for v in out.values())
    assert out['l_p'].item() == 0
    assert (out['l_u'] if clean.all() else out['l_x']).item() == 0
    lg.requires_grad_(True)
    prototype_losses(lg, torch.tensor([0, 1, 0]), clean, torch.full((3,), -1))['loss'].backward()
    assert torch.isfinite(lg.grad).all()

def test_pseudo_labels_rule():
    p = torch.tensor([[.9, .1], [.5, .5], [.8, .2], [.6, .4], [.05, .95]])
    y, clean = torch.tensor([0, 0, 1, 1, 0]), torch.tensor([True, True, False, False, False])
    assert pseudo_labels(p, y, clean).tolist() == [-1, -1, 0, -1, -1]

def test_degenerate_splits_train(case):
    for split in (torch.ones_like(case.clean), torch.zeros_like(case.clean)):
        cl = PrototypeCleaner(4, 16, init='mean')
        stats = cl.update(case.features, case.labels, split, case.probs)
        assert all(math.isfinite(stats[k]) for k in ('loss', 'l_x', 'l_u', 'l_p'))
        assert torch.isfinite(cl.clean_prob(case.features, case.labels)).all()

def test_state_dict_round_trip(case, tmp_path):
    a = PrototypeCleaner(4, 16, dim=8, batch_size=32, seed=5)
    for lr in (0.05, 0.02): a.update(case.features, case.labels, case.losses < 1.5, case.probs, lr=lr)
    torch.save(a.state_dict(), tmp_path/'c.pt')
    b = PrototypeCleaner(4, 16, dim=8, batch_size=32, seed=11)
    b.load_state_dict(torch.load(tmp_path/'c.pt', weights_only=True))
    assert torch.equal(a.clean_prob(case.features, case.labels), b.clean_prob(case.features, case.labels))
    sa = a.update(case.features, case.labels, case.losses < 1.5, case.probs)
    sb = b.update(case.features, case.labels, case.losses < 1.5, case.probs)
    assert sa == sb and sa['loss'] > 0
    assert torch.equal(a.clean_prob(case.features, case.labels), b.clean_prob(case.features, case.labels))
    assert torch.equal(a.predict(case.features), b.predict(case.features))

def test_update_learns_on_synthetic_case():
    from sklearn.metrics import roc_auc_score
    c = synthetic_case(n_per_class=100, noise_rate=0.4, seed=2)
    cl = PrototypeCleaner(c.num_classes, c.feat_dim)
    q0 = cl.clean_prob(c.features, c.labels)
    for _ in range(20): cl.update(c.features, c.labels, c.losses < c.losses.median(), c.probs)
    q = cl.clean_prob(c.features, c.labels)
    assert roc_auc_score(c.clean.numpy(), q.numpy()) > max(0.85, roc_auc_score(c.clean.numpy(), q0.numpy()) + 0.2)

@pytest.mark.parametrize('call, msg', [
    (lambda cl, c: cl.update(c.features[:, :3], c.labels, c.clean, c.probs), 'features have feat_dim 3, expected 16'),
    (lambda cl, c: cl.update(c.features, c.labels[:7], c.clean, c.probs), 'labels has length 7, expected 200'),
    (lambda cl, c: cl.update(c.features, c.labels + 4, c.clean, c.probs), 'labels must lie in [0, 4), found [4'),
    (lambda cl, c: cl.update(c.features, c.labels, c.clean.float(), c.probs), 'gmm_clean must be a boolean mask'),
    (lambda cl, c: cl.update(c.features, c.labels, c.clean[:5], c.probs), 'gmm_clean has length 5, expected 200'),
    (lambda cl, c: cl.update(c.features, c.labels, c.clean, c.probs[:, :3]), 'probs must have shape (200, 4), got (200, 3)'),
    (lambda cl, c: cl.clean_prob(c.features, c.labels - 1), 'labels must lie in [0, 4), found [-1]'),
    (lambda cl, c: cl.split(c.features, c.labels, tau=-0.1), 'tau must be a number in [0, 1], got -0.1'),
    (lambda cl, c: cl.predict(c.features[None]), 'features must be 2-D'),
    (lambda cl, c: cl.load_state_dict(PrototypeCleaner(4, 16, dim=9).state_dict()), 'state_dict has dim=9, this cleaner has dim=128'),
])
def test_bad_input(case, call, msg):
    with pytest.raises(ValueError, match=None) as e: call(PrototypeCleaner(4, 16), case)
    assert msg in str(e.value)

def test_cleaner_bank_all_four(case, tmp_path):
    bank = CleanerBank(4, 16, dim=8)
    qs = bank.step(case.losses, case.labels, case.probs, case.features, lr=0.02)
    assert tuple(qs) == tuple(CLEANERS)
    for q in qs.values(): assert q.shape == (200,) and torch.isfinite(q).all() and ((q >= 0) & (q <= 1)).all()
    torch.save(bank.state_dict(), tmp_path/'b.pt')
    other = CleanerBank(4, 16, dim=8, seed=3)
    other.load_state_dict(torch.load(tmp_path/'b.pt', weights_only=True))
    q1, q2 = (b.step(case.losses, case.labels, case.probs, case.features) for b in (bank, other))
    for n in CLEANERS: assert torch.equal(q1[n], q2[n])

def test_unknown_cleaner_names():
    for bad in ('cpc', 'GMM_AGN', 'divide'):
        with pytest.raises(ValueError) as e: check_cleaner(bad)
        assert all(n in str(e.value) for n in CLEANERS)
    with pytest.raises(ValueError, match='gmm_agn'): CleanerBank(4, 16)['cpc_xyz']
    with pytest.raises(ValueError, match='p_threshold'): CleanerBank(4, 16, p_threshold=2.)

# ---- any scale: the cleaner divides the features by their RMS before g -------------------------------------------

def _taught(case, scale, updates=3, **kw):
    "A PrototypeCleaner (defaults) taught `updates` times by the class-agnostic GMM on the case's features times `scale`."
    from cpc.gmm import gmm_clean_prob
    cl = PrototypeCleaner(case.num_classes, case.feat_dim, **kw)
    split = gmm_clean_prob(case.losses) > 0.5
    for _ in range(updates): cl.update(case.features * scale, case.labels, split, case.probs)
    return cl.clean_prob(case.features * scale, case.labels)

def test_the_6000_by_64_case_of_norm_25_learns_without_diverging():
    "Once: loss 39 -> 535 -> NaN by the third update. Now finite, and as good as at unit scale."
    from cpc.diagnostics import cleaner_metrics
    case = synthetic_case(num_classes=10, n_per_class=600, feat_dim=64, seed=0)
    to_25 = 25 / float(case.features.norm(dim=1).mean())
    q25, q1 = _taught(case, to_25), _taught(case, 1 / float(case.features.pow(2).mean().sqrt()))
    assert torch.isfinite(q25).all()
    torch.testing.assert_close(q25, q1, atol=1e-4, rtol=0)
    assert cleaner_metrics(1 - q25, ~case.clean)['auc'] > 0.9

def test_features_of_norm_001_to_1000_give_the_same_clean_probabilities():
    case = synthetic_case(num_classes=5, n_per_class=200, feat_dim=32, seed=1)
    norm = float(case.features.norm(dim=1).mean())
    qs = [_taught(case, target / norm, updates=2) for target in (0.01, 1., 1000.)]
    for q in qs: assert torch.isfinite(q).all()
    for q in qs[1:]: torch.testing.assert_close(q, qs[0], atol=1e-4, rtol=0)
