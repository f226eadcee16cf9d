"tools/check_docs.py's page rules on a tiny processed site: each rule fires on its fault and stays quiet on a clean page."
import json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'tools'))
from check_docs import problems, link_problems, record_problems

def md(s): return dict(cell_type='markdown', metadata={}, source=[s])
def code(s, *outputs): return dict(cell_type='code', metadata={}, source=[s], outputs=list(outputs), execution_count=None)
def front(out): return md(f"---\noutput-file: {out}\ntitle: t\n\n---\n\n")
def doc_entry(name): return dict(output_type='execute_result', metadata={}, execution_count=None,
                                  data={'text/markdown': [f"---\n\n### {name}\n\n*It does a thing.*"]})

def write(proc:Path, rel:str, cells:list):
    p = proc/rel; p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(dict(cells=cells, metadata={}, nbformat=4, nbformat_minor=5)))

def site(tmp_path, page_cells=(), bench_cells=(), csv=False) -> Path:
    "A processed site: train.html (documents `fit`), a page under test, and benchmarks/demo.html."
    proc = tmp_path/'_proc'
    write(proc, '19_train.ipynb', [front('train.html'), md("# Training\n\n## Speed on a GPU"), code("show_doc(fit)", doc_entry('fit'))])
    write(proc, '11_cpc.ipynb', [front('cpc.html'), *page_cells])
    write(proc, 'benchmarks/demo.ipynb', [front('demo.html'), *bench_cells])
    if csv: (proc/'benchmarks'/'results').mkdir(); (proc/'benchmarks'/'results'/'demo.csv').write_text('name,seed\n')
    return proc

def test_clean_site_passes(tmp_path):
    proc = site(tmp_path, [md("See [`fit`](/train.html#fit), [the speed](19_train.ipynb#speed-on-a-gpu) and [a page](benchmarks/demo.html).")],
                [md("## Results"), code("print(1)", dict(output_type='stream', name='stdout', text=['0.9']))], csv=True)
    assert problems(proc) == [] and link_problems(proc) == []

def test_fixture_output_under_results(tmp_path):
    proc = site(tmp_path, bench_cells=[md("## Results\n\nAccuracy."), code("print(acc)", dict(output_type='stream', name='stdout', text=['96.5']))])
    assert any("under '## Results'" in p or "under 'Results" in p for p in problems(proc)), problems(proc)

def test_stored_stderr(tmp_path):
    proc = site(tmp_path, [code("warn()", dict(output_type='stream', name='stderr', text=['careful']))])
    assert any('stderr' in p for p in problems(proc))

def test_process_language(tmp_path):
    for text in ["As the issue asked, we ...", "See SPEC section 3.", "An earlier version used the mean.", "No GPU was lent; no GPU was lent here."]:
        proc = site(tmp_path/str(abs(hash(text))), [md(text)])
        assert any('process language' in p for p in problems(proc)), text
    assert problems(site(tmp_path/'ok', [md("Finding label issues in `find_label_issues` output; `SPEC` in code.")])) == []

def test_links(tmp_path):
    proc = site(tmp_path, [md("[a](14_issues.html) [b](/train.html#_find_dir) [c](missing.ipynb) [d](train.html#fit) [e](/results/x.csv)")])
    found = link_problems(proc)
    assert any("'14_issues.html'" in p for p in found) and any('_find_dir' in p for p in found)
    assert any('missing.ipynb' in p for p in found) and any('x.csv' in p for p in found)
    assert not any("'train.html#fit'" in p for p in found)
    assert link_problems(site(tmp_path/'b', [md("[fit](https://cpc.github.io/cpc/train.html#fit)")]), ('https://cpc.github.io',))

def test_records_documented():
    assert record_problems(Path(__file__).resolve().parents[1]) == []
