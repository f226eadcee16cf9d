"bench/gpu_check.py, the script a session with a GPU runs as it is, must keep working: its CPU twin runs here."
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_gpu_check_smoke(tmp_path):
    out = tmp_path/'report.md'
    p = subprocess.run([sys.executable, str(ROOT/'bench'/'gpu_check.py'), '--smoke', '--out', str(out)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    report = out.read_text()
    for preset in ('cifar10-sym50-dividemix', 'cifar10-sym50'):
        assert sum(line.startswith(f'| {preset} |') for line in report.splitlines()) == 2  # four forwards, fused
    assert report.count('| 0 |') >= 3  # torchrun and the two image-file fixtures exit 0
    assert 'nan' not in report.split('| check |')[0]
