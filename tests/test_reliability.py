"Nothing lost, nothing run, every mistake a clear message: guards of the Trainer and of cpc_train under bad input and faults."
import io, json, os, pickle, shutil, signal, subprocess, sys
from pathlib import Path
import numpy as np, pytest, torch
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
    assert err.strip().splitlines()[-1] == 'cpc_train: error: RuntimeError: disk full; last good checkpoint: none (no epoch finished)'

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

def test_corrupt_image_is_one_line_naming_the_file_before_training(clothing1m_dir, tmp_path, capsys):
    from cpc.data import Clothing1M
    root = shutil.copytree(clothing1m_dir, tmp_path/'c1m')
    key = Clothing1M(root, 'train').keys[5]
    (root/key).write_bytes(b'\xff\xd8 truncated')
    code, err = cli(['--preset', 'clothing1m', '--data', str(root), '--out', str(tmp_path/'run'), '--device', 'cpu',
                     '--model', 'small_cnn', '--pretrained', 'False', '--epochs', '1', '--warmup_epochs', '1', '--num_batches', '0',
                     '--batch_size', '4', '--eval_batch_size', '8', '--num_workers', '1'], capsys)
    last = err.strip().splitlines()[-1]
    assert code == 2 and 'Traceback' not in err  # every listed image is checked when the set is opened, before any epoch
    assert 'cannot be read' in last and key in last and not (tmp_path/'run'/'checkpoint.pt').exists(), last


# ---- issue 26: a run's labels are part of its identity, --overwrite checks before it deletes, no input reaches a traceback

BASE = ['--preset', 'fmnist-sym50', '--train_subset', '40', '--test_subset', '20', '--epochs', '2', '--warmup_epochs', '1',
        '--batch_size', '16', '--eval_batch_size', '64', '--device', 'cpu']

def snapshot(out:Path)->dict:
    "Every file of a folder and its bytes."
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}

@pytest.fixture(scope='module')
def finished(fmnist_dir, tmp_path_factory):
    "A finished two-epoch run of BASE (read only: copy it before changing it)."
    out = tmp_path_factory.mktemp('finished')/'run'
    try: assert main(BASE + ['--data', str(fmnist_dir), '--out', str(out)]) == 0
    except SystemExit as e: raise AssertionError(f'exit {e.code}')
    return out

def copy_run(finished, tmp_path)->Path: return Path(shutil.copytree(finished, tmp_path/'run'))

# 1
@pytest.mark.parametrize('bad, msg', [(['--data', '/nonexistent'], 'no such folder'), (['--device', 'meta'], 'a test tensor operation failed'),
                                      (['--cpc_dim', '1000000000'], 'cpc_dim=1000000000: the prototype cleaners of both networks need about'),
                                      (['--train_subset', '100000'], 'train_subset=100000: expected at most 60')])
def test_overwrite_checks_everything_before_it_deletes(bad, msg, finished, fmnist_dir, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    before = snapshot(out)
    code, err = cli(BASE + ['--data', str(fmnist_dir), '--out', str(out), '--overwrite'] + bad, capsys)
    assert code == 2 and msg in err, err
    assert snapshot(out) == before  # the finished run is untouched

def test_overwrite_that_passes_its_checks_replaces_the_run(finished, fmnist_dir, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    old = json.loads((out/'0.5_sym.json').read_text())
    tr = Trainer(dataclasses_replace(main_config(), seed=1), data=fmnist_dir, out=out, device='cpu', verbose=False, overwrite=True)
    assert not any((out/f).exists() for f in ('checkpoint.pt', 'metrics.csv', 'samples.csv', 'auc.png'))
    assert json.loads((out/'0.5_sym.json').read_text()) != old and (out/'0.5_sym.origin.json').is_file()
    tr.release()

def main_config():
    from cpc.cli import parse_config
    return parse_config('fmnist-sym50', dict(train_subset='40', test_subset='20', epochs='2', warmup_epochs='1', batch_size='16',
                                             eval_batch_size='64'))

def dataclasses_replace(cfg, **kw):
    import dataclasses
    return dataclasses.replace(cfg, **kw)

# 2
def test_run_files_without_a_checkpoint_are_refused_like_a_run(finished, fmnist_dir, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    (out/'checkpoint.pt').unlink()
    before = snapshot(out)
    code, err = cli(BASE + ['--data', str(fmnist_dir), '--out', str(out), '--seed', '1'], capsys)
    assert code == 2 and "holds the files of a run (metrics.csv, auc.png, samples.csv) but no checkpoint.pt" in err, err
    assert '--overwrite' in err and snapshot(out) == before

# 3
def test_noise_file_of_a_killed_run_is_used_only_by_the_same_run(fmnist_dir, tmp_path):
    cfg = main_config()
    Trainer(cfg, data=fmnist_dir, out=tmp_path, device='cpu', verbose=False).release()  # killed before its first checkpoint
    assert sorted(p.name for p in tmp_path.iterdir()) == ['0.5_sym.json', '0.5_sym.origin.json']
    with pytest.raises(ValueError, match=r"0.5_sym.json was drawn for seed=0; this run has seed=1: it belongs to another run"):
        Trainer(dataclasses_replace(cfg, seed=1), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False)
    with pytest.raises(ValueError, match=r"was drawn for train_subset=40; this run has train_subset=30"):
        Trainer(dataclasses_replace(cfg, train_subset=30), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False)
    again = Trainer(cfg, data=fmnist_dir, out=tmp_path, device='cpu', verbose=False)  # the same run retried: its own noise
    assert again.train.labels.tolist() == json.loads((tmp_path/'0.5_sym.json').read_text())
    again.release()

# 4
def test_noise_file_replaced_before_resume_is_refused(finished, fmnist_dir, tmp_path):
    out = copy_run(finished, tmp_path)
    y = json.loads((out/'0.5_sym.json').read_text())
    j = next(i for i, v in enumerate(y) if v != y[0])
    y[0], y[j] = y[j], y[0]  # two labels swapped: other labels at the same noise rate
    (out/'0.5_sym.json').write_text(json.dumps(y))
    resume = lambda: Trainer(main_config(), data=fmnist_dir, out=out, device='cpu', verbose=False, resume=True)
    with pytest.raises(ValueError, match='was changed after it was drawn'): resume()
    (out/'0.5_sym.origin.json').unlink()  # no record to compare with: the checkpoint's fingerprint of the labels refuses it
    with pytest.raises(ValueError, match=r"resume: .*checkpoint.pt was trained on other noisy labels than .*0.5_sym.json holds now"):
        resume()
    (out/'0.5_sym.json').unlink()  # gone: the labels are drawn again from the config, the same as the run's
    resume().release()

# 5
def test_disk_full_at_a_checkpoint_names_what_was_saved(fmnist_dir, tmp_path, monkeypatch):
    import cpc.train, cpc.runs
    tr = Trainer(main_config(), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False)
    save, Usage = torch.save, shutil.disk_usage(tmp_path).__class__
    def full(obj, f, *a, **kw):
        if tr.history[-1]['epoch'] == 1: raise RuntimeError('[enforce fail at inline_container.cc:664] . PytorchStreamWriter failed writing file data/3: file write failed')
        return save(obj, f, *a, **kw)
    monkeypatch.setattr(torch, 'save', full)
    monkeypatch.setattr(cpc.runs.shutil, 'disk_usage', lambda p: Usage(10**9, 10**9 - 4096, 4096))
    with pytest.raises(cpc.train.TrainingError) as e: tr.fit()
    assert str(e.value) == (f"cannot write {tmp_path/'checkpoint.pt'}: no space left on device (0.0 MiB free); epoch 1 was not saved; "
                            f"last good checkpoint: {tmp_path/'checkpoint.pt'} (epochs 0-0 done; --resume continues)")
    monkeypatch.undo()  # the disk has room again
    assert Trainer(main_config(), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False, resume=True).start_epoch == 1

def test_disk_full_at_the_first_checkpoint_says_nothing_was_saved(fmnist_dir, tmp_path, capsys, monkeypatch):
    import cpc.train, cpc.runs
    Usage = shutil.disk_usage(tmp_path).__class__
    def full(obj, f, *a, **kw): raise RuntimeError('PytorchStreamWriter failed writing file data/0: file write failed')
    monkeypatch.setattr(torch, 'save', full)
    run_epoch = Trainer.run_epoch
    def fill_disk(self, epoch):  # the disk fills during the first epoch
        monkeypatch.setattr(cpc.runs.shutil, 'disk_usage', lambda p: Usage(10**9, 10**9, 0))
        return run_epoch(self, epoch)
    monkeypatch.setattr(Trainer, 'run_epoch', fill_disk)
    code, err = cli(BASE + ['--data', str(fmnist_dir), '--out', str(tmp_path/'run')], capsys)
    assert code == 1 and 'Traceback' not in err
    assert err.strip().splitlines()[-1] == (f"cpc_train: error: cannot write {tmp_path/'run'/'checkpoint.pt'}: no space left on device "
                                            "(0.0 MiB free); epoch 0 was not saved; last good checkpoint: none (no epoch finished)")

def test_no_room_for_one_checkpoint_is_refused_before_work(fmnist_dir, tmp_path, monkeypatch):
    import cpc.train, cpc.runs
    Usage = shutil.disk_usage(tmp_path).__class__
    monkeypatch.setattr(cpc.runs.shutil, 'disk_usage', lambda p: Usage(10**9, 10**9, 2**16))
    with pytest.raises(ValueError, match=r"0.1 MiB free on its disk, one checkpoint needs about"):
        Trainer(main_config(), data=fmnist_dir, out=tmp_path/'run', device='cpu', verbose=False)
    assert not (tmp_path/'run').exists()

# 6, 7
@pytest.mark.parametrize('bad, msg', [(['--device', 'meta'], "device='meta': a test tensor operation failed there (RuntimeError: Tensor.item() cannot be called on meta tensors)"),
                                      (['--device', 'mps'], "device='mps': a test tensor operation failed there"),
                                      (['--cpc_dim', '1000000000'], 'cpc_dim=1000000000: the prototype cleaners of both networks need about'),
                                      (['--seed', str(2**32)], 'seed=4294967296: expected an integer in [0, 2**32)')])
def test_device_and_config_are_checked_before_anything_is_written(bad, msg, fmnist_dir, tmp_path, capsys):
    if bad == ['--device', 'mps'] and torch.backends.mps.is_available(): pytest.skip('this machine has MPS')
    code, err = cli(BASE + ['--data', str(fmnist_dir), '--out', str(tmp_path/'run')] + bad, capsys)
    assert code == 2 and msg in err and len(err.strip().splitlines()) <= 3, err  # usage, then one line
    assert not (tmp_path/'run').exists()  # no folder, no noise file

# 8
def test_deeply_nested_noise_file_is_one_clear_error(fmnist_dir, tmp_path, capsys):
    (tmp_path/'run').mkdir()
    (tmp_path/'run'/'0.5_sym.json').write_text('[' * 200_000 + ']' * 200_000)
    code, err = cli(BASE + ['--data', str(fmnist_dir), '--out', str(tmp_path/'run')], capsys)
    assert code == 2 and '0.5_sym.json is nested too deeply to parse; expected a flat JSON list of integers' in err, err

# 9
def _edit_history_no_epoch(sd): sd['history'] = [{k: v for k, v in r.items() if k != 'epoch'} for r in sd['history']]
def _edit_rng_empty(sd): sd['rng'] = {}
def _edit_epoch_string(sd): sd['history'][0]['epoch'] = '0'
def _edit_history_ahead(sd): sd['history'] = [dict(r, epoch=i) for i, r in enumerate(sd['history'] * 2)]
def _edit_nets_not_a_list(sd): sd['nets'] = 3
def _edit_best(sd): sd['best'] = 'x'

@pytest.mark.parametrize('edit, msg', [(_edit_history_no_epoch, "its history is not a list of epoch rows"),
                                       (_edit_rng_empty, "its random states are incomplete"),
                                       (_edit_epoch_string, "its history is not a list of epoch rows"),
                                       (_edit_history_ahead, "its history holds 4 epochs, more than its config's epochs=2"),
                                       (_edit_nets_not_a_list, "expected the state of two networks"),
                                       (_edit_best, "its best-validation record")])
def test_hand_edited_checkpoint_is_called_damaged(edit, msg, finished, fmnist_dir, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    sd = torch.load(out/'checkpoint.pt', weights_only=True)
    edit(sd)
    torch.save(sd, out/'checkpoint.pt')
    code, err = cli(BASE + ['--data', str(fmnist_dir), '--out', str(out), '--resume'], capsys)
    assert code == 2 and f"checkpoint {out/'checkpoint.pt'} is damaged or not a cpc checkpoint: {msg}" in err, err

def test_crafted_checkpoint_message_gives_no_unsafe_advice(finished, fmnist_dir, tmp_path):
    out = copy_run(finished, tmp_path)
    torch.save({'x': _Evil(tmp_path/'pwned')}, out/'checkpoint.pt')
    with pytest.raises(ValueError) as e: Trainer(main_config(), data=fmnist_dir, out=out, device='cpu', verbose=False, resume=True)
    assert 'posix.system' in str(e.value) and 'weights_only' not in str(e.value) and not (tmp_path/'pwned').exists()

# 10
@pytest.mark.parametrize('how, code, word', [('ctrl-c', 130, 'interrupted'), ('sigterm', 143, 'terminated (SIGTERM)')])
def test_interrupt_is_one_line_saying_what_was_kept(how, code, word, fmnist_dir, tmp_path, capsys, monkeypatch):
    run_epoch = Trainer.run_epoch
    def stop(self, epoch):
        if epoch == 1:
            if how == 'ctrl-c': raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGTERM)
        return run_epoch(self, epoch)
    monkeypatch.setattr(Trainer, 'run_epoch', stop)
    got, err = cli(BASE + ['--data', str(fmnist_dir), '--out', str(tmp_path/'run')], capsys)
    assert got == code and 'Traceback' not in err
    assert err.strip().splitlines()[-1] == (f"cpc_train: {word}; last good checkpoint: {tmp_path/'run'/'checkpoint.pt'} "
                                            "(epochs 0-0 done; --resume continues)")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # main puts the default handler back

# 11
def test_clothing1m_keys_outside_the_root_or_with_two_labels_are_refused_at_open(clothing1m_dir, tmp_path):
    from cpc.data import Clothing1M
    root = shutil.copytree(clothing1m_dir, tmp_path/'c1m')
    keys = (root/'noisy_train_key_list.txt').read_text()
    for bad in ('../../etc/passwd', '/etc/passwd', 'images/../../x.jpg'):
        (root/'noisy_train_key_list.txt').write_text(keys + bad + '\n')
        with pytest.raises(DatasetLayoutError, match=r"Clothing1M train \(noisy_train_key_list.txt\): 1 listed keys point outside"):
            Clothing1M(root, 'train')
    (root/'noisy_train_key_list.txt').write_text(keys)
    k, y = (root/'noisy_label_kv.txt').read_text().split()[:2]
    with open(root/'noisy_label_kv.txt', 'a') as f: f.write(f"{k} {(int(y) + 1) % 14}\n")
    with pytest.raises(DatasetLayoutError, match=f"key '{k}' is listed twice in noisy_label_kv.txt, with labels {y} and"):
        Clothing1M(root, 'train')

# 12
def test_inject_noise_never_overflows_the_callers_dtype():
    from cpc.noise import inject_noise
    y = torch.arange(100, dtype=torch.int8)
    with pytest.raises(ValueError, match=r"labels of dtype torch.int8 hold at most 127, but num_classes=200"):
        inject_noise(y, 'sym', 0.5, 200)
    assert inject_noise(y.to(torch.int16), 'sym', 0.5, 200).min() >= 0

# ---- weak messages: each names the option or file

def test_subset_beyond_the_data_names_the_option(fmnist_dir, tmp_path, capsys):
    code, err = cli(BASE + ['--data', str(fmnist_dir), '--out', str(tmp_path/'run'), '--test_subset', '500'], capsys)
    assert code == 2 and "test_subset=500: expected at most 20, the size of the fashion_mnist test set found" in err, err

@pytest.mark.parametrize('flag', ['tau', 'p_threshold'])
def test_zero_threshold_is_refused(flag, tmp_path, capsys):
    code, err = cli(BASE + ['--out', str(tmp_path/'run'), f'--{flag}', '0'], capsys)
    assert code == 2 and f"{flag}=0.0: expected a value in (0, 1)" in err

def test_numpy_numbers_are_accepted_by_the_config():
    cfg = TrainConfig(lr=np.float64(0.1), epochs=np.int64(5), warmup_epochs=np.int32(1), noise_rate=np.float32(0.5), compile=np.bool_(False))
    assert (cfg.lr, cfg.epochs, type(cfg.lr), type(cfg.epochs), type(cfg.compile)) == (0.1, 5, float, int, bool)
    with pytest.raises(ValueError, match='epochs=True: expected an integer'): TrainConfig(epochs=True)

def test_string_labels_and_protocol_5_cifar_batches(tmp_path):
    root = write_cifar_fixture(tmp_path, 'cifar10', n_train=100, n_test=20)
    ref = load_cifar(root, 'cifar10')
    batch = root/'cifar-10-batches-py'/'data_batch_1'
    with open(batch, 'rb') as f: b = pickle.load(f, encoding='bytes')
    with open(batch, 'wb') as f: pickle.dump(b, f, protocol=5)  # harmless, only a newer protocol
    assert torch.equal(load_cifar(root, 'cifar10').labels, ref.labels)
    b[b'labels'] = [str(v) + 'x' for v in b[b'labels']]
    with open(batch, 'wb') as f: pickle.dump(b, f, protocol=2)
    with pytest.raises(DatasetLayoutError, match=r"data_batch_1: 'labels' holds list values that are not all integers \(first: '\d+x'\)"):
        load_cifar(root, 'cifar10')

def test_empty_out_is_refused(fmnist_dir, capsys):
    code, err = cli(BASE + ['--data', str(fmnist_dir), '--out', ''], capsys)
    assert code == 2 and "--out '': expected a folder path" in err
    with pytest.raises(ValueError, match="out='': expected a folder path"): Trainer(main_config(), data=fmnist_dir, out='', device='cpu')

def test_messages_name_the_flags(tmp_path, capsys):
    code, err = cli(['--preset', 'cifar10-sym50', '--data', str(tmp_path), '--out', str(tmp_path/'run')], capsys)
    assert code == 2 and '--download' in err
    from cpc.noise import load_human_labels
    torch.save({'aggre_label': np.zeros(3, dtype=np.int64)}, tmp_path/'CIFAR-10_human.pt')
    with pytest.raises(ValueError, match='--allow_pickle'): load_human_labels(tmp_path/'CIFAR-10_human.pt', 'aggre_label')

def test_outputs_are_readable_by_colleagues(finished):
    mask = os.umask(0o022); os.umask(mask)
    for f in ('checkpoint.pt', 'metrics.csv', 'samples.csv', '0.5_sym.json'):
        assert (finished/f).stat().st_mode & 0o777 == 0o666 & ~mask, f
