"Loaders of cpc.data on tiny copies of each on-disk format; every layout error; nothing downloads."
import gzip, pickle, shutil
from pathlib import Path
import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms.functional import pil_to_tensor
from cpc.data import *
from cpc.data import _read_pairs
from cpc.datasets import load_dataset
from cpc.fixtures import *
from cpc.fixtures import _write_idx


@pytest.fixture(autouse=True)
def no_download(monkeypatch):
    "Fail any test that reaches torchvision's downloading data sets (the download tests swap in fakes)."
    def boom(*a, **k): raise AssertionError('a test tried to download')
    for name in ('CIFAR10', 'CIFAR100', 'FashionMNIST'): monkeypatch.setattr(torchvision.datasets, name, boom)

def _pickle(path, obj):
    with open(path, 'wb') as f: pickle.dump(obj, f, protocol=2)

def _unpickle_bytes(path):
    with open(path, 'rb') as f: return pickle.load(f, encoding='bytes')

# ---------------------------------------------------------------- TensorData, stratified_subset

def _td(n=6):
    return TensorData(torch.arange(n * 4, dtype=torch.uint8).view(n, 1, 2, 2), torch.arange(n) % 3, torch.arange(n),
                      ['a', 'b', 'c'], (0.5,), (0.25,))

def test_tensordata_subset_keeps_original_ids():
    td = _td()
    sub = td.subset(torch.tensor([5, 2]))
    assert sub.index.tolist() == [5, 2] and sub.labels.tolist() == [2, 2]
    assert torch.equal(sub.images, td.images[[5, 2]])
    assert sub.subset(torch.tensor([1])).index.tolist() == [2]  # ids survive nested subsets
    assert td.subset(td.labels == 0).index.tolist() == [0, 3]
    assert (sub.num_classes, len(sub), sub.classes) == (3, 2, ['a', 'b', 'c'])

def test_tensordata_to_device():
    td = _td().to('cpu')
    assert td.images.device.type == 'cpu' and td.images.dtype == torch.uint8

def test_tensordata_rejects_bad_fields():
    td = _td()
    with pytest.raises(ValueError, match='expected uint8'): TensorData(td.images.float(), td.labels, td.index, td.classes, (0.5,), (0.2,))
    with pytest.raises(ValueError, match=r'labels: .*expected int64 of shape \(6,\)'):
        TensorData(td.images, td.labels.int(), td.index, td.classes, (0.5,), (0.2,))
    with pytest.raises(ValueError, match=r'index: .*expected int64 of shape \(6,\)'):
        TensorData(td.images, td.labels, td.index[:3], td.classes, (0.5,), (0.2,))
    with pytest.raises(ValueError, match='one per channel'): TensorData(td.images, td.labels, td.index, td.classes, (0.5, 0.5, 0.5), (0.2,))

def test_stratified_subset_keeps_class_shares():
    y = torch.tensor([0] * 700 + [1] * 200 + [2] * 90 + [3] * 10)
    s = stratified_subset(y, 100, seed=3)
    assert torch.bincount(y[s]).tolist() == [70, 20, 9, 1]
    assert len(s.unique()) == 100 and torch.equal(s, s.sort().values)

def test_stratified_subset_rounding_sums_to_n():
    y = np.random.default_rng(0).integers(0, 7, 1000)
    for n in (0, 1, 13, 999, 1000):
        s = stratified_subset(y, n)
        assert len(s) == len(s.unique()) == n
        share = np.bincount(y[s.numpy()], minlength=7) - np.bincount(y, minlength=7) * n / 1000
        assert np.abs(share).max() < 1
    assert torch.equal(stratified_subset(list(y), 1000), torch.arange(1000))

def test_stratified_subset_seeded():
    y = torch.arange(500) % 5
    assert torch.equal(stratified_subset(y, 50, seed=1), stratified_subset(y, 50, seed=1))
    assert not torch.equal(stratified_subset(y, 50, seed=1), stratified_subset(y, 50, seed=2))

def test_stratified_subset_bad_input():
    with pytest.raises(ValueError, match=r'n=11: expected 0 <= n <= 10'): stratified_subset(torch.arange(10), 11)
    with pytest.raises(ValueError, match=r'n=-1'): stratified_subset(torch.arange(10), -1)
    with pytest.raises(ValueError, match=r'labels must be 1-D, got shape \(2, 5\)'): stratified_subset(torch.zeros(2, 5), 3)

# ---------------------------------------------------------------- CIFAR

def test_cifar10_loads_pickle_batches(cifar10_dir):
    d = load_cifar(cifar10_dir)
    assert (d.images.shape, d.images.dtype, d.labels.dtype) == ((100, 3, 32, 32), torch.uint8, torch.int64)
    assert torch.equal(d.index, torch.arange(100)) and d.classes == [f'class_{i}' for i in range(10)]
    assert d.labels.bincount().tolist() == [10] * 10 and (d.mean, d.std) == NORM_STATS['cifar10']
    raw = [_unpickle_bytes(cifar10_dir/'cifar-10-batches-py'/f'data_batch_{i}') for i in range(1, 6)]
    assert np.array_equal(d.images.reshape(100, -1).numpy(), np.concatenate([r[b'data'] for r in raw]))
    assert d.labels.tolist() == sum((r[b'labels'] for r in raw), [])
    t = load_cifar(cifar10_dir/'cifar-10-batches-py', train=False)  # the batches folder itself also works
    assert t.images.shape == (20, 3, 32, 32)
    assert t.labels.tolist() == _unpickle_bytes(cifar10_dir/'cifar-10-batches-py'/'test_batch')[b'labels']

def test_cifar_reshape_is_rgb_planes(tmp_path):
    root = write_cifar_fixture(tmp_path, n_train=5, n_test=1)
    f = root/'cifar-10-batches-py'/'data_batch_1'
    b = _unpickle_bytes(f)
    b[b'data'][0] = np.repeat(np.array([10, 20, 30], dtype=np.uint8), 1024)  # red, green, blue planes
    _pickle(f, b)
    assert load_cifar(root).images[0, :, 5, 7].tolist() == [10, 20, 30]

def test_cifar_str_keys_like_python2_files(tmp_path):
    "The published files unpickle with str keys under latin1; both key types load the same."
    root = write_cifar_fixture(tmp_path, n_train=10, n_test=4)
    ref = load_cifar(root)
    for f in (root/'cifar-10-batches-py').iterdir():
        _pickle(f, {k.decode(): v for k, v in _unpickle_bytes(f).items()})
    d = load_cifar(root)
    assert torch.equal(d.images, ref.images) and torch.equal(d.labels, ref.labels) and d.classes == ref.classes

def test_cifar100_uses_fine_labels(cifar100_dir):
    d = load_cifar(cifar100_dir, 'cifar100')
    raw = _unpickle_bytes(cifar100_dir/'cifar-100-python'/'train')
    assert d.labels.tolist() == raw[b'fine_labels'] != raw[b'coarse_labels']
    assert (d.num_classes, len(d), d.labels.bincount().tolist()) == (100, 200, [2] * 100)
    assert load_dataset('cifar100', cifar100_dir, train=False).images.shape == (100, 3, 32, 32)

def test_cifar_missing_layout_names_files_and_folders(tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"expected files \['data_batch_1', .*'test_batch', 'batches.meta'\]") as e:
        load_cifar(tmp_path)
    assert str(tmp_path/'cifar-10-batches-py') in str(e.value) and 'Pass download=True' in str(e.value)
    with pytest.raises(DatasetLayoutError, match=r"\['train', 'test', 'meta'\]"): load_cifar(tmp_path, 'cifar100')
    with pytest.raises(FileNotFoundError): load_cifar(tmp_path)  # DatasetLayoutError is a FileNotFoundError
    with pytest.raises(ValueError, match="name='cifar11': expected one of"): load_cifar(tmp_path, 'cifar11')
    with pytest.raises(ValueError, match='root=None'): load_cifar(None)

def test_cifar_partial_layout_names_missing_file(tmp_path):
    root = write_cifar_fixture(tmp_path, n_train=10, n_test=4)
    (root/'cifar-10-batches-py'/'data_batch_3').unlink()
    with pytest.raises(DatasetLayoutError, match='missing data_batch_3'): load_cifar(root)

@pytest.mark.parametrize('edit,msg', [
    (lambda b: b.pop(b'labels'), r"missing keys \['labels'\]"),
    (lambda b: b.update({b'data': b[b'data'][:, :100]}), r"expected uint8 \(N, 3072\)"),
    (lambda b: b.update({b'data': b[b'data'].astype(np.float32)}), r"'data' is float32"),
    (lambda b: b.update({b'labels': b[b'labels'][:-1]}), 'and N labels'),
    (lambda b: b.update({b'labels': [10] * len(b[b'labels'])}), r'labels span \[.*10\]; expected \[0, 10\)'),
])
def test_cifar_malformed_batch(tmp_path, edit, msg):
    root = write_cifar_fixture(tmp_path, n_train=10, n_test=4)
    f = root/'cifar-10-batches-py'/'data_batch_1'
    b = _unpickle_bytes(f); edit(b); _pickle(f, b)
    with pytest.raises(DatasetLayoutError, match=msg): load_cifar(root)

def test_cifar_not_a_pickle(tmp_path):
    root = write_cifar_fixture(tmp_path, n_train=10, n_test=4)
    (root/'cifar-10-batches-py'/'test_batch').write_bytes(b'not a pickle')
    with pytest.raises(DatasetLayoutError, match='test_batch: not a readable CIFAR pickle'): load_cifar(root, train=False)
    _pickle(root/'cifar-10-batches-py'/'test_batch', [1, 2])
    with pytest.raises(DatasetLayoutError, match='holds a list; expected a dict'): load_cifar(root, train=False)

def test_cifar_download_goes_through_torchvision(tmp_path, monkeypatch):
    calls = []
    class FakeCIFAR10:  # stands in for torchvision's downloader: writes the files where torchvision would
        def __init__(self, root, train, download):
            calls.append((root, train, download)); write_cifar_fixture(root, n_train=10, n_test=4)
    monkeypatch.setattr(torchvision.datasets, 'CIFAR10', FakeCIFAR10)
    assert len(load_cifar(tmp_path, download=True)) == 10
    assert calls == [(str(tmp_path), True, True)]
    assert len(load_cifar(tmp_path, download=True)) == 10 and len(calls) == 1  # present now: no second fetch

# ---------------------------------------------------------------- Fashion-MNIST

def test_fmnist_loads_idx(fmnist_dir):
    d = load_fashion_mnist(fmnist_dir, system_dir=None)
    assert (d.images.shape, d.images.dtype, d.num_classes) == ((60, 1, 28, 28), torch.uint8, 10)
    assert np.array_equal(d.images[:, 0].numpy(), read_idx(fmnist_dir/'train-images-idx3-ubyte.gz'))
    assert d.labels.tolist() == read_idx(fmnist_dir/'train-labels-idx1-ubyte.gz').tolist()
    assert d.labels.bincount().tolist() == [6] * 10 and d.classes[0] == 'T-shirt/top'
    assert (d.mean, d.std) == NORM_STATS['fashion_mnist']
    assert len(load_fashion_mnist(fmnist_dir, train=False, system_dir=None)) == 20
    assert len(load_dataset('fashion_mnist', fmnist_dir)) == 60

def test_fmnist_idx_header(fmnist_dir):
    with gzip.open(fmnist_dir/'t10k-labels-idx1-ubyte.gz') as f: head = f.read(8)
    assert head == bytes([0, 0, 8, 1, 0, 0, 0, 20])  # magic 0x00000801, then 20 items

def test_fmnist_search_order(fmnist_dir, tmp_path):
    raw = tmp_path/'tv'/'FashionMNIST'/'raw'
    shutil.copytree(fmnist_dir, raw)  # torchvision's download layout under root
    assert len(load_fashion_mnist(tmp_path/'tv', system_dir=None)) == 60
    # a folder the user names must hold the data: no silent fall-back to the system copy
    other = write_fmnist_fixture(tmp_path/'other', n_train=30, n_test=10)
    assert len(load_fashion_mnist(other, system_dir=fmnist_dir)) == 30
    with pytest.raises(DatasetLayoutError, match='empty'): load_fashion_mnist(tmp_path/'empty', system_dir=fmnist_dir)
    assert len(load_fashion_mnist(None, system_dir=fmnist_dir)) == 60

def test_fmnist_missing_layout(tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"expected files \['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'\]") as e:
        load_fashion_mnist(tmp_path, system_dir=tmp_path/'sys')
    assert f"{tmp_path} (missing train-images-idx3-ubyte.gz" in str(e.value) and 'Pass download=True' in str(e.value)
    with pytest.raises(DatasetLayoutError, match=r"sys \(no such folder\)"): load_fashion_mnist(None, system_dir=tmp_path/'sys')
    with pytest.raises(DatasetLayoutError, match='t10k-images-idx3-ubyte.gz'): load_fashion_mnist(None, train=False, system_dir=None)

def test_fmnist_download_goes_through_torchvision(tmp_path, monkeypatch, fmnist_dir):
    class FakeFashionMNIST:
        def __init__(self, root, train, download): shutil.copytree(fmnist_dir, Path(root)/'FashionMNIST'/'raw')
    monkeypatch.setattr(torchvision.datasets, 'FashionMNIST', FakeFashionMNIST)
    assert len(load_fashion_mnist(tmp_path, download=True, system_dir=None)) == 60

def _fm_copy(fmnist_dir, tmp_path):
    return Path(shutil.copytree(fmnist_dir, tmp_path/'fm'))

def test_fmnist_bad_magic(fmnist_dir, tmp_path):
    d = _fm_copy(fmnist_dir, tmp_path)
    with gzip.open(d/'train-images-idx3-ubyte.gz', 'wb') as f: f.write(bytes([0, 0, 0x0D, 3]) + bytes(12))  # float IDX
    with pytest.raises(DatasetLayoutError, match='magic number 00000d03; expected 0000080N'): load_fashion_mnist(d, system_dir=None)

def test_fmnist_truncated(fmnist_dir, tmp_path):
    d = _fm_copy(fmnist_dir, tmp_path)
    with gzip.open(d/'train-images-idx3-ubyte.gz', 'wb') as f: f.write(bytes([0, 0, 8, 3]) + bytes([0, 0, 0, 60, 0, 0, 0, 28, 0, 0, 0, 28]) + bytes(100))
    with pytest.raises(DatasetLayoutError, match=r'header says shape \(60, 28, 28\)'): load_fashion_mnist(d, system_dir=None)
    (d/'train-images-idx3-ubyte.gz').write_bytes(b'plain bytes, not gzip')
    with pytest.raises(DatasetLayoutError, match='not a readable gzip file'): load_fashion_mnist(d, system_dir=None)

def test_fmnist_wrong_shapes_and_labels(fmnist_dir, tmp_path):
    d = _fm_copy(fmnist_dir, tmp_path)
    _write_idx(d/'train-images-idx3-ubyte.gz', np.zeros((60, 27, 27), np.uint8))
    with pytest.raises(DatasetLayoutError, match=r'images \(60, 27, 27\) .*expected \(N, 28, 28\)'): load_fashion_mnist(d, system_dir=None)
    _write_idx(d/'train-images-idx3-ubyte.gz', np.zeros((60, 28, 28), np.uint8))
    _write_idx(d/'train-labels-idx1-ubyte.gz', np.full(60, 10, np.uint8))
    with pytest.raises(DatasetLayoutError, match=r'label 10; expected labels in \[0, 10\)'): load_fashion_mnist(d, system_dir=None)

@pytest.mark.skipif(not (FMNIST_SYSTEM_DIR/FMNIST_FILES[False][0]).exists(), reason='Debian dataset-fashion-mnist not installed')
def test_fmnist_system_copy():
    d = load_fashion_mnist(train=False)
    assert d.images.shape == (10000, 1, 28, 28) and d.labels.bincount().tolist() == [1000] * 10

def test_load_dataset_unknown():
    with pytest.raises(ValueError, match=r"dataset='svhn': expected one of \('cifar10', 'cifar100', 'fashion_mnist', 'clothing1m', 'webvision', 'own'\)"):
        load_dataset('svhn', '.')

# ---------------------------------------------------------------- Clothing1M

def test_clothing1m_splits_and_labels(clothing1m_dir):
    noisy = dict(zip(*_read_pairs(clothing1m_dir/'noisy_label_kv.txt')))
    clean = dict(zip(*_read_pairs(clothing1m_dir/'clean_label_kv.txt')))
    tr = Clothing1M(clothing1m_dir)
    assert (len(tr), tr.num_classes, tr.labels.dtype) == (28, 14, torch.int64)
    assert tr.keys == (clothing1m_dir/'noisy_train_key_list.txt').read_text().split() and tr.keys[0].startswith('images/')
    assert tr.labels.tolist() == [noisy[k] for k in tr.keys]
    assert any(noisy[k] != clean[k] for k in tr.keys if k in clean)  # train really uses the noisy labels
    for split in ('val', 'test'):
        ds = Clothing1M(clothing1m_dir, split)
        assert len(ds) == 6 and ds.labels.tolist() == [clean[k] for k in ds.keys]
    assert (tr.mean, tr.std) == NORM_STATS['clothing1m']

def test_clothing1m_items_and_loader(clothing1m_dir):
    ds = Clothing1M(clothing1m_dir, 'train', transform=pil_to_tensor)
    img, label, i = ds[5]
    assert (img.shape, img.dtype, label, i) == ((3, 8, 8), torch.uint8, int(ds.labels[5]), 5)
    x, y, idx = next(iter(DataLoader(ds, batch_size=10, shuffle=False)))
    assert x.shape == (10, 3, 8, 8) and torch.equal(y, ds.labels[:10]) and idx.tolist() == list(range(10))
    assert isinstance(Clothing1M(clothing1m_dir, 'test')[0][0], Image.Image)

def _c1m_copy(src, tmp_path):
    return Path(shutil.copytree(src, tmp_path/'c1m'))

def test_clothing1m_missing_files(clothing1m_dir, tmp_path):
    d = _c1m_copy(clothing1m_dir, tmp_path)
    (d/'clean_val_key_list.txt').unlink()
    with pytest.raises(DatasetLayoutError, match=r"Clothing1M: expected files \['noisy_label_kv.txt', 'clean_label_kv.txt', "
                                                 r"'noisy_train_key_list.txt', 'clean_val_key_list.txt', 'clean_test_key_list.txt'\]") as e:
        Clothing1M(d, 'train')
    assert f'{d} (missing clean_val_key_list.txt)' in str(e.value)
    with pytest.raises(DatasetLayoutError, match='no such folder'): Clothing1M(tmp_path/'nope')

def test_clothing1m_malformed(clothing1m_dir, tmp_path):
    d = _c1m_copy(clothing1m_dir, tmp_path)
    kv = d/'noisy_label_kv.txt'
    lines = kv.read_text().splitlines()
    kv.write_text('\n'.join(lines[:-1]) + '\n')  # the last train key loses its label
    with pytest.raises(DatasetLayoutError, match=r'1 keys of noisy_train_key_list.txt have no label in noisy_label_kv.txt'):
        Clothing1M(d)
    kv.write_text('\n'.join(lines[:3] + ['images/0/00/x.jpg three'] + lines[3:]) + '\n')
    with pytest.raises(DatasetLayoutError, match=r"noisy_label_kv.txt line 4: 'images/0/00/x.jpg three'; expected 'key label'"):
        Clothing1M(d)
    kv.write_text('\n'.join(l.split()[0] + ' 14' for l in lines) + '\n')
    with pytest.raises(DatasetLayoutError, match=r'labels span \[14, 14\]; expected \[0, 14\)'): Clothing1M(d)

def test_clothing1m_missing_images(clothing1m_dir, tmp_path):
    d = _c1m_copy(clothing1m_dir, tmp_path)
    shutil.rmtree(d/'images')
    with pytest.raises(DatasetLayoutError, match=r'listed images not found .*images/0/00/1000000.jpg'): Clothing1M(d)

def test_clothing1m_bad_split(clothing1m_dir):
    with pytest.raises(ValueError, match="split='noisy': expected 'train', 'val' or 'test'"): Clothing1M(clothing1m_dir, 'noisy')

# ---------------------------------------------------------------- WebVision and ILSVRC12 val

def test_webvision_first_classes(webvision_dir):
    tr = WebVision(webvision_dir, num_classes=4)
    assert (len(tr), tr.num_classes, tr.labels.bincount().tolist()) == (12, 4, [3, 3, 3, 3])
    assert tr.keys[0] == 'google/q0001/0_0.jpg' and tr.path(0) == str(webvision_dir/'google'/'q0001'/'0_0.jpg')
    assert tr.classes == [f'n{c:08d}' for c in range(4)] and (tr.mean, tr.std) == NORM_STATS['webvision']
    assert len(WebVision(webvision_dir, num_classes=6)) == 18  # the extra classes are in the lists
    va = WebVision(webvision_dir, 'val', num_classes=4, transform=pil_to_tensor)
    assert len(va) == 8 and Path(va.path(0)).parent == webvision_dir/'val_images_256'
    x, y, idx = next(iter(DataLoader(va, batch_size=8)))
    assert x.shape == (8, 3, 8, 8) and torch.equal(y, va.labels) and idx.tolist() == list(range(8))

def test_webvision_without_synsets(webvision_dir, tmp_path):
    d = Path(shutil.copytree(webvision_dir, tmp_path/'wv'))
    (d/'info'/'synsets.txt').unlink()
    assert WebVision(d, num_classes=4).classes == ['0', '1', '2', '3']

def test_webvision_layout_errors(webvision_dir, tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"WebVision: expected files \['info/train_filelist_google.txt'\]"): WebVision(tmp_path)
    d = Path(shutil.copytree(webvision_dir, tmp_path/'wv'))
    shutil.rmtree(d/'val_images_256')
    with pytest.raises(DatasetLayoutError, match=r"\['info/val_filelist.txt', 'val_images_256'\].*missing val_images_256"):
        WebVision(d, 'val', num_classes=4)
    shutil.rmtree(d/'google')
    with pytest.raises(DatasetLayoutError, match='WebVision train: .* listed images not found .*q0001/0_0.jpg'): WebVision(d, num_classes=4)
    (d/'info'/'train_filelist_google.txt').write_text('google/q0001/0_0.jpg\n')
    with pytest.raises(DatasetLayoutError, match='line 1'): WebVision(d)
    with pytest.raises(ValueError, match="split='test'"): WebVision(webvision_dir, 'test')
    with pytest.raises(ValueError, match='num_classes=1001: expected 1..1000'): WebVision(webvision_dir, num_classes=1001)

def test_imagenet_val_by_folder(imagenet_val_dir):
    ds = ImageNetVal(imagenet_val_dir, num_classes=4)
    assert ds.labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3] and ds.classes == [f'n{c:08d}' for c in range(4)]
    assert all(Path(ds.path(i)).parent.name == ds.classes[y] for i, y in enumerate(ds.labels.tolist()))
    assert ds.keys[0] == 'n00000000/ILSVRC2012_val_00000001.JPEG'
    img, y, i = ImageNetVal(imagenet_val_dir, num_classes=6, transform=pil_to_tensor)[11]
    assert (img.shape, y, i) == ((3, 8, 8), 5, 11)

def test_imagenet_val_numeric_folders(tmp_path):
    for c in range(12):  # DivideMix names the class folders 0, 1, ..., sorted as numbers, not as text
        (tmp_path/str(c)).mkdir(); Image.new('RGB', (4, 4)).save(tmp_path/str(c)/'a.JPEG')
    ds = ImageNetVal(tmp_path, num_classes=12)
    assert ds.classes == [str(c) for c in range(12)]
    assert ds.keys == [f'{c}/a.JPEG' for c in range(12)]

def test_imagenet_val_errors(imagenet_val_dir, tmp_path):
    with pytest.raises(DatasetLayoutError, match=r'found 6 class folders in .*; expected at least 50'): ImageNetVal(imagenet_val_dir)
    with pytest.raises(DatasetLayoutError, match='found 0 class folders'): ImageNetVal(tmp_path/'nope', num_classes=1)
    (tmp_path/'n0').mkdir(); (tmp_path/'n0'/'readme.txt').write_text('x')
    with pytest.raises(DatasetLayoutError, match='n0 holds no .JPEG/.jpg/.png images'): ImageNetVal(tmp_path, num_classes=1)

# ---------------------------------------------------------------- fixtures themselves

def test_fixture_writers_are_deterministic(tmp_path):
    a = load_cifar(write_cifar_fixture(tmp_path/'a', n_train=10, n_test=2, seed=1))
    b = load_cifar(write_cifar_fixture(tmp_path/'b', n_train=10, n_test=2, seed=1))
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
