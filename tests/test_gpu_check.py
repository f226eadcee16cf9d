"""bench/gpu_check.py, the script a session with a GPU runs as it is, must keep working: its CPU twin runs here, every row
must train, and a row that does not train must fail the script."""
import csv, importlib.util, json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT/'bench'/'gpu_check.py'

def _load():
    spec = importlib.util.spec_from_file_location('gpu_check', SCRIPT)
    mod = sys.modules['gpu_check'] = importlib.util.module_from_spec(spec)  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod

def test_gpu_check_smoke(tmp_path):
    out = tmp_path/'rows.csv'
    p = subprocess.run([sys.executable, str(SCRIPT), '--smoke', '--out', str(out)], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    with open(out, newline='') as f: recs = list(csv.DictReader(f))
    assert recs[0]['kind'] == 'device' and recs[-1]['kind'] == 'summary', [r['kind'] for r in recs]
    assert float(recs[0]['matmul_tflops']) > 0
    assert '0 host syncs' in recs[0]['warmups']  # the strong augmentation's tables were built before the first row
    assert recs[-1]['rows_failed'] == '0' and recs[-1]['rows_skipped'] == '0'
    rows = recs[1:-1]
    assert [int(r['row']) for r in rows] == list(range(1, len(rows) + 1))  # written as they finished, in order
    # the order of value: the paper's preset, then DivideMix's schedule, then eager, then the process checks
    assert [r['name'] for r in rows] == ['sym50-graphs', 'dividemix-graphs', 'sym50-eager', 'dividemix-eager',
                                         'torchrun', 'clothing1m', 'webvision']
    for r in rows:  # every row trained: both labeled sets non-empty
        assert r['ok'] == 'True', r
        assert int(r['labeled_a']) > 0 and int(r['labeled_b']) > 0, r
    for r in rows[:4]:  # the timed rows: the SSL steps of both networks ran, and the rates and times are numbers
        assert int(r['ssl_steps_a']) > 0 and int(r['ssl_steps_b']) > 0, r
        assert r['cleaner'] == ('cpc_awr' if r['preset'] == 'cifar10-sym50' else 'gmm_agn'), r
        for c in ('ssl_s', 'pure_s', 'ssl_tflops', 'share_of_measured', 'clean_s', 'warmup_epoch_s'): assert float(r[c]) > 0, (c, r)
        assert r['peak_mem_gib'] == ''  # n/a on the CPU
    torchrun = rows[4]
    assert torchrun['backend'] == 'gloo' and int(torchrun['world']) == 1 and torchrun['exit_code'] == '0', torchrun
    assert all(r['exit_code'] == '0' for r in rows[4:])
    assert 'SSL step is skipped' not in p.stderr and 'FAILED' not in p.stderr
    assert p.stdout.count('| cifar10-sym50 | fused + graphs |') == 2  # printed when it finished and in the closing table

_NO_SPLIT = """
import runpy, sys
import cpc.methods
cpc.methods.CleanerMethod.threshold = lambda self, cleaner: 1.0  # no clean probability exceeds 1: every labeled set is empty
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_path(sys.argv[0], run_name='__main__')
"""

def test_gpu_check_fails_when_a_row_does_not_train(tmp_path):
    "A row whose labeled sets are empty (so its SSL steps are skipped) fails with the reason and the script exits 1; --budget skips the next row."
    out = tmp_path/'rows.jsonl'
    p = subprocess.run([sys.executable, '-c', _NO_SPLIT, str(SCRIPT), '--smoke', '--rows', 'sym50-eager,dividemix-eager',
                        '--budget', '1', '--out', str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    recs = [json.loads(l) for l in out.read_text().splitlines()]
    assert [r['kind'] for r in recs] == ['device', 'train', 'skipped', 'summary']
    row = recs[1]
    assert row['ok'] is False and row['labeled_a'] == row['labeled_b'] == 0 and row['ssl_steps_a'] == row['ssl_steps_b'] == 0
    assert "network A's labeled set is empty" in row['problem'] and 'no SSL step ran' in row['problem'], row['problem']
    assert 'gets an empty labeled set; its SSL step is skipped' in row['problem']
    assert 'budget' in recs[2]['problem'] and recs[2]['name'] == 'dividemix-eager'
    assert recs[3]['rows_failed'] == 1 and recs[3]['rows_skipped'] == 1
    assert 'row 1 (sym50-eager) FAILED' in p.stderr

def test_budget_estimates():
    "A row starts only when the time spent plus its estimate, taken from the rows already run, fits the budget."
    g = _load()
    rows = {r.name: r for r in g.ROWS}
    assert g.estimate(rows['sym50-graphs'], [], 'cuda') is None and g.fits(400., None, 480.)  # nothing to go on: the first row runs
    done = [dict(kind='train', name='sym50-graphs', preset=g.PAPER, row_s=90.), dict(kind='train', name='dividemix-graphs', preset=g.DIVIDEMIX, row_s=40.)]
    assert g.estimate(rows['sym50-eager'], done, 'cuda') == 90. and g.estimate(rows['dividemix-eager'], done, 'cuda') == 40.
    assert g.estimate(rows['torchrun'], done, 'cuda') == 40. + g.PROCESS_PRIOR_S['cuda'] / 2
    assert g.estimate(rows['clothing1m'], done, 'cuda') == g.PROCESS_PRIOR_S['cuda']
    done.append(dict(kind='process', name='clothing1m', preset='clothing1m', row_s=25.))
    assert g.estimate(rows['webvision'], done, 'cuda') == 25.
    assert g.fits(300., 90., 480.) and not g.fits(400., 90., 480.) and g.fits(1e6, 90., None)
    assert g.datasheet_rate('NVIDIA H100 80GB HBM3') == 989e12 and g.datasheet_rate('NVIDIA H100 PCIe') == 756e12
    assert g.datasheet_rate('NVIDIA H200') == 989e12 and g.datasheet_rate('NVIDIA H200 NVL') == 835e12
    assert g.datasheet_rate('Some GPU') is None

def test_graph_report():
    "What a graph row says (GPU-only code, run here on stand-ins for the trainer and its GraphSteps): passed and replayed, fell back and why, never captured."
    import types, warnings
    import torch
    g = _load()
    step = lambda name, graphs: types.SimpleNamespace(name=name, graphs=dict.fromkeys(range(graphs)), replays=0, capture=object())
    ssl_a, ssl_b, ce, cpc = step('SSL step', 1), step('SSL step', 1), step('warm-up step', 1), step('CPC update step', 1)
    t = types.SimpleNamespace(rt=types.SimpleNamespace(cuda_graphs=True, device=torch.device('cuda')),
                              method=types.SimpleNamespace(_steps={('ssl', 1): ssl_a, ('ssl', 2): ssl_b, ('ce', 1): ce},
                                                           banks=[types.SimpleNamespace(states={'cpc_agn': types.SimpleNamespace(_graph=cpc, epochs=1, batch_size=256)})]))
    ce.replays = 40  # the warm-up epochs replayed it
    before = g._graph_state(t)
    ssl_a.replays, ssl_b.replays, cpc.replays = 5, 6, 7
    report = g.graph_report(t, before, [])
    assert 'SSL: check passed, 2 graph(s), 11 replays (11 in the timed epoch)' in report
    assert 'warm-up: check passed, 1 graph(s), 40 replays (0 in the timed epoch)' in report and 'CPC update: check passed' in report
    assert 'FELL BACK' not in report and 'captured inside the timed epoch' not in report
    ssl_b.capture = None  # GraphStep's eager check failed: it warned and runs eagerly from then on
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        warnings.warn("the CUDA-graph replay of the SSL step differs from the eager SSL step; every later step runs eagerly")
    report = g.graph_report(t, before, caught)
    assert 'SSL: FELL BACK to eager (1 of 2): the CUDA-graph replay of the SSL step differs from the eager SSL step' in report
    assert 'warm-up: check passed' in report
    ssl_a.graphs, ssl_b.graphs, ssl_b.capture = {}, {}, object()
    assert 'SSL: never captured (no steady-shape batch' in g.graph_report(t, before, [])
    ssl_a.graphs = {0: 1}
    assert 'captured inside the timed epoch' in g.graph_report(t, {**before, 'SSL': (0, 0)}, [])
    t.rt = types.SimpleNamespace(cuda_graphs=False, device=torch.device('cuda'))
    assert g.graph_report(t, before, []) == 'off'
