"Issue 35, part A: the command lines, the finder's inputs and output, and the run folder, as a careless or hostile user meets them."
import csv, io, os, resource, shutil, signal, subprocess, sys, tempfile, traceback, zipfile
from pathlib import Path
from types import SimpleNamespace
import numpy as np, pytest, torch
from cpc.cli import main
from cpc.issues import cpc_find_issues, find_label_issues
from cpc.methods import CleanerMethod
from cpc.train import TrainConfig, Trainer, RunExistsError

SMALL = dict(dataset='fashion_mnist', model='small_cnn', noise_mode='sym', noise_rate=0.5, epochs=2, warmup_epochs=1,
             batch_size=16, eval_batch_size=64)
FIXTURE = ['--preset', 'fmnist-sym50', '--device', 'cpu', '--train_subset', '0', '--test_subset', '0']  # the 60-image fixture

def run(fn, argv, capsys):
    "Run a console script's function in-process; return (exit code, stdout, stderr)."
    try: code = fn(argv)
    except SystemExit as e: code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err

def outputs(n=200, K=4, seed=0, features=False):
    "Labels, predicted probabilities (and features) of a fake model."
    rng = np.random.default_rng(seed)
    d = dict(labels=rng.integers(0, K, n), pred_probs=rng.dirichlet(np.ones(K), n))
    if features: d['features'] = rng.normal(size=(n, 8))
    return d

def save_csv(path, d):
    with open(path, 'w') as f:
        f.write('label,' + ','.join(f'prob_{k}' for k in range(d['pred_probs'].shape[1])) + '\n')
        for y, p in zip(d['labels'], d['pred_probs']): f.write(f"{y},{','.join(map(str, p))}\n")
    return path

# ---- Bad 1: a reader that closes stdout early (`cpc_train --list | true`)

@pytest.mark.parametrize('script', ['cpc_train', 'cpc_find_issues'])
def test_bad1_closed_stdout_ends_quietly(script, tmp_path):
    np.savez(tmp_path/'o.npz', **outputs())
    call = {'cpc_train': "from cpc.cli import cpc_train as f; sys.argv = ['cpc_train', '--list']",
            'cpc_find_issues': f"from cpc.issues import cpc_find_issues as f; sys.argv = ['x', {str(tmp_path/'o.npz')!r}]"}[script]
    p = subprocess.Popen([sys.executable, '-c', f"import sys; {call}; sys.exit(f())"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # the reader is gone before the script prints
    err = p.stderr.read().decode(); p.wait(timeout=120)
    assert 'Traceback' not in err and 'BrokenPipe' not in err, err
    assert p.returncode == 141  # 128 + SIGPIPE, as a Unix tool ends

# ---- Bad 2, 3: labels as numpy, Python and pandas hold them

def test_bad2_uint64_labels_in_npz(tmp_path, capsys):
    d = outputs()
    np.savez(tmp_path/'i64.npz', **d); np.savez(tmp_path/'u64.npz', **{**d, 'labels': d['labels'].astype(np.uint64)})
    for f in ('i64', 'u64'): assert run(cpc_find_issues, [str(tmp_path/f'{f}.npz')], capsys)[0] == 0
    assert (tmp_path/'u64_issues.csv').read_text() == (tmp_path/'i64_issues.csv').read_text()

def test_bad3_object_and_categorical_labels():
    pd = pytest.importorskip('pandas')
    d = outputs()
    want = find_label_issues(d['labels'], d['pred_probs'])
    as_objects = np.array([int(v) for v in d['labels']], dtype=object)  # Python ints: what .item() failed on
    assert (find_label_issues(as_objects, d['pred_probs']) == want).all()
    assert (find_label_issues(pd.Series(d['labels']).astype('category'), d['pred_probs']) == want).all()  # categories that are ids
    names = np.array(['cat', 'dog', 'emu', 'fox'])[d['labels']]
    for cat in (pd.Categorical(names), pd.Series(names).astype('category')):  # categories that are names: refused, codes suggested
        with pytest.raises(ValueError, match=r"labels is a pandas categorical of names such as '\w+'.*\.cat\.codes"):
            find_label_issues(cat, d['pred_probs'])
    with pytest.raises(ValueError, match="got objects such as None"): find_label_issues(np.array([1, None] * 100, dtype=object), d['pred_probs'])

# ---- Bad 6: an .npz whose header declares 10^13 labels

def crafted_npz(path, n_declared):
    "An .npz whose labels.npy header declares `n_declared` labels while it holds 200."
    d = outputs()
    buf = io.BytesIO(); np.lib.format.write_array(buf, d['labels'].astype(np.int64)); raw = buf.getvalue()
    end = raw.index(b'\n') + 1
    header = raw[10:end].decode('latin1').replace('(200,)', f'({n_declared},)').rstrip()
    header += ' ' * ((64 - (10 + len(header) + 1) % 64) % 64) + '\n'  # npy headers end on a 64-byte boundary
    probs = io.BytesIO(); np.save(probs, d['pred_probs'])
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('labels.npy', raw[:8] + len(header).to_bytes(2, 'little') + header.encode('latin1') + raw[end:])
        z.writestr('pred_probs.npy', probs.getvalue())
    return path

def test_bad6_npz_declaring_more_than_it_holds(tmp_path, capsys):
    code, _, err = run(cpc_find_issues, [str(crafted_npz(tmp_path/'big.npz', 10**13))], capsys)
    assert code == 2 and 'big.npz: labels declares shape (10000000000000,)' in err and 'Traceback' not in err, err
    assert not (tmp_path/'big_issues.csv').exists()

# ---- Weak: runs reported as done that trained nothing or not as asked

def test_weak_one_epoch_run_trains_at_lr():
    cfg = TrainConfig(epochs=1, warmup_epochs=0, lr=0.02)
    assert cfg.lr_at(0) == 0.02  # lr_drop = epochs // 2 = 0 ran the only epoch at lr/10
    assert TrainConfig(epochs=10, warmup_epochs=2).lr_at(5) == pytest.approx(0.002)  # the drop at half of training stays

def test_weak_absurd_settings_refused_or_named(fmnist_dir, tmp_path, capsys):
    with pytest.raises(ValueError, match=r"T=1e-300: expected at least"): TrainConfig(T=1e-300)
    with pytest.raises(ValueError, match=r"lambda_u=1e\+300: expected at most 3.403e\+38"): TrainConfig(lambda_u=1e300)
    code, _, err = run(main, FIXTURE + ['--data', str(fmnist_dir), '--out', str(tmp_path/'r'), '--epochs', '2', '--warmup_epochs', '1',
                                        '--lr', '1e6'], capsys)
    assert code == 1 and 'lr=1e+06 (usual' in err, err  # the error of the first non-finite step names the value

def test_weak_run_whose_every_split_was_empty_warns(fmnist_dir, tmp_path, capsys, monkeypatch):
    real = CleanerMethod.active_cleaner
    monkeypatch.setattr(CleanerMethod, 'active_cleaner', lambda self, epoch: (real(self, epoch)[0], 1.0))  # q > 1 never: every split empty
    code, out, err = run(main, FIXTURE + ['--data', str(fmnist_dir), '--out', str(tmp_path/'r'), '--epochs', '2', '--warmup_epochs', '1'],
                         capsys)
    assert code == 0 and 'done: 2 epochs' in out
    assert 'warning: no DivideMix step ran: the split of every epoch from 1 to 1 labeled no sample' in err, err

# ---- Weak: CSV injection

def test_weak_csv_cells_never_formulas(tmp_path):
    from cpc.data import csv_cell  # public, in the lowest module every CSV writer imports
    cols = dict(index=np.arange(3), key=np.array(['=HYPERLINK("http://x","y")', '@SUM(A1)', 'images/0.jpg']),
                loss_a=np.array([-0.5, 1.25, -3e-7], np.float32), pred_a=np.array([-1, 2, 3]))
    from cpc.runs import RunFolder
    RunFolder(tmp_path).write_samples(cols)
    rows = list(csv.DictReader(open(tmp_path/'samples.csv', newline='')))
    assert [r['key'] for r in rows] == ["'=HYPERLINK(\"http://x\",\"y\")", "'@SUM(A1)", 'images/0.jpg']
    assert [float(r['loss_a']) for r in rows] == pytest.approx([-0.5, 1.25, -3e-7]) and [r['pred_a'] for r in rows] == ['-1', '2', '3']
    assert csv_cell('-0.5') == '-0.5' and csv_cell('-1+2') == "'-1+2" and csv_cell(-0.5) == -0.5
    from cpc.bench import write_csv  # the benchmark pages' results tables
    write_csv([dict(name='=cmd|"/c calc"!A1', test_acc=-0.5)], tmp_path/'results.csv')
    assert list(csv.DictReader(open(tmp_path/'results.csv', newline=''))) == [{'name': '\'=cmd|"/c calc"!A1', 'test_acc': '-0.5'}]

# ---- Weak: the finder's --out is its input, however spelled

def test_weak_out_that_is_the_input_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = save_csv(tmp_path/'x.csv', outputs()); before = src.read_bytes()
    os.link(src, tmp_path/'hard.csv'); os.symlink(src, tmp_path/'soft.csv'); (tmp_path/'sub').mkdir()
    for out in ('x.csv', './x.csv', 'sub/../x.csv', str(src), 'hard.csv', 'soft.csv'):
        code, _, err = run(cpc_find_issues, ['x.csv', '--out', out, '--overwrite'], capsys)
        assert code == 2 and 'is the input file' in err, (out, err)
    assert src.read_bytes() == before

# ---- Weak: what a SIGKILL in the middle of a write leaves, and a checkpoint that is a FIFO

def forked(fn)->tuple:
    "Run `fn()` in a forked copy of this process (no interpreter to start); return (its exit code, or minus the signal that ended it, and its stderr)."
    with tempfile.TemporaryFile('w+') as err:
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            torch.set_num_threads(1)  # the parent's OpenMP worker threads do not exist here: a parallel region would wait on them forever
            try: sys.stderr = err; code = fn()
            except SystemExit as e: code = e.code
            except BaseException: traceback.print_exc(file=err)
            finally: err.flush(); os._exit(code if isinstance(code, int) else 1)
        status = os.waitpid(pid, 0)[1]
        err.seek(0)
        return (-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)), err.read()

def kill_at(target:str, nth:int, argv:list)->int:
    "Run `main(argv)` until it is about to rename its `nth` temporary file of `target` into place, then SIGKILL itself."
    real, seen = os.replace, []
    def replace(a, b):
        seen.append(os.path.basename(b))
        if seen.count(target) == nth: os.kill(os.getpid(), signal.SIGKILL)  # the temporary file is written, not yet renamed
        real(a, b)
    os.replace = replace
    return main(argv)

@pytest.mark.parametrize('target,nth', [('checkpoint.pt', 2), ('metrics.csv', 2), ('0.5_sym.json', 1), ('0.5_sym.origin.json', 1)])
def test_weak_sigkill_mid_write_is_cleaned_at_next_start(target, nth, fmnist_dir, tmp_path):
    out, argv = tmp_path/'run', FIXTURE + ['--data', str(fmnist_dir), '--out', str(tmp_path/'run'), '--epochs', '3', '--warmup_epochs', '1']
    code, err = forked(lambda: kill_at(target, nth, argv))
    assert code == -signal.SIGKILL, err[-2000:]
    temps = lambda: sorted(f.name for f in out.iterdir() if '.tmp' in f.name)
    assert temps(), 'the kill left no temporary file'
    resume = (out/'checkpoint.pt').exists()
    if target == 'metrics.csv':  # the checkpoint holds 2 epochs, metrics.csv 1: the refusal counts the checkpoint's
        with pytest.raises(RunExistsError, match=r"already holds a run \(2 epoch\(s\) done\)"):
            Trainer(TrainConfig(**{**SMALL, 'epochs': 3}), data=fmnist_dir, out=out, device='cpu', verbose=False)
    code = main(argv + (['--resume'] if resume else ['--overwrite']))
    assert code == 0 and temps() == []

def test_weak_fifo_checkpoint_is_refused_not_waited_on(fmnist_dir, tmp_path):
    os.mkfifo(tmp_path/'checkpoint.pt')
    def too_long(*_): raise TimeoutError('--resume waited on the FIFO')
    old = signal.signal(signal.SIGALRM, too_long); signal.alarm(60)
    try:
        with pytest.raises(ValueError, match='checkpoint.pt is not a regular file'):
            Trainer(TrainConfig(**SMALL), data=fmnist_dir, out=tmp_path, device='cpu', verbose=False, resume=True)
    finally: signal.alarm(0); signal.signal(signal.SIGALRM, old)

# ---- Weak: messages that name the cause

def test_weak_out_symlink_to_nothing_or_in_a_loop_is_named(fmnist_dir, tmp_path):
    os.symlink(tmp_path/'nowhere', tmp_path/'dangling'); os.symlink(tmp_path/'l2', tmp_path/'l1'); os.symlink(tmp_path/'l1', tmp_path/'l2')
    mk = lambda out: Trainer(TrainConfig(**SMALL), data=fmnist_dir, out=out, device='cpu', verbose=False)
    with pytest.raises(ValueError, match="symbolic link to .*nowhere', which does not exist"): mk(tmp_path/'dangling')  # was "File exists"
    with pytest.raises(ValueError, match="symbolic link to .*l2', which loops"): mk(tmp_path/'l1')

def test_weak_trainer_out_none_is_a_value_error(fmnist_dir):
    with pytest.raises(ValueError, match="out=None: expected a folder path"):  # was a TypeError from Path(None)
        Trainer(TrainConfig(**SMALL), data=fmnist_dir, out=None, device='cpu', verbose=False)

def test_weak_finder_seed_out_of_range_names_the_option(tmp_path, capsys):
    np.savez(tmp_path/'f.npz', **outputs(features=True))  # features: the prototype cleaners seed torch
    code, _, err = run(cpc_find_issues, [str(tmp_path/'f.npz'), '--seed', str(2**70)], capsys)  # was "Overflow when unpacking long long"
    assert code == 2 and "seed=1180591620717411303424: expected an integer in [0, 2**63 - 1]" in err, err

def test_weak_augdmix_baseline_on_fmnist_says_why(capsys):
    code, _, err = run(main, ['--preset', 'fmnist-sym50', '--baseline', 'augdmix'], capsys)  # was "unknown preset 'fmnist-sym50-augdmix'"
    assert code == 2 and 'AugDMix has no Fashion-MNIST preset' in err and 'its baselines are dividemix' in err, err

def test_weak_imagenet_on_a_non_webvision_run_is_refused(fmnist_dir, tmp_path, capsys):
    code, _, err = run(main, FIXTURE + ['--data', str(fmnist_dir), '--out', str(tmp_path/'r'), '--imagenet', str(tmp_path)], capsys)
    assert code == 2 and "only WebVision runs test on ILSVRC12 val" in err and not (tmp_path/'r').exists(), err  # was ignored

def test_weak_binary_csv_names_the_file(tmp_path, capsys):
    (tmp_path/'bin.csv').write_bytes(b'label,prob_0,prob_1\n\xff\xfe\x00garbage\n')
    code, _, err = run(cpc_find_issues, [str(tmp_path/'bin.csv')], capsys)  # was "'utf-8' codec can't decode byte 0xff ..."
    assert code == 2 and 'bin.csv: not UTF-8 text' in err, err

def test_weak_finder_input_symlink_loop_is_named(tmp_path, capsys):
    os.symlink(tmp_path/'l2', tmp_path/'l1'); os.symlink(tmp_path/'l1', tmp_path/'l2')
    code, _, err = run(cpc_find_issues, [str(tmp_path/'l1')], capsys)  # was "no such file"
    assert code == 2 and 'l1: too many levels of symbolic links' in err, err

# ---- Weak disk: the finder checks its output folder before computing, and names --out, not a temp file

def test_weak_finder_checks_the_output_before_computing(tmp_path, capsys, monkeypatch):
    np.savez(tmp_path/'o.npz', **outputs())
    def computed(*a, **k): raise AssertionError('computed before checking the output folder')
    monkeypatch.setattr('cpc.issues.find_label_issues', computed)
    ro = tmp_path/'ro'; ro.mkdir()
    if os.geteuid() == 0:  # root writes into a read-only folder: make every file creation in it fail instead
        def denied(real):
            def create(*a, dir=None, **k):
                if str(dir) == str(ro): raise PermissionError(13, 'Permission denied')
                return real(*a, dir=dir, **k)
            return create
        for name in ('mkstemp', 'TemporaryFile'): monkeypatch.setattr(tempfile, name, denied(getattr(tempfile, name)))
    else: ro.chmod(0o555)
    code, _, err = run(cpc_find_issues, [str(tmp_path/'o.npz'), '--out', str(ro/'i.csv')], capsys)
    assert code == 2 and f'--out {ro/"i.csv"}: cannot write into {ro}' in err, err
    monkeypatch.setattr(shutil, 'disk_usage', lambda p: SimpleNamespace(total=10**9, used=10**9, free=100))  # a full disk
    code, _, err = run(cpc_find_issues, [str(tmp_path/'o.npz'), '--out', str(tmp_path/'i.csv')], capsys)
    assert code == 2 and f'--out {tmp_path/"i.csv"}: its disk has 0.0 MiB free' in err, err

def test_weak_finder_write_failure_names_the_output(tmp_path):
    np.savez(tmp_path/'o.npz', **outputs())
    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))  # the file system refuses the 2001st byte of a file
        return cpc_find_issues([str(tmp_path/'o.npz'), '--out', str(tmp_path/'i.csv')])
    code, err = forked(small_files)
    assert code == 2 and f"cannot write {tmp_path/'i.csv'}: File too large" in err and '.tmp' not in err, err
    assert sorted(f.name for f in tmp_path.iterdir()) == ['o.npz']  # nothing half-written left
