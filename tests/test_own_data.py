"Your own data (issue 33): the folder, CSV and array paths, bad input refused or converted before training, --weights, label_issues.csv."
import contextlib, csv, gzip, io, os, struct
from pathlib import Path
import numpy as np, pytest, torch, torchvision
from PIL import Image
import cpc.own_data as od
from cpc.cli import main
from cpc.data import NORM_STATS, FMNIST_FILES, DatasetLayoutError, ImageReadError, load_fashion_mnist, FMNIST_CLASSES
from cpc.datasets import DATASETS, load_data
from cpc.fixtures import write_image_folder, write_image_folder_fixture
from cpc.issues import cpc_find_issues, read_run
from cpc.train import TrainConfig, Trainer

def _png(path, arr, mode=None):
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode).save(path) if mode else Image.fromarray(arr).save(path)
    return path

def _folder(root, n=4, size=10, classes=('a', 'b')):
    "A small RGB image folder without a test split, every image different."
    rng = np.random.default_rng(0)
    for c in classes:
        for i in range(n): _png(Path(root)/'train'/c/f'{i}.png', rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    return Path(root)

def _read(root, **kw):
    with contextlib.redirect_stdout(io.StringIO()) as out: d = od.read_own_data(root, **kw)
    return d, out.getvalue()

# ---- the same images through three paths give the same run

def _write_idx(path, a):
    with gzip.open(path, 'wb') as f: f.write(bytes([0, 0, 8, a.ndim]) + struct.pack(f'>{a.ndim}I', *a.shape) + a.tobytes())

@pytest.fixture(scope='module')
def three_copies(tmp_path_factory):
    "Real Fashion-MNIST images (class by class, 20 training and 8 test per class) as IDX files, as an image folder and as a CSV."
    root = tmp_path_factory.mktemp('fm3')
    names = [f"{k}_{c.replace('/', '_')}" for k, c in enumerate(FMNIST_CLASSES)]
    for train, n in ((True, 20), (False, 8)):
        d = load_fashion_mnist(train=train)
        idx = torch.cat([torch.nonzero(d.labels == k)[:n, 0] for k in range(10)])
        x, y = d.images[idx, 0].numpy(), d.labels[idx].numpy().astype(np.uint8)
        (root/'idx').mkdir(exist_ok=True)
        _write_idx(root/'idx'/FMNIST_FILES[train][0], x); _write_idx(root/'idx'/FMNIST_FILES[train][1], y)
        keys = write_image_folder(root/'folder', x, y, names, 'train' if train else 'test')
        with open(root/'folder'/'labels.csv', 'a', newline='') as f:
            w = csv.writer(f)
            if train: w.writerow(['path', 'label', 'split'])
            w.writerows([k, int(v), 'train' if train else 'test'] for k, v in zip(keys, y))
    od.own_spec('own_fm', *NORM_STATS['fashion_mnist'], replace=True)  # your own data normalised as the built-in set is
    return root

def _metrics(cfg, data, out):
    with contextlib.redirect_stdout(io.StringIO()):
        Trainer(cfg, data=data, out=out, device='cpu', verbose=False).fit()
    rows = list(csv.DictReader(open(Path(out)/'metrics.csv')))
    return [{k: v for k, v in r.items() if k != 'seconds'} for r in rows]

def test_folder_csv_and_builtin_give_identical_metrics(three_copies, tmp_path):
    root = three_copies
    base = dict(noise_mode='sym', noise_rate=0.4, model='cnn_fc', weak_aug=False, epochs=3, warmup_epochs=1, batch_size=32,
                eval_batch_size=256, train_subset=150, test_subset=60, seed=1, lambda_u=25, cpc_epochs=2)
    ref = _metrics(TrainConfig(dataset='fashion_mnist', **base), root/'idx', tmp_path/'builtin')
    folder = _metrics(TrainConfig(dataset='own_fm', image_size=28, **base), root/'folder', tmp_path/'folder')
    table = _metrics(TrainConfig(dataset='own_fm', image_size=28, **base), root/'folder'/'labels.csv', tmp_path/'csv')
    assert len(ref) == 3 and ref[-1]['auc_cpc_awr'] not in ('', 'nan')
    assert folder == ref and table == ref
    keys = [r['key'] for r in csv.DictReader(open(tmp_path/'folder'/'samples.csv'))]
    assert len(keys) == 150 and all(k.startswith('train/') and k.endswith('.png') for k in keys)

# ---- bad input: refused with one line naming the file, or converted with a count

def test_truncated_and_non_image_files_are_refused(tmp_path):
    root = _folder(tmp_path/'d')
    good = (root/'train'/'a'/'0.png').read_bytes()
    (root/'train'/'a'/'0.png').write_bytes(good[:len(good) // 2])
    with pytest.raises(ImageReadError, match=r"train/a/0.png: truncated or damaged"): _read(root)
    (root/'train'/'a'/'0.png').write_text('not an image at all')
    with pytest.raises(ImageReadError, match=r"train/a/0.png: not an image PIL can identify"): _read(root)
    (root/'train'/'a'/'0.png').write_bytes(b'')
    with pytest.raises(ImageReadError, match=r"train/a/0.png: empty file"): _read(root)

def test_unknown_extension_refused_hidden_files_skipped(tmp_path):
    root = _folder(tmp_path/'d')
    (root/'train'/'a'/'.DS_Store').write_bytes(b'\0\0')
    d, log = _read(root)
    assert "skipped 1 hidden file(s)" in log and len(d['train']) + len(d['test']) == 8
    (root/'train'/'b'/'readme.txt').write_text('x')
    with pytest.raises(DatasetLayoutError, match=r"train/b/readme.txt: unknown extension '.txt'"): _read(root)

def test_classes_with_no_or_one_image_refused(tmp_path):
    root = _folder(tmp_path/'d')
    (root/'train'/'c').mkdir()
    with pytest.raises(DatasetLayoutError, match=r"train/c: class folder without images"): _read(root)
    _png(root/'train'/'c'/'x.png', np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(DatasetLayoutError, match=r"class 'c' has 1 training image\(s\); expected at least 2"): _read(root)

def test_the_same_image_twice_in_a_class_is_dropped_with_a_count(tmp_path):
    root = _folder(tmp_path/'d')
    (root/'train'/'a'/'copy.png').write_bytes((root/'train'/'a'/'1.png').read_bytes())
    (root/'train'/'b'/'also_a1.png').write_bytes((root/'train'/'a'/'1.png').read_bytes())  # in another class: a label question, kept
    d, log = _read(root)
    assert "dropped 1 duplicate image(s) of the same class" in log and "train/a/copy.png (same as train/a/1.png)" in log
    assert len(d['train']) + len(d['test']) == 9

def test_non_utf8_file_name_refused(tmp_path):
    root = _folder(tmp_path/'d')
    bad = os.path.join(os.fsencode(root/'train'/'a'), b'caf\xe9.png')
    with open(bad, 'wb') as f: f.write((root/'train'/'a'/'0.png').read_bytes())
    with pytest.raises(DatasetLayoutError, match=r"caf\\xe9.png'?: the file name is not valid UTF-8"): _read(root)

def test_mixed_modes_are_converted_with_counts(tmp_path):
    root, rng = tmp_path/'d', np.random.default_rng(1)
    g = lambda: rng.integers(0, 256, (10, 10), dtype=np.uint8)
    _png(root/'train'/'a'/'l.png', g(), 'L'); (root/'train'/'b').mkdir()
    Image.fromarray(g(), 'L').convert('LA').save(root/'train'/'a'/'la.png')
    Image.fromarray(rng.integers(0, 256, (10, 10, 4), dtype=np.uint8), 'RGBA').save(root/'train'/'a'/'rgba.png')
    Image.fromarray(g(), 'L').convert('P').save(root/'train'/'b'/'p.png')
    Image.fromarray(rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)).convert('CMYK').save(root/'train'/'b'/'cmyk.jpg')
    Image.fromarray((rng.integers(0, 65536, (10, 10))).astype(np.uint16)).save(root/'train'/'b'/'deep.png')  # 16-bit grey PNG
    d, log = _read(root)
    assert d['train'].images.shape[1:] == (3, 10, 10)
    for m in ('1 CMYK', '1 LA', '1 P', '1 RGBA', '1 L'): assert m in log, (m, log)
    assert 'I;16' in log or ' 1 I ' in log or '1 I image' in log
    # all grey (L, LA, 16-bit): kept grey, one channel
    grey = tmp_path/'g'
    for c in 'ab':
        _png(grey/'train'/c/'l.png', g(), 'L')
        Image.fromarray(g(), 'L').convert('LA').save(grey/'train'/c/'la.png')
        Image.fromarray(rng.integers(0, 65536, (10, 10)).astype(np.uint16)).save(grey/'train'/c/'deep.png')
    d, log = _read(grey, seed=0)
    assert d['train'].images.shape[1:] == (1, 10, 10) and 'converted to grey (L)' in log
    x = d['train'].images.float()
    assert x.max() > 200 and x.min() < 50  # 16-bit scaled to 8 bits, not clipped to white

def test_small_images_are_enlarged_and_mixed_sizes_need_image_size(tmp_path):
    root = _folder(tmp_path/'d', size=10)
    _png(root/'train'/'a'/'big.png', np.zeros((20, 30, 3), np.uint8))
    with pytest.raises(DatasetLayoutError, match=r"train/a/big.png: 30x20 pixels, but 8 image\(s\) are 10x10.*image_size"): _read(root)
    d, log = _read(root, image_size=16)
    assert d['train'].images.shape[1:] == (3, 16, 16) and "8 image(s) smaller than 16 px on their shorter side were enlarged" in log

def test_csv_with_missing_paths_or_labels_refused(tmp_path):
    root = _folder(tmp_path/'d')
    rows = lambda *r: (root/'l.csv').write_text('path,label\n' + ''.join(f'{a},{b}\n' for a, b in r))
    rows(('train/a/0.png', 'a'), ('train/a/9.png', 'a'))
    with pytest.raises(DatasetLayoutError, match=r"l.csv line 3: train/a/9.png: no such file"): _read(root/'l.csv')
    rows(('train/a/0.png', 'a'), ('train/a/1.png', ''))
    with pytest.raises(DatasetLayoutError, match=r"l.csv line 3: train/a/1.png: no label"): _read(root/'l.csv')
    rows(('train/a/0.png', 'a'), ('', 'b'))
    with pytest.raises(DatasetLayoutError, match=r"l.csv line 3: no path"): _read(root/'l.csv')
    rows(('../x.png', 'a'),)
    with pytest.raises(DatasetLayoutError, match=r"line 2: ../x.png: expected a path relative to the CSV's folder"): _read(root/'l.csv')
    (root/'l.csv').write_text('file,class\n')
    with pytest.raises(DatasetLayoutError, match=r"expected the columns path,label"): _read(root/'l.csv')
    (root/'l.csv').write_bytes(b'path,label\ntrain/a/0.png,caf\xe9\n')
    with pytest.raises(DatasetLayoutError, match=r"l.csv: not UTF-8 text"): _read(root/'l.csv')

def test_bad_input_leaves_no_run_folder(tmp_path):
    root = _folder(tmp_path/'d')
    (root/'train'/'a'/'0.png').write_text('broken')
    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as e:
        main(['--preset', 'own-fmnist', '--data', str(root), '--out', str(tmp_path/'run'), '--device', 'cpu'])
    assert e.value.code == 2 and 'train/a/0.png: not an image PIL can identify' in err.getvalue()
    assert len(err.getvalue().strip().splitlines()[-1]) > 0 and not (tmp_path/'run').exists()

# ---- held on the device or streamed, and the held-out split

def test_large_sets_are_streamed_and_train(tmp_path, monkeypatch):
    root = write_image_folder_fixture(tmp_path/'d', num_classes=2, n_train=8, n_test=2, size=12)
    monkeypatch.setattr(od, 'DEVICE_BYTES', 100)
    d, log = _read(root)
    assert type(d['train']).__name__ == 'OwnImageFiles' and 'streamed from the files by DataLoader workers' in log
    cfg = TrainConfig(dataset='own', noise_mode='real', noise_rate=0., model='small_cnn', epochs=2, warmup_epochs=1, batch_size=4,
                      eval_batch_size=16, num_workers=0)
    with contextlib.redirect_stdout(io.StringIO()):
        t = Trainer(cfg, data=root, out=tmp_path/'run', device='cpu', verbose=False); t.fit()
    assert type(t.train).__name__ == 'FileSource' and t.train.keys[0] == 'train/class_0/000000.png'

def test_heldout_split_is_a_function_of_seed_and_files(tmp_path):
    root = _folder(tmp_path/'d', n=10)
    a, _ = _read(root, seed=5); od._CACHE.clear()
    b, _ = _read(root, seed=5); c, _ = _read(root, seed=6)
    assert a['test'].keys == b['test'].keys and a['test'].keys != c['test'].keys
    assert sorted(np.bincount(a['test'].labels.numpy()).tolist()) == [2, 2]
    assert not set(a['test'].keys) & set(a['train'].keys)

# ---- the command line: own data in, label_issues.csv out

def test_cpc_train_on_a_folder_writes_label_issues(tmp_path):
    root = _folder(tmp_path/'d', n=10, size=12)
    out = tmp_path/'run'
    with contextlib.redirect_stdout(io.StringIO()) as log, contextlib.redirect_stderr(io.StringIO()):
        code = main(['--preset', 'own-fmnist', '--data', str(root), '--out', str(out), '--device', 'cpu', '--epochs', '2',
                     '--warmup_epochs', '1', '--image_size', '12', '--batch_size', '4'])
    assert code == 0, log.getvalue()
    assert 'held on the device' in log.getvalue() and 'label issues, most likely wrong first' in log.getvalue()
    rows = list(csv.DictReader(open(out/'label_issues.csv')))
    assert len(rows) == 16 and {r['label_name'] for r in rows} == {'a', 'b'} and {r['pred_a_name'] for r in rows} <= {'a', 'b'}
    assert all(r['path'].startswith('train/') for r in rows) and list(rows[0])[:6] == ['rank', 'index', 'label', 'score', 'clean_prob', 'issue']
    held = list(csv.DictReader(open(out/'heldout.csv')))
    assert len(held) == 4 and not {r['path'] for r in held} & {r['path'] for r in rows}
    assert read_run(out)['classes'] == ['a', 'b']
    first = (out/'label_issues.csv').read_text()
    (out/'label_issues.csv').unlink()
    with contextlib.redirect_stdout(io.StringIO()): assert cpc_find_issues(['--run', str(out)]) == 0
    assert (out/'label_issues.csv').read_text() == first

def test_csv_true_column_measures_the_cleaners(tmp_path):
    root = _folder(tmp_path/'d', n=10, size=12)
    keys = sorted(str(p.relative_to(root)) for p in (root/'train').rglob('*.png'))
    true = [k.split('/')[1] for k in keys]
    given = ['b' if i % 5 == 0 else t for i, t in enumerate(true)]
    (root/'l.csv').write_text('path,label,true\n' + ''.join(f'{k},{g},{t}\n' for k, g, t in zip(keys, given, true)))
    cfg = TrainConfig(dataset='own', noise_mode='real', noise_rate=0., model='small_cnn')
    with contextlib.redirect_stdout(io.StringIO()): tr, te, clean = load_data(cfg, root/'l.csv')
    assert clean is not None and (clean != tr.labels).sum() > 0 and len(tr) == 16

# ---- arrays, and a backbone from a local file

def test_register_arrays_trains(tmp_path):
    x = np.random.default_rng(0).random((30, 8, 8, 3)).astype(np.float32)
    od.register_arrays('arr_test', x, np.arange(30) % 3, ['x', 'y', 'z'], replace=True)
    cfg = TrainConfig(dataset='arr_test', noise_mode='real', noise_rate=0., model='small_cnn', epochs=2, warmup_epochs=1, batch_size=8)
    try:
        with contextlib.redirect_stdout(io.StringIO()): h = Trainer(cfg, out=tmp_path/'run', device='cpu', verbose=False).fit()
        assert len(h) == 2
    finally: DATASETS.pop('arr_test')

def test_weights_from_a_local_file(tmp_path):
    root = write_image_folder_fixture(tmp_path/'d', num_classes=2, n_train=6, n_test=2, size=16)
    ref = torchvision.models.resnet18()
    torch.save(ref.state_dict(), tmp_path/'r18.pth')
    cfg = TrainConfig(dataset='own', noise_mode='real', noise_rate=0., model='resnet18', weights=str(tmp_path/'r18.pth'), epochs=1,
                      warmup_epochs=1, batch_size=4, eval_batch_size=8)
    with contextlib.redirect_stdout(io.StringIO()) as log: t = Trainer(cfg, data=root, out=tmp_path/'run', device='cpu', verbose=False)
    net = t.state_dict()['nets'][0]
    assert torch.equal(net['body.conv1.weight'], ref.conv1.weight.detach()) and net['head.weight'].shape == (2, 512)
    assert "ImageNet's (the network starts from ImageNet weights)" in log.getvalue()
    sd = ref.state_dict(); sd['layer9.weight'] = sd.pop('layer1.0.conv1.weight')
    torch.save(sd, tmp_path/'wrong.pth')
    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as e:
        main(['--preset', 'own-fmnist', '--data', str(root), '--out', str(tmp_path/'run2'), '--device', 'cpu', '--model', 'resnet18',
              '--weights', str(tmp_path/'wrong.pth'), '--image_size', '16'])
    msg = err.getvalue()
    assert e.value.code == 2 and 'missing keys 1 (layer1.0.conv1.weight)' in msg and 'unexpected keys 1 (layer9.weight)' in msg, msg
    assert 'fc.* is not needed' in msg and not (tmp_path/'run2').exists()
