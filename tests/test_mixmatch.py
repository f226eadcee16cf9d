"Hand-computed checks of cpc.mixmatch, parity with DivideMix's reference formulas, and mixup randomness."
import math

import numpy as np
import pytest
import torch
from scipy import stats

from cpc.mixmatch import (co_guess, co_refine, dividemix_targets, linear_rampup, mixmatch_mix, neg_entropy,
                          prior_penalty, semi_loss, sharpen)


def P(*rows):
    "Logits whose softmax is exactly the given probability rows."
    return torch.tensor(rows, dtype=torch.float64).log().float()


def close(a, b, tol=1e-5):
    return torch.allclose(torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32), atol=tol)


# ---- hand-computed values --------------------------------------------------------------------------------------

def test_sharpen_hand():
    assert close(sharpen(torch.tensor([0.6, 0.4]), 0.5), torch.tensor([0.36, 0.16]) / 0.52)
    assert close(sharpen(torch.tensor([[0.6, 0.4]]), 1.0), torch.tensor([[0.6, 0.4]]))
    q = sharpen(torch.tensor([0.2, 0.3, 0.5]), 0.25)
    assert close(q, torch.tensor([0.0016, 0.0081, 0.0625]) / 0.0722)


def test_co_guess_hand():
    # mean of [.6,.4], [.8,.2], [.5,.5], [.7,.3] = [.65,.35] -> [.4225,.1225]/.545
    q = co_guess(P([0.6, 0.4]), P([0.8, 0.2]), P([0.5, 0.5]), P([0.7, 0.3]), T=0.5)
    assert close(q, torch.tensor([[0.4225, 0.1225]]) / 0.545)


def test_co_guess_detached():
    l = torch.randn(3, 4, requires_grad=True)
    assert not co_guess(l, l, l, l).requires_grad


def test_co_refine_hand():
    # predictions [.2,.8] and [.4,.6] -> mean [.3,.7]; label [1,0]
    x1, x2 = P([0.2, 0.8], [0.2, 0.8], [0.2, 0.8]), P([0.4, 0.6], [0.4, 0.6], [0.4, 0.6])
    y = torch.tensor([[1., 0.]] * 3)
    q = co_refine(x1, x2, y, torch.tensor([0.5, 0.0, 1.0]), T=0.5)
    expected = torch.tensor([[0.4225 / 0.545, 0.1225 / 0.545],   # w=.5: [.65,.35]
                             [0.09 / 0.58, 0.49 / 0.58],         # w=0: [.3,.7]
                             [1.0, 0.0]])                        # w=1: the label
    assert close(q, expected)
    assert close(co_refine(x1, x2, y, torch.tensor([[0.5], [0.0], [1.0]])), expected)
    assert not co_refine(x1.requires_grad_(), x2, y, torch.ones(3)).requires_grad


def test_dividemix_targets_order():
    x1, x2 = P([0.2, 0.8], [0.9, 0.1]), P([0.4, 0.6], [0.7, 0.3])
    u = P([0.6, 0.4], [0.5, 0.5], [0.3, 0.7])
    labels, w = torch.tensor([0, 1]), torch.tensor([0.5, 0.25])
    t = dividemix_targets(x1, x2, labels, w, u, u, u, u, T=0.5)
    tx = co_refine(x1, x2, torch.eye(2)[labels], w, 0.5)
    tu = sharpen(torch.tensor([[0.6, 0.4], [0.5, 0.5], [0.3, 0.7]]), 0.5)
    assert t.shape == (2 + 2 + 3 + 3, 2)
    assert close(t, torch.cat([tx, tx, tu, tu]))


def test_mixmatch_mix_hand():
    xs = torch.tensor([[0.], [1.], [2.], [3.]])
    ts = torch.tensor([[1., 0.], [0., 1.], [1., 0.], [0., 1.]])
    mx, mt, lam = mixmatch_mix(xs, ts, lam=0.75, perm=torch.tensor([1, 0, 3, 2]))
    assert close(mx, torch.tensor([[0.25], [0.75], [2.25], [2.75]]))
    assert close(mt, torch.tensor([[0.75, 0.25], [0.25, 0.75], [0.75, 0.25], [0.25, 0.75]]))
    assert lam == 0.75


def test_linear_rampup_hand():
    assert linear_rampup(9.99, 10) == 0.0
    assert linear_rampup(10.5, 10) == 0.5 / 16
    assert linear_rampup(18, 10) == 0.5
    assert linear_rampup(100, 10) == 1.0
    assert linear_rampup(12, 10, rampup_length=4) == 0.5


def test_semi_loss_hand():
    Lx, Lu, w = semi_loss(P([0.5, 0.5]), torch.tensor([[1., 0.]]), P([0.75, 0.25]), torch.tensor([[1., 0.]]),
                          lambda_u=25, epoch=13, warm_up=10)
    assert math.isclose(Lx.item(), math.log(2), rel_tol=1e-6)
    assert math.isclose(Lu.item(), 0.0625, rel_tol=1e-6)          # (.25^2 + .25^2) / 2
    assert math.isclose(w, 25 * 3 / 16)


def test_prior_penalty_hand():
    # mean prediction [.75,.25]: .5 ln(.5/.75) + .5 ln(.5/.25) = .5 ln(4/3)
    assert math.isclose(prior_penalty(P([0.9, 0.1], [0.6, 0.4])).item(), 0.5 * math.log(4 / 3), rel_tol=1e-5)
    assert abs(prior_penalty(P([0.9, 0.1], [0.1, 0.9])).item()) < 1e-6
    assert abs(prior_penalty(P([0.9, 0.1], [0.6, 0.4]), torch.tensor([0.75, 0.25])).item()) < 1e-6


def test_neg_entropy_hand():
    assert math.isclose(neg_entropy(P([0.5, 0.5])).item(), -math.log(2), rel_tol=1e-6)
    expected = (-math.log(2) + 0.9 * math.log(0.9) + 0.1 * math.log(0.1)) / 2
    assert math.isclose(neg_entropy(P([0.5, 0.5], [0.9, 0.1])).item(), expected, rel_tol=1e-5)
    assert neg_entropy(torch.tensor([[1000., 0.]])).item() == 0.0   # saturated logits stay finite


# ---- parity with the DivideMix reference code (written out literally) on random inputs -------------------------

def test_parity_with_dividemix_reference():
    g = torch.Generator().manual_seed(0)
    B, K, T, lambda_u = 6, 10, 0.5, 25
    lo = [torch.randn(B, K, generator=g) * 3 for _ in range(6)]
    labels, w = torch.randint(0, K, (B,), generator=g), torch.rand(B, generator=g)
    # reference (DivideMix Train_cifar.py)
    pu = sum(torch.softmax(o, dim=1) for o in lo[2:]) / 4
    ptu = pu ** (1 / T); ref_tu = ptu / ptu.sum(dim=1, keepdim=True)
    y = torch.zeros(B, K).scatter_(1, labels.view(-1, 1), 1)
    px = (torch.softmax(lo[0], dim=1) + torch.softmax(lo[1], dim=1)) / 2
    px = w.view(-1, 1) * y + (1 - w.view(-1, 1)) * px
    ptx = px ** (1 / T); ref_tx = ptx / ptx.sum(dim=1, keepdim=True)
    assert close(co_guess(*lo[2:], T=T), ref_tu) and close(co_refine(lo[0], lo[1], y, w, T), ref_tx)
    assert close(dividemix_targets(*lo[:2], labels, w, *lo[2:], T=T), torch.cat([ref_tx, ref_tx, ref_tu, ref_tu]))

    logits, targets = torch.randn(4 * B, K, generator=g), torch.rand(4 * B, K, generator=g).softmax(1)
    epoch, warm_up = 12 + 7 / 20, 10
    ref_Lx = -torch.mean(torch.sum(torch.log_softmax(logits[:2 * B], dim=1) * targets[:2 * B], dim=1))
    ref_Lu = torch.mean((torch.softmax(logits[2 * B:], dim=1) - targets[2 * B:]) ** 2)
    ref_w = lambda_u * float(np.clip((epoch - warm_up) / 16, 0.0, 1.0))
    Lx, Lu, wu = semi_loss(logits[:2 * B], targets[:2 * B], logits[2 * B:], targets[2 * B:], lambda_u, epoch, warm_up)
    assert close(Lx, ref_Lx) and close(Lu, ref_Lu) and math.isclose(wu, ref_w)

    prior = torch.ones(K) / K
    pred_mean = torch.softmax(logits, dim=1).mean(0)
    assert close(prior_penalty(logits), torch.sum(prior * torch.log(prior / pred_mean)))
    probs = torch.softmax(logits, dim=1)
    assert close(neg_entropy(logits), torch.mean(torch.sum(probs.log() * probs, dim=1)))


def test_penalties_have_gradients():
    logits = torch.randn(8, 5, requires_grad=True)
    (prior_penalty(logits) + neg_entropy(logits)).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


# ---- mixup randomness -------------------------------------------------------------------------------------------

def test_mixmatch_mix_reproducible_under_seed():
    x, t = torch.randn(16, 3, 4, 4), torch.rand(16, 10).softmax(1)
    a = mixmatch_mix(x, t, 4.0, generator=torch.Generator().manual_seed(123))
    b = mixmatch_mix(x, t, 4.0, generator=torch.Generator().manual_seed(123))
    c = mixmatch_mix(x, t, 4.0, generator=torch.Generator().manual_seed(124))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and a[2] == b[2]
    assert a[2] != c[2]
    torch.manual_seed(7); d = mixmatch_mix(x, t, 4.0)
    torch.manual_seed(7); e = mixmatch_mix(x, t, 4.0)
    assert torch.equal(d[0], e[0]) and d[2] == e[2]


def test_mixmatch_mix_is_a_permutation_mix():
    x, t = torch.randn(12, 7), torch.rand(12, 3).softmax(1)
    mx, mt, lam = mixmatch_mix(x, t, 4.0, generator=torch.Generator().manual_seed(0))
    partner = (mx - lam * x) / (1 - lam)
    idx = torch.cdist(partner, x).argmin(1)
    assert torch.equal(idx.sort().values, torch.arange(12))          # a permutation
    assert close(mt, lam * t + (1 - lam) * t[idx])                     # targets mixed with the same partners
    assert close(mt.sum(1), torch.ones(12))


@pytest.mark.parametrize("alpha", [0.5, 4.0])
def test_mixmatch_lam_distribution(alpha):
    xs, ts = torch.zeros(4, 1), torch.eye(4)
    g = torch.Generator().manual_seed(0)
    lams = np.array([mixmatch_mix(xs, ts, alpha, generator=g)[2] for _ in range(500)])
    assert lams.min() >= 0.5 and lams.max() <= 1.0
    # max(l, 1-l) with l ~ Beta(a, a) has CDF 2F(t) - 1 on [0.5, 1]
    assert stats.kstest(lams, lambda s: 2 * stats.beta.cdf(s, alpha, alpha) - 1).pvalue > 0.01


# ---- bad input --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("T", [0, -0.5])
def test_bad_temperature(T):
    l = torch.zeros(2, 3)
    for fn in (lambda: sharpen(l.softmax(1), T), lambda: co_guess(l, l, l, l, T),
               lambda: co_refine(l, l, torch.eye(3)[:2], torch.ones(2), T)):
        with pytest.raises(ValueError, match=f"T={T}"): fn()


def test_bad_alpha_lam_perm():
    x, t = torch.zeros(4, 1), torch.eye(4)
    with pytest.raises(ValueError, match="alpha=0"): mixmatch_mix(x, t, alpha=0)
    with pytest.raises(ValueError, match="alpha=-1"): mixmatch_mix(x, t, alpha=-1)
    with pytest.raises(ValueError, match="lam=-0.1"): mixmatch_mix(x, t, lam=-0.1)
    with pytest.raises(ValueError, match=r"\(3,\)"): mixmatch_mix(x, t, perm=torch.arange(3))


def test_bad_shapes():
    l = torch.zeros(3, 4)
    with pytest.raises(ValueError, match=r"\(3, 5\)"): co_guess(l, l, l, torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"\(2,\)"): co_refine(l, l, torch.eye(4)[:3], torch.ones(2))
    with pytest.raises(ValueError, match=r"\(4, 4\)"): mixmatch_mix(torch.zeros(3, 1), torch.eye(4))
    with pytest.raises(ValueError, match=r"\(3, 5\)"): semi_loss(l, torch.zeros(3, 5), l, l, 25, 13, 10)
    with pytest.raises(ValueError, match=r"\(5,\)"): prior_penalty(l, torch.ones(5) / 5)
    with pytest.raises(ValueError, match="strictly positive"): prior_penalty(l, torch.tensor([0.5, 0.5, 0., 0.]))
    with pytest.raises(ValueError, match=r"\(4,\)"): neg_entropy(torch.zeros(4))
    with pytest.raises(ValueError, match="rampup_length=0"): linear_rampup(12, 10, 0)
