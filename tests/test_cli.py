"The `cpc_train` command line: presets, --list/--help, bad input (exit 2 before any work), a real run, --resume."
import csv, dataclasses, subprocess, sys
from pathlib import Path
import pytest
from cpc.cli import PRESETS, PAPER_RESULTS, BASELINES, main, parse_config
from cpc.train import TrainConfig, Trainer

CONSOLE = Path(sys.executable).parent/'cpc_train'

def run_cli(*args):
    "Run the installed console script (or `python -m cpc.cli` when it is not installed) in a subprocess."
    cmd = [str(CONSOLE)] if CONSOLE.exists() else [sys.executable, '-m', 'cpc.cli']
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120)

def cli_exit(argv, capsys):
    "Run `main(argv)` in-process; return (exit code, stdout, stderr)."
    try: code = main(argv)
    except SystemExit as e: code = e.code
    out, err = capsys.readouterr()
    return code, out, err

# ---- presets

def test_presets_cover_the_paper_and_the_cpu_track():
    names = set(PRESETS)
    paper = {f'cifar10-sym{r}' for r in (20, 50, 80, 90)} | {'cifar10-asym40'} | {f'cifar100-sym{r}' for r in (20, 50, 80, 90)} \
            | {'clothing1m', 'webvision'}
    cpu = {'fmnist-sym50', 'fmnist-sym80', 'fmnist-sym90', 'fmnist-asym40', 'fmnist-idn40'}
    assert paper | cpu <= names and set(PAPER_RESULTS) == paper
    for n in paper:
        for b in ("dividemix", "augdmix" if n != "webvision" else "gmm_agn"): assert f"{n}-{b}" in names
    for n in cpu: assert f'{n}-dividemix' in names
    for name, (cfg, desc) in PRESETS.items():
        assert isinstance(cfg, TrainConfig) and desc and '\n' not in desc, name
        if name in PAPER_RESULTS: assert f'{PAPER_RESULTS[name].cpc:.2f}' in desc, (name, desc)

def test_baselines_change_only_the_cleaner_views_and_schedule():
    for name, (cfg, _) in PRESETS.items():
        base, _, b = name.rpartition('-')
        if b not in BASELINES: continue
        ref = PRESETS[base].config
        if b == 'select':  # sample selection: the preset itself, trained by the other method
            assert ref.diff(cfg) == {'method': ('dividemix', 'select')}, name; continue
        assert cfg.cleaner == 'gmm_agn' and cfg.strong_aug == (b == 'augdmix' or (b in ('gmm_agn', 'ce') and ref.strong_aug)), name
        schedule = {'epochs', 'lr_drop', 'batch_size', 'warmup_batch_size', 'weight_decay', 'num_batches'}
        allowed = {'gmm_agn': set(), 'ce': {'warmup_epochs'}}.get(b, schedule)
        assert set(ref.diff(cfg)) <= {'cleaner', 'strong_aug'} | allowed, name
        if b == 'ce': assert cfg.warmup_epochs == cfg.epochs, name

def test_paper_hyperparameters():
    c = PRESETS['cifar100-sym90'].config
    assert (c.epochs, c.lr, c.lr_drop_epoch, c.warmup_epochs, c.batch_size, c.weight_decay) == (450, 0.02, 225, 30, 128, 5e-4)
    assert (c.lambda_u, c.p_threshold, c.loss_history, c.proto_warmup, c.strong_aug) == (150, 0.6, True, 0.10, True)
    c = PRESETS['cifar10-asym40'].config
    assert (c.cleaner, c.neg_entropy, c.lambda_u, c.warmup_epochs) == ('cpc_agn', True, 0, 10)
    c = PRESETS['clothing1m'].config
    assert (c.model, c.pretrained, c.epochs, c.lr, c.lr_drop_epoch, c.weight_decay, c.batch_size, c.num_batches) == \
           ('resnet50', True, 80, 0.002, 40, 1e-3, 32, 1000)
    assert (c.tau, c.cleaner, c.lambda_u, c.warmup_epochs, c.noise_mode) == (0.3, 'cpc_agn', 0, 1, 'real')
    c = PRESETS['webvision'].config
    assert (c.model, c.pretrained, c.epochs, c.lr, c.lr_drop_epoch, c.cleaner) == ('resnet50', False, 100, 0.01, 50, 'cpc_awr')
    for n in ('fmnist-sym50', 'fmnist-asym40'):
        c = PRESETS[n].config
        assert (c.dataset, c.model, c.strong_aug, c.weak_aug, c.train_subset) == ('fashion_mnist', 'cnn_fc', False, False, 2000)

def test_idn_presets_take_the_nearest_sym_settings():
    "Instance-dependent noise: the nearest sym preset's settings with idn noise; -dividemix, -ce (and -gmm_agn on CIFAR), no -augdmix."
    for name, sym in (('cifar10-idn20', 'cifar10-sym20'), ('cifar10-idn40', 'cifar10-sym50'), ('cifar100-idn40', 'cifar100-sym50'),
                      ('fmnist-idn40', 'fmnist-sym50')):
        cfg, ref = PRESETS[name].config, PRESETS[sym].config
        assert cfg.noise_mode == 'idn' and cfg.noise_rate == float(name[-2:]) / 100, name
        assert set(cfg.diff(ref)) <= {'noise_mode', 'noise_rate'}, name
        assert f'{name}-dividemix' in PRESETS and f'{name}-ce' in PRESETS and f'{name}-augdmix' not in PRESETS, name
        assert PRESETS[f'{name}-dividemix'].config.noise_mode == 'idn'
    assert parse_config('cifar10-idn40', baseline='gmm_agn').cleaner == 'gmm_agn'

def test_parse_config_converts_overrides():
    cfg = parse_config('fmnist-sym80', {'epochs': '7', 'lr': '0.05', 'neg_entropy': 'true', 'strong_aug': '0'}, baseline='dividemix')
    assert (cfg.epochs, cfg.lr, cfg.neg_entropy, cfg.strong_aug, cfg.cleaner, cfg.noise_rate) == (7, 0.05, True, False, 'gmm_agn', 0.8)

# ---- the command line

def test_list_console_script():
    r = run_cli('--list')
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == len(PRESETS)
    for line, (name, p) in zip(lines, PRESETS.items()): assert line.split()[0] == name and p.description in line

def test_python_m():
    r = subprocess.run([sys.executable, '-m', 'cpc.cli', '--list'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and 'cifar100-sym90' in r.stdout, r.stderr

def test_help_lists_every_field(capsys):
    code, out, _ = cli_exit(['--help'], capsys)
    assert code == 0
    for f in dataclasses.fields(TrainConfig): assert f'--{f.name} ' in out, f.name

@pytest.mark.parametrize('argv,msg', [
    (['--preset', 'cifar10-sym55'], "unknown preset 'cifar10-sym55'"),
    (['--preset', 'fmnist-sym50', '--baseline', 'augdmix'], "has no augdmix baseline (AugDMix has no Fashion-MNIST preset)"),
    (['--preset', 'cifar10-sym50', '--baseline', 'coteaching'], "baseline='coteaching'"),
    (['--cleaner', 'foo'], "cleaner='foo'"),
    (['--epochs', 'abc'], "--epochs 'abc': expected an integer"),
    (['--lr', 'fast'], "--lr 'fast': expected a finite number"),
    (['--strong_aug', 'maybe'], "--strong_aug 'maybe': expected a boolean"),
    (['--noise_rate', '2'], "noise_rate=2.0: expected a value in [0, 1]"),
    (['--epoch', '5'], "unrecognized arguments: --epoch 5 (--epoch: did you mean --epochs?)"),
    (['--preset', 'fmnist-sym50', '--epochs', '3'], "warmup_epochs=4"),
    (['--device', 'gpu0'], "--device 'gpu0'"),
])
def test_bad_input_exits_2(argv, msg, capsys, tmp_path):
    code, out, err = cli_exit(argv + ['--out', str(tmp_path/'run')], capsys)
    assert code == 2 and msg in err and out == '', (code, err)
    assert not (tmp_path/'run').exists()

def test_bad_input_subprocess(tmp_path):
    r = run_cli('--preset', 'fmnist-sym50', '--cleaner', 'foo', '--out', str(tmp_path/'run'))
    assert r.returncode == 2 and "cleaner='foo'" in r.stderr and r.stdout == ''

def test_missing_dataset(capsys, tmp_path):
    code, _, err = cli_exit(['--preset', 'cifar10-sym50', '--data', str(tmp_path/'nowhere'), '--out', str(tmp_path/'run')], capsys)
    assert code == 2 and 'cifar-10-batches-py' in err, err
    assert not (tmp_path/'run'/'checkpoint.pt').exists()

def test_resume_needs_a_checkpoint(capsys, tmp_path, fmnist_dir):
    code, _, err = cli_exit(['--preset', 'fmnist-sym50', '--data', str(fmnist_dir), '--out', str(tmp_path), '--resume'], capsys)
    assert code == 2 and 'no checkpoint' in err, err

# ---- real runs on the Fashion-MNIST fixture (60 train / 20 test images)

TINY = ['--device', 'cpu', '--batch_size', '16', '--eval_batch_size', '64', '--train_subset', '0', '--test_subset', '0']  # the fixture: 60 images

def rows(out:Path)->list:
    with open(out/'metrics.csv') as f: return [{k: v for k, v in r.items() if k != 'seconds'} for r in csv.DictReader(f)]

def test_one_epoch_run(fmnist_dir, tmp_path, capsys):
    out = tmp_path/'run'
    code, stdout, err = cli_exit(['--preset', 'fmnist-sym50', '--data', str(fmnist_dir), '--out', str(out),
                                  '--epochs', '1', '--warmup_epochs', '1'] + TINY, capsys)
    assert code == 0, err
    assert [r['epoch'] for r in rows(out)] == ['0'] and (out/'checkpoint.pt').exists()
    assert 'done: 1 epochs' in stdout

def test_resume_continues_a_killed_run(fmnist_dir, tmp_path, capsys, monkeypatch):
    argv = ['--preset', 'fmnist-sym50', '--data', str(fmnist_dir), '--epochs', '2', '--warmup_epochs', '1'] + TINY
    assert cli_exit(argv + ['--out', str(tmp_path/'full')], capsys)[0] == 0
    # the same run, killed during its first DivideMix epoch (after the warm-up checkpoint), then resumed
    run_epoch = Trainer.run_epoch
    def killed(self, epoch):
        if epoch == 1: raise KeyboardInterrupt
        return run_epoch(self, epoch)
    monkeypatch.setattr(Trainer, 'run_epoch', killed)
    assert main(argv + ['--out', str(tmp_path/'killed')]) == 130  # Ctrl-C: one line, exit code 130
    assert [r['epoch'] for r in rows(tmp_path/'killed')] == ['0']
    monkeypatch.setattr(Trainer, 'run_epoch', run_epoch)
    # a different config is refused, naming the field
    code, _, err = cli_exit(argv + ['--out', str(tmp_path/'killed'), '--resume', '--lr', '0.1'], capsys)
    assert code == 2 and 'lr' in err, err
    assert cli_exit(argv + ['--out', str(tmp_path/'killed'), '--resume'], capsys)[0] == 0
    assert rows(tmp_path/'killed') == rows(tmp_path/'full')

def test_cifar_n_run(tmp_path, capsys):
    "A CIFAR-N preset on a CIFAR fixture with a human-label file in the real format: opt-in, key check, a real run."
    from cpc.datasets import load_dataset
    from cpc.fixtures import write_cifar_fixture
    from cpc.noise import write_human_fixture, noise_report
    data = write_cifar_fixture(tmp_path/'data', 'cifar10', n_train=60, n_test=20)
    true = load_dataset('cifar10', data).labels
    write_human_fixture(data, 'cifar10', true, rate=0.4)
    argv = ['--preset', 'cifar10n-worst', '--data', str(data), '--model', 'small_cnn', '--epochs', '2', '--warmup_epochs', '1',
            '--strong_aug', 'False'] + TINY
    code, _, err = cli_exit(argv + ['--out', str(tmp_path/'a')], capsys)
    assert code == 2 and 'allow_pickle' in err, err
    code, _, err = cli_exit(argv + ['--out', str(tmp_path/'b'), '--human_key', 'noisy_label'], capsys)
    assert code == 2 and "expected one of ('aggre_label', 'random_label1'" in err, err
    code, stdout, err = cli_exit(argv + ['--out', str(tmp_path/'c'), '--allow_pickle'], capsys)
    assert code == 0, err
    assert [r['epoch'] for r in rows(tmp_path/'c')] == ['0', '1']
    t = Trainer(PRESETS['cifar10n-worst'].config, data=data, out=tmp_path/'d', device='cpu', verbose=False, allow_pickle=True)
    assert t.noise.rate == noise_report(true, t.train.labels, 10).rate > 0.2  # the human labels, checked against CIFAR's
    t.release()
