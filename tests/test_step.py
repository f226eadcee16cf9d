"The training step as a GPU sees it, checked on the CPU: host syncs and aten ops per step, fused forwards, graph fallback."
import dataclasses, warnings
import pytest, torch
from cpc.augment import _draw_autoaugment, apply_autoaugment, strong_augment
from cpc.steptools import OpCounter, capture_cuda_graph
from cpc.train import TrainConfig, Trainer

SMALL = dict(dataset='fashion_mnist', model='small_cnn', noise_mode='sym', noise_rate=0.5, warmup_epochs=1, epochs=3,
             batch_size=8, eval_batch_size=32, cpc_epochs=1)

def _trainer(tmp_path, fmnist_dir, **kw):
    return Trainer(TrainConfig(**{**SMALL, **kw}), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False)

def _weights(net): return torch.cat([t.float().flatten() for t in net.state_dict().values()])

def _one_step(tr, k=0):
    "Count one SSL step of network k, from drawing its batches to opt.step(), after one uncounted step."
    n = len(tr.train)
    lab, unl, w = tr.method.ssl_split(1, k, torch.full((n,), 0.9), torch.arange(n) % 2 == 0, None)
    step = tr.method.step('ssl', tr.method.nets[k], tr.method.opts[k])
    tr.method.nets[k].train(); tr.method.nets[1 - k].eval()
    batches = tr.method.ssl_inputs(1, lab, unl, w)
    inputs, steady = next(batches); step(*inputs, steady=steady)
    with OpCounter() as c:
        inputs, steady = next(batches)
        step(*inputs, steady=steady)
    return c

# The bounds are about 20% above the counts of the small CNN (weak views: 425 four forwards, 397 fused; strong views:
# 1,089 and 1,061): a loop over groups of images or over samples would multiply them.
@pytest.mark.parametrize('strong, fuse, bound', [(False, 'off', 510), (False, 'on', 480), (True, 'off', 1300), (True, 'on', 1270)])
def test_ssl_step_has_no_host_sync(tmp_path, fmnist_dir, strong, fuse, bound):
    c = _one_step(_trainer(tmp_path, fmnist_dir, strong_aug=strong, fuse_views=fuse))
    assert c.n_syncs == 0, c.syncs
    assert c.total <= bound, c.total

def test_warmup_step_has_no_host_sync(tmp_path, fmnist_dir):
    tr = _trainer(tmp_path, fmnist_dir)
    step, idx = tr.method.step('ce', tr.method.nets[0], tr.method.opts[0]), torch.arange(len(tr.train))
    batches = tr.method.train_batches(idx, ('weak',), tr.cfg.warmup_batch)
    b, (x,) = next(batches); step(x, tr.train.labels[b])
    with OpCounter() as c:
        b, (x,) = next(batches)
        step(x, tr.train.labels[b])
    assert c.n_syncs == 0, c.syncs

def test_strong_augmentation_of_64_images_in_150_ops():
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    d = _draw_autoaugment(x, torch.Generator().manual_seed(0))
    apply_autoaugment(x, *d)  # tables are built once per size and device
    with OpCounter() as c: apply_autoaugment(x, *d)
    assert c.total <= 150 and c.n_syncs == 0, (c.total, c.syncs)
    with OpCounter() as c: strong_augment(x, (0.5,) * 3, (0.25,) * 3, generator=torch.Generator().manual_seed(1))
    assert c.n_syncs == 0 and c.total <= 200, (c.total, c.syncs)

def test_fused_views_train_like_four_forwards(tmp_path, fmnist_dir):
    "One SSL epoch from the same state with the four no-grad forwards fused or not: same weights and BatchNorm statistics."
    out = []
    for fuse in ('off', 'on'):
        tr = _trainer(tmp_path/fuse, fmnist_dir, strong_aug=True, fuse_views=fuse)
        n = len(tr.train)
        tr.method.ssl_epoch(1, 0, torch.full((n,), 0.8), torch.arange(n) % 3 != 0)  # 40 labeled, 20 unlabeled: unequal chunks at the end
        out.append(_weights(tr.method.nets[0]))
    assert (out[0] - out[1]).abs().max() < 1e-5

def test_fuse_and_graph_defaults_follow_the_device(tmp_path, fmnist_dir):
    tr = _trainer(tmp_path, fmnist_dir)
    assert not tr.rt.fuse_views and not tr.rt.cuda_graphs  # 'auto' on the CPU
    assert _trainer(tmp_path/'on', fmnist_dir, fuse_views='on').rt.fuse_views
    with pytest.raises(ValueError, match="cuda_graphs='on' needs one process on a CUDA device"):
        _trainer(tmp_path/'g', fmnist_dir, cuda_graphs='on')
    with pytest.raises(ValueError, match="fuse_views='fast'"): TrainConfig(fuse_views='fast')

def _faithful(step, inputs, restore):
    "A stand-in for capture_cuda_graph whose replay is the step itself (one warm-up call sets the output's shape)."
    out = step(*inputs).clone()
    restore()
    return (lambda: out.copy_(step(*inputs))), out

def _broken(step, inputs, restore):
    "A stand-in whose replay also changes a weight: what a wrong graph would do."
    replay, out = _faithful(step, inputs, restore)
    def bad():
        replay()
        with torch.no_grad(): _broken.param.add_(0.01)
    return bad, out

@pytest.mark.parametrize('capture', ['faithful', 'broken'])
def test_trainer_graph_path_matches_eager_or_falls_back(tmp_path, fmnist_dir, capture):
    "Graphed SSL and warm-up epochs give the eager weights; a replay that differs is caught with one warning, and training goes on eagerly."
    def run(cap):
        tr = _trainer(tmp_path/str(cap), fmnist_dir, fuse_views='on')
        _broken.param = next(tr.method.nets[0].parameters())
        for kind in ('ce', 'ssl'): tr.method.step(kind, tr.method.nets[0], tr.method.opts[0]).capture = cap
        n = len(tr.train)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            tr.method.warmup_epoch(0, 0)
            tr.method.ssl_epoch(1, 0, torch.full((n,), 0.8), torch.arange(n) % 2 == 0)
        return _weights(tr.method.nets[0]), tr.method.step('ssl', tr.method.nets[0], tr.method.opts[0]), [str(w.message) for w in caught]
    eager, _, _ = run(None)
    weights, ssl, msgs = run(_faithful if capture == 'faithful' else _broken)
    assert (weights - eager).abs().max() < 1e-6
    if capture == 'faithful': assert ssl.replays > 0 and msgs == []
    else:
        assert ssl.replays == 0 and ssl.capture is None
        assert sum('differs from the eager' in m for m in msgs) == 2  # the warm-up step and the SSL step, once each

@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_cuda_graph_replay_equals_eager(tmp_path, fmnist_dir):
    tr = Trainer(TrainConfig(**SMALL), data=fmnist_dir, out=tmp_path, device='cuda', verbose=False)
    assert tr.rt.cuda_graphs
    tr.method.warmup_epoch(0, 0)
    step = tr.method.step('ce', tr.method.nets[0], tr.method.opts[0])
    assert step.capture is capture_cuda_graph

@pytest.mark.parametrize('capture', ['faithful', 'broken'])
def test_cpc_update_graph_path_matches_eager(capture):
    "PrototypeCleaner.update with its minibatch step replayed (stand-in recorders): the eager result, or one warning and eager."
    from cpc.cleaner import PrototypeCleaner
    from cpc.steptools import GraphStep
    g = torch.Generator().manual_seed(0)
    v, y = torch.randn(700, 16, generator=g), torch.randint(0, 4, (700,), generator=g)
    clean, p = torch.rand(700, generator=g) > 0.4, torch.softmax(torch.randn(700, 4, generator=g), 1)
    def run(cap):
        cl = PrototypeCleaner(4, 16, dim=8, batch_size=128, seed=3)
        _broken.param = cl.prototypes
        cl._graph = GraphStep(cl._minibatch_step, [cl.proj, cl.prototypes], [cl.opt], cap, 'CPC update step')
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            out = [cl.update(v, y, clean, p)['loss'] for _ in range(3)]
        return out, cl.clean_prob(v, y), cl._graph, [str(w.message) for w in caught]
    eager = run(None)
    losses, q, graph, msgs = run(_faithful if capture == 'faithful' else _broken)
    assert torch.allclose(torch.tensor(losses), torch.tensor(eager[0]), atol=1e-6) and torch.allclose(q, eager[1], atol=1e-6)
    if capture == 'faithful': assert graph.replays == 3 * 5 - 2 and msgs == []  # 5 full minibatches of 128 per update
    else: assert graph.replays == 0 and len(msgs) == 1 and 'CPC update step' in msgs[0]
