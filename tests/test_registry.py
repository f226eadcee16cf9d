"The cleaner registry is the one place a cleaner is defined: one registered in a test reaches every path, and the package keeps one-way imports."
import ast, csv, re, subprocess, sys
from pathlib import Path
import numpy as np, pytest, torch
from cpc.cleaner import CLEANERS, CleanerBank, register_cleaner, check_cleaner, synthetic_case
from cpc.train import TrainConfig, Trainer, metric_columns
from cpc.issues import find_label_issues
from cpc.diagnostics import plot_auc_curves

PKG = Path(__file__).resolve().parents[1]/'cpc'

@pytest.fixture
def margin_cleaner():
    "A sixth cleaner, defined and registered here only: q = the softmax margin of the given label over the best other class, mapped to [0, 1]."
    @register_cleaner('margin_test', reads=('labels', 'probs'))
    def margin_score(ev, taught, state):
        py = ev.probs.gather(1, ev.labels[:, None]).squeeze(1)
        other = ev.probs.scatter(1, ev.labels[:, None], -1.).max(1).values
        return (1 + py - other) / 2
    yield 'margin_test'
    del CLEANERS['margin_test']

def test_registered_cleaner_reaches_bank_finder_and_columns(margin_cleaner):
    case = synthetic_case(num_classes=4, n_per_class=50, feat_dim=8)
    assert check_cleaner(margin_cleaner) == margin_cleaner
    q = CleanerBank(4, 8, dim=4).step(case.losses, case.labels, case.probs, case.features)
    assert list(q)[-1] == margin_cleaner and ((q[margin_cleaner] >= 0) & (q[margin_cleaner] <= 1)).all()
    assert {f'auc_{margin_cleaner}', f'precision_{margin_cleaner}', f'recall_{margin_cleaner}'} <= set(metric_columns())
    flagged = find_label_issues(case.labels, case.probs, cleaner=margin_cleaner)  # no features needed: it reads none
    assert flagged.shape == (200,) and 0 < flagged.sum() < 200

def test_registered_cleaner_trains_and_is_scored(margin_cleaner, fmnist_dir, tmp_path):
    cfg = TrainConfig(dataset='fashion_mnist', model='small_cnn', noise_mode='sym', noise_rate=0.5, epochs=2, warmup_epochs=1,
                      batch_size=16, eval_batch_size=64, cleaner=margin_cleaner)
    rows = Trainer(cfg, data=fmnist_dir, out=tmp_path, device='cpu', verbose=False).fit()
    assert 0 <= rows[-1][f'auc_{margin_cleaner}'] <= 1 and rows[-1]['labeled_a'] > 0
    with open(tmp_path/'samples.csv') as f: assert f'q_{margin_cleaner}_a' in next(csv.reader(f))
    plot_auc_curves(tmp_path/'metrics.csv').savefig(tmp_path/'auc.png')  # Fig. 3 reads every auc_ column

def test_unknown_registrations_are_refused():
    with pytest.raises(ValueError, match="its teacher 'nope' is not registered"): register_cleaner('x', ('features',), teacher='nope')
    with pytest.raises(ValueError, match="expected one of"): TrainConfig(cleaner='margin_test')

def test_confident_is_defined_in_one_module_only():
    "The fifth cleaner's name appears in cleaner.py (where it is registered) and in no other module of the package."
    holders = [p.name for p in PKG.glob('*.py') if p.name != '_modidx.py' and "'confident'" in p.read_text()]
    assert holders == ['cleaner.py'], holders

def _imports(path:Path):
    "(module, name) for every import of a cpc module in a module file, the module resolved to its full name; a module imported whole gives name '*'."
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            mod = node.module if node.level == 0 else 'cpc' + (f'.{node.module}' if node.module else '')
            if mod == 'cpc': yield from ((f'cpc.{a.name}', '*') for a in node.names)  # from . import x, from cpc import x
            elif (mod or '').startswith('cpc.'): yield from ((mod, a.name) for a in node.names)
        elif isinstance(node, ast.Import): yield from ((a.name, '*') for a in node.names if a.name.startswith('cpc.'))

def test_no_module_imports_a_private_name_of_another():
    bad = [f"{p.name}: from {m} import {n}" for p in sorted(PKG.glob('*.py')) for m, n in _imports(p)
           if n.startswith('_') and m != f"cpc.{p.stem}"]
    assert not bad, bad

def test_notebooks_are_numbered_in_dependency_order():
    "Every module imports only modules whose notebooks have a lower number: the notebooks read in their order."
    nb = {p.stem: re.search(r'File to edit: \.\./nbs/(\S+)\.ipynb', p.read_text()).group(1)
          for p in PKG.glob('*.py') if 'File to edit' in p.read_text()}
    assert len(nb) > 20 and nb['cleaner'].endswith('_cpc'), nb
    bad = [f"{nb[m]} imports {d} ({nb[d]})" for m in nb for d in {i.split('.')[1] for i, _ in _imports(PKG/f'{m}.py')} if d in nb and nb[d] >= nb[m]]
    assert not bad, bad

def test_cli_lists_every_registered_cleaner():
    help_text = subprocess.run([sys.executable, '-m', 'cpc.cli', '--help'], capture_output=True, text=True).stdout
    assert all(c in help_text for c in CLEANERS), help_text[-2000:]

# ---------------------------------------------------------------- data sets

@pytest.fixture
def stripes_dataset():
    "A sixth data set, defined and registered here only: 16x16 grey stripes whose angle is the class, with its own asym map and fixture."
    from cpc.data import TensorData
    from cpc.datasets import DataSpec, register_dataset, DATASETS
    from cpc.noise import ASYM_MAPS
    def fixture(root, n=(80, 40)):
        root = Path(root); root.mkdir(parents=True, exist_ok=True)
        g, r = torch.Generator().manual_seed(0), torch.arange(16.)
        for split, m in zip(('train', 'test'), n):
            y = torch.arange(m) % 4
            phase = torch.rand(m, generator=g)[:, None, None] * 6.28
            v = torch.where(y[:, None, None] % 2 == 0, r[None, :, None], r[None, None, :]) * (1 + y[:, None, None] // 2)
            x = ((torch.sin(v + phase) + 1) * 127).to(torch.uint8)[:, None]
            np.savez(root/f'{split}.npz', x=x.numpy(), y=y.numpy())
        return root
    def load(root, split, download=False, cfg=None):
        d = np.load(Path(root)/f'{split}.npz')
        return TensorData(torch.from_numpy(d['x']), torch.from_numpy(d['y']).long(), torch.arange(len(d['y'])),
                          ['h1', 'v1', 'h2', 'v2'], (0.5,), (0.3,))
    spec = register_dataset(DataSpec('stripes_test', load, (0.5,), (0.3,), asym_map=(1, 0, 3, 2), fixture=fixture,
                                     presets={'stripes-test': (dict(model='small_cnn', noise_mode='asym', noise_rate=0.4, epochs=2,
                                                                    warmup_epochs=1, batch_size=16, eval_batch_size=64), 'a test preset')}))
    yield spec
    del DATASETS['stripes_test']; ASYM_MAPS.pop('stripes_test')

def test_registered_dataset_trains_with_its_asym_map(stripes_dataset, tmp_path):
    from cpc.cli import spec_presets
    from cpc.train import field_choices
    from cpc.noise import load_noise_file
    assert 'stripes_test' in field_choices()['dataset']
    preset = spec_presets()['stripes-test']
    data = stripes_dataset.fixture(tmp_path/'data')
    rows = Trainer(preset.config, data=data, out=tmp_path/'run', device='cpu', verbose=False).fit()
    assert len(rows) == 2 and 0 <= rows[-1]['test_acc'] <= 1 and 0 <= rows[-1]['auc_cpc_awr'] <= 1
    clean = np.arange(80) % 4
    noisy = load_noise_file(tmp_path/'run'/'0.4_asym.json', 80, 4).numpy()
    moved = noisy != clean
    assert 0.3 < moved.mean() <= 0.4 and (noisy[moved] == np.array([1, 0, 3, 2])[clean[moved]]).all()  # the spec's map, nothing else

def test_dataset_spec_refusals(stripes_dataset):
    from cpc.datasets import DataSpec, register_dataset
    with pytest.raises(ValueError, match='registered already'): register_dataset(stripes_dataset)
    with pytest.raises(ValueError, match=r"image files need crop"): register_dataset(DataSpec('x_test', None, (0.5,), (0.3,), files=True))
    with pytest.raises(ValueError, match="has no asymmetric-noise map"):
        TrainConfig(dataset='clothing1m', noise_mode='asym')
