"Several processes: torchrun with two gloo processes on the CPU (collectives, a whole run, a killed rank, resume)."
import csv, json, os, signal, subprocess, sys, textwrap, time
from dataclasses import replace
from pathlib import Path
import pytest, torch
from cpc.cleaner import CLEANERS
from cpc.cli import PRESETS
from cpc.data import FMNIST_SYSTEM_DIR
from cpc.fixtures import write_fmnist_fixture
from cpc.train import Trainer

ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
TORCHRUN = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2']

def torchrun(*args, timeout=300):
    return subprocess.run(TORCHRUN + [str(a) for a in args], env=ENV, capture_output=True, text=True, timeout=timeout)

def script(tmp_path, name, body):
    p = tmp_path/name
    p.write_text(textwrap.dedent(body))
    return p

@pytest.fixture(scope='module')
def fmnist256(tmp_path_factory):
    "A Fashion-MNIST fixture big enough to train on: 256 train and 64 test images."
    return write_fmnist_fixture(tmp_path_factory.mktemp('fmnist256'), n_train=256, n_test=64)

def test_collectives_two_processes(tmp_path):
    p = script(tmp_path, 'coll.py', '''
        import json, sys, torch
        from cpc.distributed import init_distributed, rank_share, gather_rows, all_sum, broadcast_object, gather_objects, sync_buffers
        rank, world, dev = init_distributed(torch.device('cpu'))
        idx = torch.arange(7)
        part = rank_share(idx, rank, world) * 10  # unequal parts: 4 and 3 rows
        rows = gather_rows(torch.stack([part, -part], 1))
        s = all_sum(torch.tensor([rank + 1.]))
        obj = broadcast_object({'rank': rank, 'q': torch.full((3,), float(rank))})
        bn = torch.nn.BatchNorm1d(2); bn.running_mean.fill_(rank); sync_buffers(bn)
        res = dict(world=world, rows=rows.tolist(), sum=s.item(), obj=[obj['rank'], obj['q'].tolist()],
                   objs=gather_objects(rank), bn=bn.running_mean.tolist())
        open(sys.argv[1] + f'/{rank}.json', 'w').write(json.dumps(res))
        if torch.distributed.is_initialized(): torch.distributed.destroy_process_group()
        ''')
    r = torchrun(p, tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    res = [json.loads((tmp_path/f'{k}.json').read_text()) for k in range(2)]
    assert res[0] == res[1]
    assert res[0]['world'] == 2 and res[0]['rows'] == [[10 * i, -10 * i] for i in range(7)]
    assert res[0]['sum'] == 3. and res[0]['obj'] == [0, [0., 0., 0.]] and res[0]['objs'] == [0, 1] and res[0]['bn'] == [0., 0.]

RUN = '''
    import dataclasses, hashlib, json, sys, torch
    from cpc.cli import PRESETS
    from cpc.train import Trainer
    data, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cfg = dataclasses.replace(PRESETS['fmnist-sym50'].config, train_subset=n, test_subset=n, epochs=4, warmup_epochs=1,
                              batch_size=32, eval_batch_size=256, seed=3)
    t = Trainer(cfg, data=data, out=out, device='cpu', verbose=False)
    def sha(ts): 
        h = hashlib.sha1()
        for x in ts: h.update(x.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()
    log = []
    for epoch in range(cfg.epochs):
        row = t.run_epoch(epoch); t.history.append(row); t.save()
        s = t.method.last_clean
        log.append(dict(weights=sha([v for n in t.method.nets for v in n.state_dict().values()]),
                        cleaners=sha([v for b in t.method.banks for c in ('cpc_agn', 'cpc_awr') for v in (b[c].prototypes, *b[c].proj.parameters())]),
                        splits=sha([x['labeled'] for x in s] + [v for x in s for v in x['q'].values()]),
                        fitted_on=[len(x['q'][c]) for x in s for c in x['q']], test_acc=row['test_acc'],
                        labeled=[row['labeled_a'], row['labeled_b']]))
    open(f'{out}/log{t.rt.rank}.json', 'w').write(json.dumps(log))
    if torch.distributed.is_initialized(): torch.distributed.destroy_process_group()
    '''

@pytest.mark.skipif(not FMNIST_SYSTEM_DIR.is_dir(), reason='needs the Debian Fashion-MNIST copy (make fmnist)')
def test_two_process_run(tmp_path):
    "Both ranks agree after every epoch; the cleaners saw all N samples; one set of files; accuracy near one process."
    n = 1000  # real images (1,000 train, 1,000 test), so that the accuracies mean something
    r = torchrun(script(tmp_path, 'run.py', RUN), FMNIST_SYSTEM_DIR, tmp_path/'two', n)
    assert r.returncode == 0, r.stderr[-3000:]
    logs = [json.loads((tmp_path/'two'/f'log{k}.json').read_text()) for k in range(2)]
    assert logs[0] == logs[1]  # weights, prototypes and projection heads, splits and q: identical on both ranks, every epoch
    assert all(e['fitted_on'] == [n] * (2 * len(CLEANERS)) for e in logs[0][1:])  # 2 networks x every cleaner, each on all n samples
    assert sorted(p.name for p in (tmp_path/'two').iterdir()) == ['0.5_sym.json', '0.5_sym.origin.json', 'checkpoint.pt', 'log0.json', 'log1.json',
                                                                 'metrics.csv', 'samples.csv']
    with open(tmp_path/'two'/'metrics.csv') as f: assert [int(r['epoch']) for r in csv.DictReader(f)] == [0, 1, 2, 3]
    # the same run in one process: the same noisy labels, and test accuracies within 0.05 of each other (the two
    # runs differ in their augmentation and mixing draws, and in BatchNorm over half batches)
    one = subprocess.run([sys.executable, script(tmp_path, 'one.py', RUN), FMNIST_SYSTEM_DIR, tmp_path/'one', str(n)], env=ENV,
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    assert (tmp_path/'one'/'0.5_sym.json').read_bytes() == (tmp_path/'two'/'0.5_sym.json').read_bytes()
    acc1, acc2 = (json.loads((tmp_path/d/'log0.json').read_text())[-1]['test_acc'] for d in ('one', 'two'))
    print(f"final test_acc: one process {acc1:.3f}, two processes {acc2:.3f}")
    assert acc1 > 0.5 and abs(acc1 - acc2) <= 0.05, (acc1, acc2)

def rank_pid(parent:int, rank:int)->int|None:
    "PID of the torchrun worker of `rank`, a child process of the launcher `parent` (read from /proc)."
    for d in Path('/proc').iterdir():
        if not d.name.isdigit(): continue
        try: env, stat = (d/'environ').read_bytes().split(b'\0'), (d/'stat').read_text()
        except OSError: continue
        if int(stat.rsplit(')', 1)[1].split()[1]) == parent and f'RANK={rank}'.encode() in env: return int(d.name)
    return None

def metrics_rows(out:Path)->list:
    if not (out/'metrics.csv').is_file(): return []
    with open(out/'metrics.csv') as f: return [{k: v for k, v in r.items() if k != 'seconds'} for r in csv.DictReader(f)]

@pytest.mark.skipif(not Path('/proc/self/environ').exists(), reason='needs /proc to find the rank to kill')
def test_killed_rank_stops_the_job_and_resume_continues(fmnist256, tmp_path):
    cli = ['-m', 'cpc.cli', '--preset', 'fmnist-sym50', '--data', fmnist256, '--device', 'cpu', '--train_subset', '0',
           '--test_subset', '0', '--epochs', '4', '--warmup_epochs', '1', '--batch_size', '32', '--eval_batch_size', '64']
    full = torchrun(*cli, '--out', tmp_path/'full')
    assert full.returncode == 0, full.stderr[-3000:]
    job = subprocess.Popen(TORCHRUN + [str(a) for a in cli + ['--out', tmp_path/'killed']], env=ENV,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while len(metrics_rows(tmp_path/'killed')) < 2:  # the warm-up and one DivideMix epoch are checkpointed
        assert job.poll() is None and time.time() - t0 < 240, 'the job ended or stalled before its second epoch'
        time.sleep(0.2)
    pid = rank_pid(job.pid, 1)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # mid-epoch: the third epoch has started
    _, err = job.communicate(timeout=120)
    assert job.returncode != 0 and 'rank' in err.lower() and 'SIGKILL' in err, err[-2000:]
    done = metrics_rows(tmp_path/'killed')
    saved = torch.load(tmp_path/'killed'/'checkpoint.pt', weights_only=True)  # intact, and it matches metrics.csv
    assert 2 <= len(done) < 4 and len(saved['history']) == len(done) and saved['world_size'] == 2
    # one process cannot resume a two-process run; two can, and they finish it exactly as the uninterrupted run did
    with pytest.raises(ValueError, match='2 process'):
        Trainer(replace(PRESETS['fmnist-sym50'].config, train_subset=0, test_subset=0, epochs=4, warmup_epochs=1,
                        batch_size=32, eval_batch_size=64), data=fmnist256, out=tmp_path/'killed', device='cpu', resume=True)
    res = torchrun(*cli, '--out', tmp_path/'killed', '--resume')
    assert res.returncode == 0, res.stderr[-3000:]
    assert metrics_rows(tmp_path/'killed') == metrics_rows(tmp_path/'full')

def test_dataloader_data_set_two_processes(clothing1m_dir, tmp_path):
    "The DataLoader path (Clothing1M's fixture, AugDMix views): two ranks train and end with the same weights."
    p = script(tmp_path, 'c1m.py', '''
        import hashlib, json, sys, torch
        from cpc.train import Trainer, TrainConfig
        cfg = TrainConfig(dataset='clothing1m', noise_mode='real', noise_rate=0., model='small_cnn', epochs=2, warmup_epochs=1,
                          batch_size=8, eval_batch_size=16, num_workers=1, cleaner='cpc_agn', strong_aug=True, num_batches=2)
        t = Trainer(cfg, data=sys.argv[1], out=sys.argv[2], device='cpu', verbose=False)
        rows = t.fit()
        h = hashlib.sha1(b''.join(v.numpy().tobytes() for n in t.method.nets for v in n.state_dict().values())).hexdigest()
        open(f'{sys.argv[2]}/rank{t.rt.rank}.json', 'w').write(json.dumps(dict(h=h, epochs=[r['epoch'] for r in rows],
                                                                          labeled=len(t.method.last_clean[0]['q']['cpc_agn']))))
        torch.distributed.destroy_process_group()
        ''')
    r = torchrun(p, clothing1m_dir, tmp_path/'run')
    assert r.returncode == 0, r.stderr[-3000:]
    res = [json.loads((tmp_path/'run'/f'rank{k}.json').read_text()) for k in range(2)]
    assert res[0] == res[1] and res[0]['epochs'] == [0, 1] and res[0]['labeled'] == 16  # the eval pass: 2 batches of 8
