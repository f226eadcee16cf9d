"Issue 35, part B: data loaders, noise files, input checks, the GMM and the cleaners' arguments under careless or hostile input."
import errno, json, os, pickle, shutil, time
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from cpc.checks import as_tensor, check_labels, check_losses, check_mask
from cpc.cleaner import CleanerBank, PrototypeCleaner
from cpc.data import Clothing1M, DatasetLayoutError, ImageReadError, WebVision, load_cifar, load_fashion_mnist, stratified_subset
from cpc.fixtures import write_cifar_fixture
from cpc.gmm import clean_posterior, fit_gmm, gmm_log_resp, init_gmm, kmeans_1d
from cpc.noise import (idn_probs, inject_noise, load_human_labels, load_noise_file, noise_file_name, noise_origin_path,
                       noisy_labels, save_noise_file)
from cpc.cli import main


def cli(argv, capsys):
    "Run `main(argv)` in-process; return (exit code, stderr)."
    try: code = main(argv)
    except SystemExit as e: code = e.code
    return code, capsys.readouterr().err

def shared_nest(depth:int)->list:
    "A list that pickles in a few hundred bytes but expands to 2**depth integers: each level holds the one below twice."
    a = [0]
    for _ in range(depth): a = [a, a]
    return a

def pickle_dump(path, obj):
    with open(path, 'wb') as f: pickle.dump(obj, f, protocol=2)

def pickle_load(path):
    with open(path, 'rb') as f: return pickle.load(f, encoding='bytes')

# ---------------------------------------------------------------- bad 4: idn noise and non-finite images

def test_idn_refuses_non_finite_images():
    y = np.arange(20) % 4
    img = torch.rand(20, 3, 4, 4)
    img[3, 0, 1, 2] = float('nan')
    with pytest.raises(ValueError, match=r'images contain 1 non-finite value\(s\) \(first in row 3\)'):
        inject_noise(y, 'idn', 0.4, 4, seed=0, images=img)
    with pytest.raises(ValueError, match=r'images contain 960 non-finite value\(s\) \(first in row 0\)'):
        inject_noise(y, 'idn', 0.4, 4, seed=0, images=torch.full((20, 3, 4, 4), float('inf')))
    with pytest.raises(ValueError, match='images contain 1 non-finite'): idn_probs(img, y, 0.4, 4)
    assert (inject_noise(y, 'idn', 0.4, 4, seed=0, images=img.nan_to_num()) != y).any()  # finite images still work

# ---------------------------------------------------------------- bad 5: shared nested lists in pickles

def test_cifar_batch_with_shared_nested_labels_is_refused_at_once(tmp_path):
    root = write_cifar_fixture(tmp_path, 'cifar10', n_train=50, n_test=10)
    batch = root/'cifar-10-batches-py'/'data_batch_1'
    d = pickle_load(batch)
    d[b'labels'] = [0] * 9 + [shared_nest(20)]
    pickle_dump(batch, d)
    assert batch.stat().st_size < 100_000
    t = time.perf_counter()
    with pytest.raises(DatasetLayoutError, match=r"data_batch_1: 'labels' holds list values that are not all integers .*; item 9 is a list; expected a flat list of integers"):
        load_cifar(root)
    assert time.perf_counter() - t < 5
    d[b'labels'] = shared_nest(20)  # the whole label entry nested
    pickle_dump(batch, d)
    with pytest.raises(DatasetLayoutError, match="item 0 is a list; expected a flat list of integers"): load_cifar(root)
    d[b'labels'], d[b'data'] = [0] * 10, shared_nest(20)  # the pixels as nested lists instead of an array
    pickle_dump(batch, d)
    with pytest.raises(DatasetLayoutError, match="'data' is a list; expected a uint8 numpy array"): load_cifar(root)

def test_cifar_meta_with_shared_nested_names_is_refused(tmp_path):
    root = write_cifar_fixture(tmp_path, 'cifar10', n_train=50, n_test=10)
    meta = root/'cifar-10-batches-py'/'batches.meta'
    d = pickle_load(meta)
    d[b'label_names'] = d[b'label_names'][:9] + [shared_nest(20)]
    pickle_dump(meta, d)
    with pytest.raises(DatasetLayoutError, match="'label_names' holds list values that are not all strings .*; item 9 is a list; expected a flat list of strings"):
        load_cifar(root)

def test_human_labels_with_shared_nested_lists_are_refused_at_once(tmp_path):
    path = tmp_path/'CIFAR-10_human.pt'
    torch.save({'aggre_label': [1, 2, shared_nest(20)]}, path)
    assert path.stat().st_size < 10_000
    t = time.perf_counter()
    with pytest.raises(ValueError, match=r"aggre_label'\] must be a flat list of numbers \(1-D\), but item 2 is a list"):
        load_human_labels(path, 'aggre_label', allow_pickle=True)
    assert time.perf_counter() - t < 5

def test_nested_lists_deeper_than_expected_are_refused_without_expanding():
    t = time.perf_counter()
    with pytest.raises(ValueError, match=r'labels must be a flat list of numbers \(1-D\), but item 0 is a list'):
        check_labels(shared_nest(20))
    with pytest.raises(ValueError, match=r'probs must be a list of rows of numbers \(2-D\)'):
        as_tensor([[0.5, shared_nest(20)]], 'probs', 2)
    assert time.perf_counter() - t < 1
    assert as_tensor([[0.5, 0.5]] * 3, 'probs', 2).shape == (3, 2)  # one row shared three times is fine

# ---------------------------------------------------------------- noise files placed by hand

Y200 = np.arange(200) % 10

def test_hand_placed_noise_file_far_from_its_rate_is_refused(tmp_path):
    path = tmp_path/noise_file_name(0.5, 'sym')
    wrong = inject_noise(Y200, 'sym', 1.0, 10, seed=3)  # another draw: about 90% noise, not the 45% of sym 0.5
    path.write_text(json.dumps(wrong.tolist()))
    with pytest.raises(ValueError, match=r"actual noise rate 0\.\d+ .* expected about 0\.450 for sym noise at rate 0\.5"):
        noisy_labels(Y200, 'sym', 0.5, 10, path=path)
    path.write_text(json.dumps(inject_noise(Y200, 'sym', 0.5, 10, seed=7).tolist()))  # a file drawn as named: used
    assert (noisy_labels(Y200, 'sym', 0.5, 10, path=path) != Y200).mean() > 0.3

def test_hand_placed_noise_file_expected_rates_per_mode(tmp_path):
    for mode, rate, kw in (('sym_flip', 0.4, {}), ('asym', 0.4, dict(dataset='cifar10'))):
        path = tmp_path/noise_file_name(rate, mode)
        path.write_text(json.dumps(inject_noise(Y200, mode, rate, 10, seed=1, **kw).tolist()))
        assert torch.is_tensor(noisy_labels(torch.as_tensor(Y200), mode, rate, 10, path=path, **kw))  # fits: used
        path.write_text(json.dumps(Y200.tolist()))  # no noise at all
        with pytest.raises(ValueError, match=f"actual noise rate 0.000 .*for {mode} noise at rate {rate}"):
            noisy_labels(Y200, mode, rate, 10, path=path, **kw)
    # asym on CIFAR-10 moves 5 of the 10 classes: expected 0.4 * 5/10
    path = tmp_path/'0.4_asym.json'
    with pytest.raises(ValueError, match=r"expected about 0\.200 for asym noise"): noisy_labels(Y200, 'asym', 0.4, 10, path=path, dataset='cifar10')
    # idn: no expectation the file's maker is bound to, so no check
    path = tmp_path/'0.4_idn.json'
    path.write_text(json.dumps(Y200.tolist()))
    assert (noisy_labels(Y200, 'idn', 0.4, 10, path=path) == Y200).all()

def test_copied_noise_file_on_a_smaller_subset_is_refused_by_cpc_train(fmnist_dir, tmp_path, capsys):
    base = ['--preset', 'fmnist-sym50', '--data', str(fmnist_dir), '--epochs', '2', '--warmup_epochs', '1', '--batch_size', '16',
            '--eval_batch_size', '64', '--device', 'cpu', '--test_subset', '20']
    out = tmp_path/'run'; out.mkdir()
    train = load_fashion_mnist(fmnist_dir)
    y = train.labels[stratified_subset(train.labels, 40, seed=1)]  # the labels of the run's 40-image subset
    (out/'0.5_sym.json').write_text(json.dumps(((y + 1) % 10).tolist()))  # every label wrong, under a "50%" name
    code, err = cli(base + ['--train_subset', '40', '--seed', '1', '--out', str(out)], capsys)
    assert code == 2 and 'actual noise rate 1.000' in err and 'expected about 0.450' in err and 'Traceback' not in err, err

# ---------------------------------------------------------------- pictures that are not 8-bit RGB

def _swap_image(root:Path, key:str, save):
    "Replace the image of `key` under `root` (a JPEG name) by what `save(path)` writes."
    p = root/key
    p.unlink(); save(p)
    return p

@pytest.fixture
def clothing(clothing1m_dir, tmp_path):
    return Path(shutil.copytree(clothing1m_dir, tmp_path/'c1m'))

def test_16bit_png_and_float_tiff_are_scaled_not_clipped(clothing):
    ds = Clothing1M(clothing, 'train')
    v16 = np.linspace(0, 65535, 64).astype(np.uint16).reshape(8, 8)
    _swap_image(clothing, ds.keys[0], lambda p: Image.fromarray(v16).save(p, format='PNG'))
    assert Image.open(clothing/ds.keys[0]).mode.startswith('I')
    got = np.asarray(Clothing1M(clothing, 'train')[0][0])
    assert got.shape == (8, 8, 3) and (got[..., 0] == np.round(v16 / 257)).all() and (got[..., 1] == got[..., 0]).all()
    vf = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    _swap_image(clothing, ds.keys[1], lambda p: Image.fromarray(vf, mode='F').save(p, format='TIFF'))
    got = np.asarray(Clothing1M(clothing, 'train')[1][0])
    assert (got[..., 2] == np.round(vf * 255)).all()
    _swap_image(clothing, ds.keys[2], lambda p: Image.fromarray(vf * 1000, mode='F').save(p, format='TIFF'))
    with pytest.raises(ImageReadError, match=f"{ds.keys[2]}: float image with values in \\[0, 1000\\]; expected values in \\[0, 1\\]"):
        Clothing1M(clothing, 'train')[2]

@pytest.mark.parametrize('damage, why', [('empty', 'empty file'), ('truncated', 'truncated'), ('loop', 'cannot open'),
                                         ('text', 'not an image')])
def test_unreadable_images_are_refused_before_the_run(clothing, damage, why):
    key = Clothing1M(clothing, 'train').keys[5]
    p = clothing/key
    if damage == 'empty': p.write_bytes(b'')
    elif damage == 'truncated': p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2])
    elif damage == 'loop': p.unlink(); p.symlink_to(p.name)
    else: p.write_text('hello')
    with pytest.raises(DatasetLayoutError, match=f"Clothing1M train: 1 of 28 listed images cannot be read, e.g. {key} \\({why}"):
        Clothing1M(clothing, 'train')

def test_unreadable_webvision_image_is_refused_before_the_run(webvision_dir, tmp_path):
    root = Path(shutil.copytree(webvision_dir, tmp_path/'wv'))
    key = WebVision(root, 'val', num_classes=4).keys[0]
    (root/'val_images_256'/key).write_bytes(b'')
    with pytest.raises(DatasetLayoutError, match=f"WebVision val: 1 of 8 listed images cannot be read, e.g. {key} \\(empty file"):
        WebVision(root, 'val', num_classes=4)

# ---------------------------------------------------------------- files that are not regular files

def test_fifo_noise_file_is_not_a_regular_file(tmp_path):
    path = tmp_path/'0.5_sym.json'
    os.mkfifo(path)
    with pytest.raises(ValueError, match='noise file .*0.5_sym.json is a FIFO, not a regular file'):
        load_noise_file(path, 200, 10)
    with pytest.raises(ValueError, match='is a FIFO, not a regular file'): noisy_labels(Y200, 'sym', 0.5, 10, path=path)
    fifo = tmp_path/'CIFAR-10_human.pt'
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match='CIFAR-10_human.pt is a FIFO, not a regular file'):
        load_human_labels(fifo, 'aggre_label', allow_pickle=True)

def test_fifo_cifar_batch_and_list_file_are_refused(tmp_path, clothing):
    root = write_cifar_fixture(tmp_path/'c', 'cifar10', n_train=50, n_test=10)
    batch = root/'cifar-10-batches-py'/'data_batch_2'
    batch.unlink(); os.mkfifo(batch)
    with pytest.raises(DatasetLayoutError, match='data_batch_2 is a FIFO, not a regular file'): load_cifar(root)
    lst = clothing/'clean_val_key_list.txt'
    lst.unlink(); os.mkfifo(lst)
    with pytest.raises(DatasetLayoutError, match='clean_val_key_list.txt is a FIFO, not a regular file'): Clothing1M(clothing, 'test')

# ---------------------------------------------------------------- messages that name the cause

def test_no_data_folder_is_named_as_the_cause(capsys, tmp_path):
    for cls in (Clothing1M, WebVision):
        with pytest.raises(DatasetLayoutError, match=r'no data folder given \(root=None\); expected a folder'): cls(None)
    with pytest.raises(ValueError, match=r'cifar10: no data folder given \(root=None\); pass the folder that holds cifar-10-batches-py'):
        load_cifar(None)
    for preset in ('clothing1m', 'cifar10-sym50'):
        code, err = cli(['--preset', preset, '--device', 'cpu', '--out', str(tmp_path/preset)], capsys)
        assert code == 2 and 'no data folder given' in err and '--data' in err and 'looked in: \n' not in err, err

@pytest.mark.parametrize('label', ['9' * 5000, '\u0663', '\u00b2', '-1'])
def test_bad_label_in_a_list_names_file_and_line(clothing, label):
    kv = clothing/'noisy_label_kv.txt'
    lines = kv.read_text().splitlines()
    lines[2] = lines[2].split()[0] + ' ' + label
    kv.write_text('\n'.join(lines) + '\n')
    with pytest.raises(DatasetLayoutError, match=r"noisy_label_kv.txt line 3: .*expected 'key label' with a label of ASCII digits"):
        Clothing1M(clothing, 'train')

def test_utf8_bom_is_read_in_lists_and_json_noise_files(clothing, webvision_dir, tmp_path):
    for f in ('noisy_label_kv.txt', 'noisy_train_key_list.txt'):
        (clothing/f).write_bytes(b'\xef\xbb\xbf' + (clothing/f).read_bytes())
    assert len(Clothing1M(clothing, 'train')) == 28
    wv = Path(shutil.copytree(webvision_dir, tmp_path/'wv'))
    lst = wv/'info'/'train_filelist_google.txt'
    lst.write_bytes(b'\xef\xbb\xbf' + lst.read_bytes())
    assert len(WebVision(wv, 'train', num_classes=4)) == 12
    noisy = inject_noise(Y200, 'sym', 0.5, 10)
    path = tmp_path/'0.5_sym.json'
    path.write_bytes(b'\xef\xbb\xbf' + json.dumps(noisy.tolist()).encode())
    assert torch.equal(load_noise_file(path, 200, 10), torch.as_tensor(noisy))

def test_list_file_that_is_not_utf8_names_the_file(clothing):
    (clothing/'noisy_label_kv.txt').write_bytes(b'\xff\xfe\x00binary')
    with pytest.raises(DatasetLayoutError, match='noisy_label_kv.txt is not UTF-8 text'): Clothing1M(clothing, 'train')

# ---------------------------------------------------------------- out of inodes at the noise-file write

def test_no_room_for_the_noise_file_leaves_no_origin_record(tmp_path, monkeypatch):
    import cpc.data
    real, calls = cpc.data.tempfile.mkstemp, []
    def mkstemp(*a, **k):  # the first temp file (the origin record) gets an inode, the second (the labels) does not
        calls.append(1)
        if len(calls) == 2: raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*a, **k)
    monkeypatch.setattr(cpc.data.tempfile, 'mkstemp', mkstemp)
    path = tmp_path/'0.5_sym.json'
    with pytest.raises(OSError, match=r'cannot write noise file .*0.5_sym.json: No space left on device \(no free disk space or inodes'):
        save_noise_file(path, Y200, origin=dict(seed=0), clean=Y200)
    assert sorted(os.listdir(tmp_path)) == []  # neither the record nor a temp file is left

def test_no_room_for_the_noise_file_in_cpc_train_is_one_line(fmnist_dir, tmp_path, capsys, monkeypatch):
    import contextlib, cpc.noise
    real = cpc.noise.atomic_write
    @contextlib.contextmanager
    def no_inode(path):  # the origin record is written, the labels file gets no inode
        if Path(path).name == '0.5_sym.json': raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        with real(path) as tmp: yield tmp
    monkeypatch.setattr(cpc.noise, 'atomic_write', no_inode)
    out = tmp_path/'run'
    code, err = cli(['--preset', 'fmnist-sym50', '--data', str(fmnist_dir), '--train_subset', '40', '--test_subset', '20', '--epochs', '2',
                     '--warmup_epochs', '1', '--batch_size', '16', '--device', 'cpu', '--out', str(out)], capsys)
    assert code == 2 and 'Traceback' not in err and len(err.strip().splitlines()) <= 2, err
    assert f"cannot write noise file {out/'0.5_sym.json'}: No space left on device" in err, err
    assert not (out/'0.5_sym.origin.json').exists() and not (out/'0.5_sym.json').exists()

# ---------------------------------------------------------------- API inputs

def test_gmm_refuses_empty_non_finite_and_out_of_range_input():
    for f in (fit_gmm, init_gmm, kmeans_1d):
        with pytest.raises(ValueError, match=r'samples hold 0 value\(s\); expected at least 2'): f([])
        with pytest.raises(ValueError, match=r'samples hold 1 value\(s\); expected at least 2'): f([0.3])
    p = fit_gmm(torch.rand(10, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match=r'samples contain 1 non-finite value\(s\) \(first in row 1\)'):
        clean_posterior(torch.tensor([0.1, float('nan')]), None, p)
    with pytest.raises(ValueError, match=r'groups must lie in \[0, 2\), found \[5\] in 1 sample\(s\)'):
        fit_gmm(torch.rand(10), torch.tensor([0] * 9 + [5]), 2)
    with pytest.raises(ValueError, match=r'groups must lie in \[0, 1\), found \[1\]'):
        clean_posterior(torch.rand(3), torch.tensor([0, 1, 0]), p)
    with pytest.raises(ValueError, match='groups has length 2, expected 3'): gmm_log_resp(torch.rand(3), torch.tensor([0, 0]), p)
    with pytest.raises(ValueError, match='samples must be real numbers, got dtype complex64'): fit_gmm(torch.rand(4) + 0j)

def test_complex_meta_and_unsigned_inputs():
    with pytest.raises(ValueError, match='features must be real numbers, got dtype complex64'):
        PrototypeCleaner(3, 4).clean_prob(torch.ones(2, 4, dtype=torch.complex64), [0, 1])
    with pytest.raises(ValueError, match='labels is on the meta device'): check_labels(torch.zeros(3, dtype=torch.long, device='meta'))
    with pytest.raises(ValueError, match='losses is on the meta device'): check_losses(torch.zeros(3, device='meta'))
    u = torch.tensor([0, 1, 1, 0], dtype=torch.uint64)
    assert stratified_subset(u, 2).tolist() == stratified_subset([0, 1, 1, 0], 2).tolist()
    assert check_mask(u, 4, 'clean').tolist() == [False, True, True, False]
    with pytest.raises(ValueError, match=r'labels hold values above 2\*\*63 - 1'):
        check_labels(np.array([2**64 - 1], dtype=np.uint64))

def test_cleaner_arguments_out_of_range():
    with pytest.raises(ValueError, match=r'p_threshold must be a number in \[0, 1\), got 1.0'): CleanerBank(3, 4, p_threshold=1.0)
    with pytest.raises(ValueError, match=r'momentum must be a number in \[0, 1\), got 1.5'): PrototypeCleaner(3, 4, momentum=1.5)
    with pytest.raises(ValueError, match=r'momentum must be a number in \[0, 1\), got -0.1'): PrototypeCleaner(3, 4, momentum=-0.1)
    CleanerBank(3, 4, p_threshold=0.0); PrototypeCleaner(3, 4, momentum=0)

def test_negative_stride_arrays_and_pandas_missing_values():
    a = np.array([2, 1, 0, 1])[::-1]
    assert check_labels(a, 3).tolist() == [1, 0, 1, 2]
    assert check_losses(np.linspace(0, 1, 6)[::-2]).tolist() == pytest.approx([1, 0.6, 0.2])
    pd = pytest.importorskip('pandas')
    with pytest.raises(ValueError, match=r'labels hold 1 missing value\(s\) \(first at position 1\)'):
        check_labels(pd.Series([1, None, 2], dtype='Int64'))
    assert check_labels(pd.Series([1, 0, 2], dtype='Int64'), 3).tolist() == [1, 0, 2]

@pytest.mark.parametrize('n', [2.5, True, np.float64(2.0), '2'])
def test_stratified_subset_refuses_a_non_integer_n(n):
    with pytest.raises(ValueError, match=r'n must be an int in \[0, 4\]'): stratified_subset([0, 1, 1, 0], n)
