"Nothing lost, nothing run, every mistake a clear message: guards of the Trainer and of cpc_train under bad input and faults."
import os, pickle, shutil, subprocess, sys
from pathlib import Path
import pytest, torch
from cpc.cleaner import CleanerBank
from cpc.cli import main, PRESETS
from cpc.data import DatasetLayoutError, load_cifar
from cpc.fixtures import write_cifar_fixture, write_fmnist_fixture
from cpc.train import TrainConfig, Trainer, RunExistsError, RunLockedError

SMALL = dict(dataset='fashion_mnist', model='small_cnn', noise_mode='sym', noise_rate=0.5, epochs=2, warmup_epochs=1,
             batch_size=16, eval_batch_size=64)

ALL_DATA = ['--train_subset', '0', '--test_subset', '0']  # the CPU-track presets take 2,000 images; the fixture has 60

def cli(argv, capsys):
    "Run `main(argv)` in-process; return (exit code, stderr)."
    try: code = main(argv)
    except SystemExit as e: code = e.code
    return code, capsys.readouterr().err

# ---- data loss and races

def test_finished_run_is_not_overwritten(fmnist_dir, tmp_path):
    Trainer(TrainConfig(**SMALL), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False).fit()
    before = (tmp_path/'metrics.csv').read_bytes(), (tmp_path/'checkpoint.pt').read_bytes()
    with pytest.raises(RunExistsError, match=r"already holds a run \(2 epoch\(s\) done\): resume it"):
        Trainer(TrainConfig(**SMALL, seed=1), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False)
    assert ((tmp_path/'metrics.csv').read_bytes(), (tmp_path/'checkpoint.pt').read_bytes()) == before
    # --overwrite replaces it, with a noise file drawn for the new seed
    old_noise = (tmp_path/'0.5_sym.json').read_text()
    tr = Trainer(TrainConfig(**SMALL, seed=1), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False, overwrite=True)
    assert not (tmp_path/'checkpoint.pt').exists() and (tmp_path/'0.5_sym.json').read_text() != old_noise
    tr.release()

def test_cli_refuses_to_overwrite(fmnist_dir, tmp_path, capsys):
    argv = ['--preset', 'fmnist-sym50', '--data', str(fmnist_dir), '--out', str(tmp_path/'run'), '--epochs', '1',
            '--warmup_epochs', '1', '--device', 'cpu'] + ALL_DATA
    assert cli(argv, capsys)[0] == 0
    code, err = cli(argv, capsys)
    assert code == 2 and 'already holds a run' in err and '--overwrite' in err
    assert cli(argv + ['--overwrite'], capsys)[0] == 0

def test_two_runs_in_one_folder_are_refused(fmnist_dir, tmp_path):
    first = Trainer(TrainConfig(**SMALL), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False)
    with pytest.raises(RunLockedError, match='another run is writing to this folder'):
        Trainer(TrainConfig(**SMALL), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False, overwrite=True)
    # the lock is an OS lock: another process cannot take it either, and it is gone once released
    probe = ("import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY)\n"
             "try: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); print('free')\nexcept BlockingIOError: print('held')")
    held = lambda: subprocess.run([sys.executable, '-c', probe, str(tmp_path)], capture_output=True, text=True).stdout.strip()
    assert held() == 'held'
    first.release()
    assert held() == 'free'

def test_resume_on_other_data_is_refused(fmnist_dir, tmp_path):
    Trainer(TrainConfig(**SMALL), data=fmnist_dir, out=tmp_path/'run', device='cpu', verbose=False).fit()
    other = write_fmnist_fixture(tmp_path/'other', n_train=60, n_test=20, seed=5)
    with pytest.raises(ValueError, match='written for other training data'):
        Trainer(TrainConfig(**SMALL), data=other, out=tmp_path/'run', device='cpu', verbose=False, resume=True)

# ---- code execution

class _Evil:
    def __init__(self, path): self.path = path
    def __reduce__(self): return (os.system, (f'touch {self.path}',))

def test_crafted_cifar_batch_is_refused_and_not_run(tmp_path):
    root = write_cifar_fixture(tmp_path, 'cifar10', n_train=100, n_test=20)
    marker = tmp_path/'pwned'
    with open(root/'cifar-10-batches-py'/'data_batch_1', 'wb') as f: pickle.dump({b'data': _Evil(marker)}, f, protocol=2)
    with pytest.raises(DatasetLayoutError, match=r'data_batch_1: not a readable CIFAR pickle file \(refused to load posix.system'):
        load_cifar(root, 'cifar10')
    assert not marker.exists()

def test_malicious_or_damaged_checkpoint_gets_a_clear_message(fmnist_dir, tmp_path):
    out = tmp_path/'run'
    Trainer(TrainConfig(**SMALL), data=fmnist_dir, out=out, device='cpu', verbose=False).fit()
    ckpt = out/'checkpoint.pt'
    good = ckpt.read_bytes()
    marker = tmp_path/'pwned'
    resume = lambda: Trainer(TrainConfig(**SMALL), data=fmnist_dir, out=out, device='cpu', verbose=False, resume=True)
    torch.save({'x': _Evil(marker)}, ckpt)
    with pytest.raises(ValueError, match='damaged or not a cpc checkpoint: it holds objects other than tensors'): resume()
    assert not marker.exists()
    ckpt.write_bytes(good[:len(good) // 2])
    with pytest.raises(ValueError, match='damaged or not a cpc checkpoint'): resume()
    sd = torch.load(__import__('io').BytesIO(good), weights_only=True)
    sd['nets'] = sd['nets'][:1]
    torch.save(sd, ckpt)
    with pytest.raises(ValueError, match='expected the state of two networks'): resume()

# ---- silent wrong behaviour and late errors

def test_missing_data_folder_is_refused_and_leaves_nothing(tmp_path, capsys):
    code, err = cli(['--preset', 'fmnist-sym50', '--data', str(tmp_path/'nope'), '--out', str(tmp_path/'run')], capsys)
    assert code == 2 and "no such folder" in err and not (tmp_path/'run').exists()

@pytest.mark.parametrize('flag, value, msg', [('num_batches', '-1', 'num_batches=-1'), ('tau', '1', 'tau=1.0'),
    ('tau', '1.5', 'tau=1.5'), ('T', '0', 'T=0.0'), ('alpha', '0', 'alpha=0.0'), ('lr', '-1', 'lr=-1.0'),
    ('momentum', '1', 'momentum=1.0'), ('proto_warmup', '2', 'proto_warmup=2.0')])
def test_bad_values_are_refused_before_any_work(flag, value, msg, fmnist_dir, tmp_path, capsys):
    code, err = cli(['--preset', 'fmnist-sym50', '--data', str(fmnist_dir), '--out', str(tmp_path/'run'), f'--{flag}', value], capsys)
    assert code == 2 and msg in err and not (tmp_path/'run').exists()

def test_cuda_without_gpu_is_refused_before_any_work(fmnist_dir, tmp_path, capsys):
    if torch.cuda.is_available(): pytest.skip('this machine has a GPU')
    code, err = cli(['--preset', 'fmnist-sym50', '--data', str(fmnist_dir), '--out', str(tmp_path/'run'), '--device', 'cuda'], capsys)
    assert code == 2 and 'CUDA is not available' in err and not (tmp_path/'run').exists()

def test_plain_cross_entropy_is_a_named_baseline(fmnist_dir, tmp_path, capsys):
    assert PRESETS['fmnist-sym50-ce'].config.warmup_epochs == PRESETS['fmnist-sym50-ce'].config.epochs
    tr = Trainer(TrainConfig(**{**SMALL, 'warmup_epochs': 2}), data=fmnist_dir, out=tmp_path, device='cpu', verbose=True)
    assert 'plain cross-entropy training, no cleaner will run' in capsys.readouterr().out
    tr.release()

def test_nan_features_are_refused_by_the_cleaners():
    bank = CleanerBank(2, 4, dim=4)
    feats, y = torch.randn(20, 4), torch.arange(20) % 2
    probs, losses = torch.full((20, 2), 0.5), torch.rand(20)
    feats[5, 0] = float('nan')
    with pytest.raises(ValueError, match=r'features contain 1 non-finite value\(s\) \(first in row 5\)'): bank.step(losses, y, probs, feats)
    probs[2] = float('nan')
    with pytest.raises(ValueError, match='probs contain'): bank.step(losses, y, probs, torch.randn(20, 4))

def test_failure_inside_training_is_one_line_and_exit_1(fmnist_dir, tmp_path, capsys, monkeypatch):
    def boom(self, epoch): raise RuntimeError('disk full')
    monkeypatch.setattr(Trainer, 'run_epoch', boom)
    code, err = cli(['--preset', 'fmnist-sym50', '--data', str(fmnist_dir), '--out', str(tmp_path/'run'), '--device', 'cpu'] + ALL_DATA, capsys)
    assert code == 1 and 'Traceback' not in err  # progress bars aside, one line
    assert err.strip().splitlines()[-1] == 'cpc_train: error: RuntimeError: disk full; last good checkpoint: none'

def test_listed_image_that_is_missing_is_named_when_opened(clothing1m_dir, tmp_path):
    from cpc.data import Clothing1M
    root = shutil.copytree(clothing1m_dir, tmp_path/'c1m')
    key = Clothing1M(root, 'train').keys[5]
    (root/key).unlink()
    with pytest.raises(DatasetLayoutError, match=rf"Clothing1M train: 1 of 28 listed images not found .*{key}"): Clothing1M(root, 'train')

@pytest.mark.parametrize('content, msg', [(b'[1, 99999999999999999999999]', 'must lie in [0, 10), got 99999999999999999999999'),
                                          (b'[1, \xff]', 'is not UTF-8 text'), (None, 'is a folder')])
def test_bad_noise_files_are_named(content, msg, tmp_path):
    from cpc.noise import load_noise_file
    f = tmp_path/'0.5_sym.json'
    if content is None: f.mkdir()
    else: f.write_bytes(content)
    with pytest.raises(ValueError) as e: load_noise_file(f, 2, 10)
    assert msg in str(e.value) and str(f) in str(e.value)

def test_low_level_gmm_refuses_nan():
    from cpc.gmm import fit_gmm, kmeans_1d
    x = torch.tensor([0.1, float('nan'), 0.5, 0.9])
    for f in (fit_gmm, kmeans_1d):
        with pytest.raises(ValueError, match=r'samples contain 1 non-finite value\(s\)'): f(x)

def test_impossible_out_folder_is_refused_before_work(fmnist_dir, tmp_path, capsys):
    (tmp_path/'file').write_text('x')
    code, err = cli(['--preset', 'fmnist-sym50', '--data', str(fmnist_dir), '--out', str(tmp_path/'file'/'run')], capsys)
    assert code == 2 and 'cannot create the output folder' in err

def test_human_label_file_with_code_is_refused(tmp_path):
    from cpc.noise import load_human_labels
    marker = tmp_path/'pwned'
    torch.save({'aggre_label': _Evil(marker)}, tmp_path/'CIFAR-10_human.pt')
    with pytest.raises(ValueError, match='refused, it holds objects other than label arrays'):
        load_human_labels(tmp_path/'CIFAR-10_human.pt', 'aggre_label', allow_pickle=True)
    assert not marker.exists()

def test_read_only_out_folder_is_refused_before_work(fmnist_dir, capsys):
    "/sys refuses new files even to root, for whom os.access says every folder is writable."
    ro = Path('/sys')
    try: open(ro/'cpc_probe', 'w').close()
    except OSError: pass
    else: pytest.skip('/sys is writable here')
    code, err = cli(['--preset', 'fmnist-sym50', '--data', str(fmnist_dir), '--out', str(ro), '--device', 'cpu'], capsys)
    assert code == 2 and "out='/sys': the folder is not writable" in err

def test_corrupt_image_in_a_worker_is_one_line_naming_the_file(clothing1m_dir, tmp_path, capsys):
    from cpc.data import Clothing1M
    root = shutil.copytree(clothing1m_dir, tmp_path/'c1m')
    key = Clothing1M(root, 'train').keys[5]
    (root/key).write_bytes(b'\xff\xd8 truncated')
    code, err = cli(['--preset', 'clothing1m', '--data', str(root), '--out', str(tmp_path/'run'), '--device', 'cpu',
                     '--model', 'small_cnn', '--pretrained', 'False', '--epochs', '1', '--warmup_epochs', '1', '--num_batches', '0',
                     '--batch_size', '4', '--eval_batch_size', '8', '--num_workers', '1'], capsys)
    last = err.strip().splitlines()[-1]
    assert code == 1 and 'Traceback' not in err
    assert last.startswith('cpc_train: error: cpc.data.ImageReadError: ') and f'{key}: cannot read the image' in last, last
