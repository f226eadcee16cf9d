"Behaviour of cpc.gmm: agreement with sklearn's GaussianMixture, class fallback logging, history, bad input."
import logging
import numpy as np, pytest, torch
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from cpc.gmm import (GMM_SETTINGS, LossHistory, clean_posterior, fit_gmm, gmm_clean_prob, init_gmm,
                     normalize_losses, synthetic_losses)


def sklearn_probs(x, labels, K, init=None, seed=0):
    "q(z=0) from one sklearn GaussianMixture(2, DivideMix settings) per class, optionally from our init; (probs, n_iter)."
    q, iters = torch.empty(len(x), dtype=torch.float64), []
    for k in range(K):
        m = labels == k
        kw = {} if init is None else dict(weights_init=init.weights[k].numpy(), means_init=init.means[k].numpy()[:, None],
                                          precisions_init=(1 / init.variances[k]).numpy()[:, None, None])
        gm = GaussianMixture(n_components=2, random_state=seed, **GMM_SETTINGS, **kw).fit(x[m].numpy()[:, None])
        q[m] = torch.from_numpy(gm.predict_proba(x[m].numpy()[:, None])[:, gm.means_.argmin()])
        iters.append(gm.n_iter_)
    return q, iters


@pytest.mark.parametrize("seed,noise", [(0, 0.2), (1, 0.5), (2, 0.8)])
def test_class_aware_matches_sklearn_same_init(seed, noise):
    losses, labels, _ = synthetic_losses(num_classes=8, per_class=300, noise_rate=noise, spread=2.0, seed=seed)
    x = normalize_losses(losses).double()
    q_ref, iters = sklearn_probs(x, labels, 8, init=init_gmm(x, labels, 8))
    p = fit_gmm(x, labels, 8)
    assert p.n_iter.tolist() == iters
    q = gmm_clean_prob(losses, labels, num_classes=8, class_aware=True)
    assert (q.double() - q_ref).abs().max() < 1e-5
    assert (clean_posterior(x, labels, p) - q_ref).abs().max() < 1e-10   # float64 path: round-off only


def test_class_agnostic_matches_sklearn_same_init_and_numpy_input():
    losses, _, _ = synthetic_losses(num_classes=5, per_class=400, seed=3)
    x = normalize_losses(losses).double()
    q_ref, _ = sklearn_probs(x, torch.zeros(len(x), dtype=torch.long), 1, init=init_gmm(x))
    q = gmm_clean_prob(losses.numpy())                 # numpy in -> torch out
    assert isinstance(q, torch.Tensor) and q.dtype == torch.float32
    assert (q.double() - q_ref).abs().max() < 1e-5


def test_close_to_sklearn_default_kmeans_init():
    losses, labels, clean = synthetic_losses(num_classes=10, per_class=400, spread=3.0, seed=0)
    x = normalize_losses(losses).double()
    q = gmm_clean_prob(losses, labels, num_classes=10, class_aware=True).double()
    refs = [sklearn_probs(x, labels, 10, seed=s)[0] for s in range(4)]
    seed_gap = max((a - b).abs().max().item() for a in refs for b in refs)
    assert (q - refs[0]).abs().max().item() <= seed_gap + 1e-6     # no further from sklearn than sklearn across seeds
    assert (q - refs[0]).abs().mean().item() < 1e-3
    assert abs(roc_auc_score(clean, q) - roc_auc_score(clean, refs[0])) < 1e-3


def test_fallback_classes_logged_and_use_global(caplog):
    losses, labels, _ = synthetic_losses(num_classes=3, per_class=100, seed=2)
    labels[0] = 4                                       # class 4: a single sample; class 3: empty (not reported)
    losses[labels == 2] = 0.7                           # class 2: zero variance
    with caplog.at_level(logging.WARNING, logger='cpc.gmm'):
        q = gmm_clean_prob(losses, labels, num_classes=5, class_aware=True)
    msgs = [r.getMessage() for r in caplog.records if r.name == 'cpc.gmm']
    assert len(msgs) == 1 and 'with < 2 samples: [4]' in msgs[0] and 'with zero loss variance: [2]' in msgs[0]
    q_agn = gmm_clean_prob(losses)
    fb = labels >= 2
    assert torch.equal(q[fb], q_agn[fb]) and not torch.equal(q[~fb], q_agn[~fb])
    assert torch.isfinite(q).all()


def test_min_per_class_and_constant_losses(caplog):
    losses, labels, _ = synthetic_losses(num_classes=2, per_class=50, seed=0)
    with caplog.at_level(logging.WARNING, logger='cpc.gmm'):
        q = gmm_clean_prob(losses, labels, num_classes=2, class_aware=True, min_per_class=60)
        assert torch.equal(q, gmm_clean_prob(losses))
        q_const = gmm_clean_prob(torch.ones(10))
    assert 'with < 60 samples: [0, 1]' in caplog.text and 'no fit possible (all losses are equal); every clean probability set to 0.5' in caplog.text
    assert torch.equal(q_const, torch.full((10,), 0.5))


def test_history_averages_last_five_and_round_trips():
    hist = LossHistory()
    eps = [synthetic_losses(num_classes=1, per_class=200, seed=s)[0] for s in range(7)]
    for l in eps: q = gmm_clean_prob(l, history=hist)
    avg = torch.stack([normalize_losses(l.double()) for l in eps[-5:]]).mean(0)
    assert (q - clean_posterior(avg, None, fit_gmm(avg)).float()).abs().max() < 1e-6
    h2 = LossHistory(); h2.load_state_dict(hist.state_dict())
    assert len(h2) == 5 and all(torch.equal(a, b) for a, b in zip(h2.losses, hist.losses))


@pytest.mark.parametrize("kw,msg", [
    (dict(labels=torch.zeros(4, dtype=torch.long), num_classes=2, class_aware=True), "labels has length 4, expected 5"),
    (dict(labels=torch.tensor([0, 1, 2, 3, 7]), num_classes=4, class_aware=True), "labels must lie in [0, 4), found [7]"),
    (dict(labels=torch.tensor([-1, 0, 0, 1, 1]), num_classes=2, class_aware=True), "found [-1]"),
    (dict(labels=torch.zeros(5), num_classes=2, class_aware=True), "integer class ids"),
    (dict(class_aware=True), "class_aware=True needs labels and num_classes"),
    (dict(labels=torch.zeros(5, dtype=torch.long), class_aware=True), "num_classes=None"),
    (dict(labels=torch.zeros(5, dtype=torch.long), num_classes=0, class_aware=True), "num_classes must be a positive int, got 0"),
])
def test_bad_input(kw, msg):
    with pytest.raises(ValueError) as e: gmm_clean_prob(torch.rand(5), **kw)
    assert msg in str(e.value)


@pytest.mark.parametrize("losses,msg", [
    (torch.tensor([0.1, float('nan'), 0.3]), "first in row 1"),
    (np.array([0.1, np.inf]), "first in row 1"),
    (torch.zeros(2, 2), "got shape (2, 2)"),
    (torch.zeros(0), "losses is empty"),
])
def test_bad_losses(losses, msg):
    with pytest.raises(ValueError) as e: gmm_clean_prob(losses)
    assert msg in str(e.value)
