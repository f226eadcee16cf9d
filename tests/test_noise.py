"Behaviour of cpc.noise: reproducibility, bad input, noise files, CIFAR-N human labels, instance-dependent noise, Chen et al.'s CSV files."
import json

import numpy as np
import pytest
import torch
from scipy import stats

from cpc.data import DatasetLayoutError
from cpc.datasets import load_dataset
from cpc.noise import (ASYM_MAPS, CIFAR100_GROUPS, IDN_STD, idn_probs, inject_noise, load_human_labels, load_noise_file,
                       noise_file_name, noise_report, noisy_labels, save_noise_file, write_chen_fixture)

LABELS = torch.arange(10).repeat(200)  # 2,000 labels, 200 per class


@pytest.mark.parametrize('mode', ['sym', 'sym_flip', 'asym'])
def test_same_seed_same_labels(mode):
    a = inject_noise(LABELS, mode, 0.5, 10, seed=3, dataset='cifar10')
    b = inject_noise(LABELS, mode, 0.5, 10, seed=3, dataset='cifar10')
    c = inject_noise(LABELS, mode, 0.5, 10, seed=4, dataset='cifar10')
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_global_random_state_is_not_used():
    np.random.seed(0); torch.manual_seed(0)
    a = inject_noise(LABELS, 'sym', 0.5, 10)
    np.random.seed(1); torch.manual_seed(1)
    assert torch.equal(a, inject_noise(LABELS, 'sym', 0.5, 10))


def test_type_dtype_and_input_kept():
    y32 = LABELS.to(torch.int32)
    out = inject_noise(y32, 'sym', 0.5, 10)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.int32
    assert torch.equal(y32, LABELS.to(torch.int32))  # input not modified in place
    out_np = inject_noise(LABELS.numpy(), 'sym', 0.5, 10)
    assert isinstance(out_np, np.ndarray) and np.array_equal(out_np, out.numpy().astype(np.int64))


def test_modes_change_the_right_number_of_labels():
    n_chosen = round(0.3 * len(LABELS))
    assert (inject_noise(LABELS, 'sym_flip', 0.3, 10) != LABELS).sum() == n_chosen
    changed = (inject_noise(LABELS, 'sym', 0.3, 10) != LABELS).sum()
    assert 0.8 * n_chosen < changed < n_chosen  # about (K-1)/K of the chosen ones
    asym = inject_noise(LABELS, 'asym', 1.0, 10, dataset='cifar10')
    assert torch.equal(asym, torch.tensor(ASYM_MAPS['cifar10'])[LABELS])


def test_cifar100_groups_partition_and_asym_stays_in_group():
    assert len(CIFAR100_GROUPS) == 20 and all(len(g) == 5 for g in CIFAR100_GROUPS)
    assert sorted(i for g in CIFAR100_GROUPS for i in g) == list(range(100))
    group_of = {c: k for k, g in enumerate(CIFAR100_GROUPS) for c in g}
    m = ASYM_MAPS['cifar100']
    assert all(m[c] != c and group_of[m[c]] == group_of[c] for c in range(100))


# fine id -> coarse id, as in the `coarse_labels` field of the CIFAR-100 training pickle (an independent source)
CIFAR100_COARSE = [4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11, 6, 11, 5, 10, 7, 6, 13, 15, 3, 15,
                   0, 11, 1, 10, 12, 14, 16, 9, 11, 5, 5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
                   10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13, 16, 19, 2, 4, 6, 19, 5, 5, 8, 19,
                   18, 1, 2, 15, 6, 0, 17, 8, 14, 13]


def test_cifar100_groups_match_coarse_labels():
    assert [next(k for k, g in enumerate(CIFAR100_GROUPS) if f in g) for f in range(100)] == CIFAR100_COARSE


@pytest.mark.parametrize('mode,rate,dataset,expected', [
    ('sym', 0.5, None, 0.45), ('sym', 0.8, None, 0.72), ('sym', 0.9, None, 0.81), ('asym', 0.4, 'cifar10', 0.20)])
def test_dividemix_noise_levels(mode, rate, dataset, expected):
    y = np.repeat(np.arange(10), 5000)
    assert noise_report(y, inject_noise(y, mode, rate, 10, dataset=dataset), 10).rate == pytest.approx(expected, abs=0.01)


def test_noise_report_transition():
    noisy = inject_noise(LABELS, 'asym', 0.4, 10, dataset='cifar10')
    r = noise_report(LABELS, noisy, 10)
    assert np.allclose(r.transition.sum(1), 1)
    assert r.transition[9, 1] == pytest.approx(0.4, abs=0.06) and r.transition[0, 0] == 1
    assert 'actual noise rate' in repr(r)


@pytest.mark.parametrize('kwargs,match', [
    (dict(mode='sym', rate=1.5), r'noise rate must be a number in \[0, 1\], got 1.5'),
    (dict(mode='sym', rate=-0.2), r'got -0.2'),
    (dict(mode='sym', rate=float('nan')), r'got nan'),
    (dict(mode='pair', rate=0.4), r"unknown noise mode 'pair'"),
    (dict(mode='asym', rate=0.4), r'asym noise needs dataset='),
    (dict(mode='asym', rate=0.4, dataset='svhn'), r"unknown data set 'svhn'"),
    (dict(mode='sym', rate=0.4, num_classes=100, dataset='cifar10'), r'got num_classes=100'),
    (dict(mode='sym', rate=0.4, num_classes=8), r'labels must lie in \[0, 8\), found \[8, 9'),
])
def test_bad_input(kwargs, match):
    kwargs = dict(num_classes=10) | kwargs
    with pytest.raises(ValueError, match=match):
        inject_noise(LABELS, **kwargs)


def test_bad_labels():
    with pytest.raises(ValueError, match=r'found \[-1\]'):
        inject_noise(np.array([0, -1, 3]), 'sym', 0.5, 10)
    with pytest.raises(ValueError, match='integer class ids, got dtype float64'):
        inject_noise(np.array([0., 1.]), 'sym', 0.5, 10)


def test_noise_file_round_trip(tmp_path):
    assert noise_file_name(0.9, 'sym') == '0.9_sym.json'
    noisy = inject_noise(LABELS, 'sym', 0.5, 10)
    path = save_noise_file(tmp_path / noise_file_name(0.5, 'sym'), noisy)
    assert json.loads(path.read_text()) == noisy.tolist()  # DivideMix's plain list of ints
    assert torch.equal(load_noise_file(path, len(LABELS), 10), noisy)


def test_noise_file_refused(tmp_path):
    path = save_noise_file(tmp_path / '0.5_sym.json', inject_noise(LABELS, 'sym', 0.5, 10))
    with pytest.raises(ValueError, match='has 2000 labels, but the data set has 50000 samples'):
        load_noise_file(path, 50000, 10)
    with pytest.raises(ValueError, match=r'must lie in \[0, 7\)'):
        load_noise_file(path, 2000, 7)
    (tmp_path / 'dict.json').write_text('{"labels": [1, 2]}')
    with pytest.raises(ValueError, match='JSON list of integers'):
        load_noise_file(tmp_path / 'dict.json', 2, 10)
    with pytest.raises(FileNotFoundError, match='missing.json'):
        load_noise_file(tmp_path / 'missing.json', 2, 10)


def test_noisy_labels_writes_then_rereads(tmp_path):
    path = tmp_path / noise_file_name(0.4, 'asym')
    first = noisy_labels(LABELS, 'asym', 0.4, 10, path=path, dataset='cifar10')
    assert path.exists()
    again = noisy_labels(LABELS, 'asym', 0.4, 10, path=path, seed=99, dataset='cifar10')  # file wins over seed
    assert torch.equal(first, again)
    with pytest.raises(ValueError, match='has 2000 labels, but the data set has 10 samples'):
        noisy_labels(LABELS[:10], 'asym', 0.4, 10, path=path, dataset='cifar10')


@pytest.fixture
def human_file(tmp_path):
    rng = np.random.default_rng(0)
    keys = ['clean_label', 'aggre_label', 'worse_label', 'random_label1', 'random_label2', 'random_label3']
    data = {k: rng.integers(0, 10, 40) for k in keys}
    torch.save(data, tmp_path / 'CIFAR-10_human.pt')
    return tmp_path / 'CIFAR-10_human.pt', data


def test_human_labels_need_opt_in(human_file):
    path, data = human_file
    with pytest.raises(ValueError, match='allow_pickle=True'):
        load_human_labels(path, 'aggre_label')
    out = load_human_labels(path, 'aggre_label', allow_pickle=True)
    assert out.dtype == torch.int64 and np.array_equal(out.numpy(), data['aggre_label'])


def test_human_labels_unknown_key(human_file):
    path, _ = human_file
    with pytest.raises(ValueError, match=r"key 'noisy_label' not in .*available keys: \['aggre_label', 'clean_label'"):
        load_human_labels(path, 'noisy_label', allow_pickle=True)


# ---------------------------------------------------------------- instance-dependent noise (Xia et al., 2020)

@pytest.fixture(scope='module')
def fmnist():
    "The real Fashion-MNIST training set (the generator's behaviour depends on real images)."
    try: return load_dataset('fashion_mnist')
    except DatasetLayoutError: pytest.skip('Fashion-MNIST is not installed')


def truncnorm_mean(r):
    return stats.truncnorm(-r / IDN_STD, (1 - r) / IDN_STD, loc=r, scale=IDN_STD).mean()


@pytest.mark.parametrize('rate', [0.2, 0.4])
def test_idn_rate_within_two_standard_errors(fmnist, rate):
    noisy = inject_noise(fmnist.labels, 'idn', rate, 10, images=fmnist.images)
    actual, n = noise_report(fmnist.labels, noisy, 10).rate, len(noisy)
    m = truncnorm_mean(rate)  # each label is wrong with probability E[q]; the cut at 0 lifts it above r at 20%
    assert abs(actual - m) < 2 * np.sqrt(m * (1 - m) / n)
    assert abs(m - rate) < 0.006


@pytest.mark.parametrize('rate', [0.0, 0.2, 0.4, 1.0])
def test_idn_probabilities_stay_in_unit_interval(fmnist, rate):
    x, y = fmnist.images[:3000], fmnist.labels[:3000]
    for images in (x, x / 255., torch.randn(3000, 5)):  # raw pixels, ToTensor's scale, arbitrary features
        p = idn_probs(images, y, rate, 10, seed=1)
        keep = p[torch.arange(len(y)), y]  # 1 - q_i: the probability of keeping the label
        assert p.dtype == torch.float64 and ((p >= 0) & (p <= 1)).all() and ((keep >= 0) & (keep <= 1)).all()
        assert torch.allclose(p.sum(1), torch.ones(len(y), dtype=torch.float64), atol=1e-12)
    if rate == 0: assert torch.equal(inject_noise(y, 'idn', 0., 10, images=x), y)


def test_idn_same_seed_same_labels_and_no_global_state(fmnist):
    x, y = fmnist.images[:2000], fmnist.labels[:2000]
    np.random.seed(0); torch.manual_seed(0)
    a = inject_noise(y, 'idn', 0.4, 10, seed=5, images=x)
    np.random.seed(1); torch.manual_seed(1)
    assert torch.equal(a, inject_noise(y, 'idn', 0.4, 10, seed=5, images=x))
    assert not torch.equal(a, inject_noise(y, 'idn', 0.4, 10, seed=6, images=x))
    out = inject_noise(y.numpy().astype(np.int32), 'idn', 0.4, 10, seed=5, images=x.numpy())  # numpy in, numpy out
    assert isinstance(out, np.ndarray) and out.dtype == np.int32 and np.array_equal(out, a.numpy())


def test_idn_wrong_labels_concentrate_unlike_sym(fmnist):
    "A class's wrong labels go to few classes under IDN; sym spreads them over all K-1 (top-2 share about 2/9)."
    def top2_share(noisy):
        r = noise_report(fmnist.labels, noisy, 10)
        off = -np.sort(-(r.counts * (1 - np.eye(10))), 1)
        return off[:, :2].sum(1) / off.sum(1)
    idn = top2_share(inject_noise(fmnist.labels, 'idn', 0.4, 10, images=fmnist.images))
    sym = top2_share(inject_noise(fmnist.labels, 'sym', 0.4, 10))
    assert sym.max() < 0.3 and idn.min() > 0.6 and (idn > sym + 0.3).all()


def test_idn_flip_rate_ignores_the_image():
    "q_i depends on the seed only: two data sets of the same size and labels get the same keep probabilities."
    y = torch.arange(10).repeat(50)
    p1, p2 = idn_probs(torch.rand(500, 3, 4, 4), y, 0.3, 10), idn_probs(torch.rand(500, 3, 4, 4), y, 0.3, 10)
    rows = torch.arange(500)
    assert torch.equal(p1[rows, y], p2[rows, y]) and not torch.allclose(p1, p2)


def test_idn_bad_input():
    y = torch.arange(10).repeat(10)
    with pytest.raises(ValueError, match='idn noise needs images='):
        inject_noise(y, 'idn', 0.4, 10)
    with pytest.raises(ValueError, match=r'got shape \(99, 8\) for 100 labels'):
        inject_noise(y, 'idn', 0.4, 10, images=torch.zeros(99, 8))
    with pytest.raises(ValueError, match="num_classes must be an int >= 2 for 'idn'"):
        inject_noise(y * 0, 'idn', 0.4, 1, images=torch.zeros(100, 8))


def test_idn_noise_file_written_and_reread(tmp_path):
    y, x = torch.arange(10).repeat(30), torch.rand(300, 1, 6, 6)
    path = tmp_path / noise_file_name(0.4, 'idn')
    assert path.name == '0.4_idn.json'
    first = noisy_labels(y, 'idn', 0.4, 10, path=path, images=x)
    assert torch.equal(first, inject_noise(y, 'idn', 0.4, 10, images=x))
    assert torch.equal(noisy_labels(y, 'idn', 0.4, 10, path=path), first)  # the file wins; no images needed to read it


def test_chen_csv_fixture_loads(tmp_path):
    y = torch.arange(10).repeat(50)
    path = write_chen_fixture(tmp_path / 'dependent0.4.csv', y, 10, rate=0.4, seed=1)
    lines = path.read_text().splitlines()
    assert lines[0] == 'label,label_noisy' and len(lines) == 501  # pandas' to_csv(index=False) layout
    noisy = noisy_labels(y, 'idn', 0.4, 10, path=path)
    assert noise_report(y, noisy, 10).rate == 0.4
    assert torch.equal(noisy, torch.tensor([int(l.split(',')[1]) for l in lines[1:]]))
    assert torch.equal(load_noise_file(path, 500, 10), noisy)  # without clean labels: the label column is not checked
    assert not path.with_suffix('.json').exists()  # a CSV is read, never written


def test_chen_csv_only_label_noisy_column(tmp_path):
    (tmp_path / 'n.csv').write_text('label_noisy\r\n3\r\n1\r\n\r\n')  # Windows line ends, a trailing blank line
    assert load_noise_file(tmp_path / 'n.csv', 2, 10, clean=[0, 0]).tolist() == [3, 1]


@pytest.mark.parametrize('text,n,match', [
    ('label,noisy\n1,2\n', 1, r"has no 'label_noisy' column \(columns: \['label', 'noisy'\]\)"),
    ('', 0, "has no 'label_noisy' column"),
    ('label,label_noisy\n1,2\n3,4\n', 3, 'has 2 labels, but the data set has 3 samples'),
    ('label,label_noisy\n1,2\n3,12\n', 2, r'must lie in \[0, 10\), found \[12\]'),
    ('label,label_noisy\n1,2\n3,x\n', 2, "data row 1: label_noisy='x' is not an integer"),
    ('label,label_noisy\n1,2\nz,4\n', 2, "data row 1: label='z' is not an integer"),
])
def test_bad_chen_csv_refused(tmp_path, text, n, match):
    (tmp_path / 'bad.csv').write_text(text)
    with pytest.raises(ValueError, match=match):
        load_noise_file(tmp_path / 'bad.csv', n, 10)


def test_chen_csv_in_another_order_refused(tmp_path):
    y = torch.arange(10).repeat(5)
    path = write_chen_fixture(tmp_path / 'dependent0.2.csv', y, 10)
    with pytest.raises(ValueError, match=r"'label' column differs from the data set's labels in 50 of 50 rows \(first at sample 0\)"):
        noisy_labels(y.roll(1), 'idn', 0.2, 10, path=path)
    with pytest.raises(FileNotFoundError, match='missing.csv does not exist'):
        noisy_labels(y, 'idn', 0.2, 10, path=tmp_path / 'missing.csv')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_idn_same_labels_on_cuda(fmnist):
    "Every random number comes from the CPU generator; only the float64 score matmul runs on the device."
    x, y = fmnist.images[:5000], fmnist.labels[:5000]
    cpu = inject_noise(y, 'idn', 0.4, 10, seed=2, images=x)
    assert torch.equal(inject_noise(y.cuda(), 'idn', 0.4, 10, seed=2, images=x.cuda()).cpu(), cpu)
