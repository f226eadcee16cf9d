"""Checks of the processed notebooks (`_proc/`, written by `nbdev.serve.proc_nbs`) for what would render wrong.

Quarto cannot be installed on our machines, so CI cannot build the site; this reads what Quarto would be given and fails on:
a markdown link inside a signature code block, a heading ending in ' -' that would render, and stored outputs that hold
a temporary path or a traceback, a notebook missing from nbs/sidebar.yml, and a README.md that is not what
nbs/index.ipynb renders to (tools/docs.py writes it). Usage: python tools/check_docs.py [_proc]   (exit 1 and one line per problem)
"""
import json, re, sys
from pathlib import Path

def problems(proc:Path)->list:
    "Every problem found in the processed notebooks under `proc`, as 'notebook: what' lines."
    out = []
    for p in sorted(proc.glob('*.ipynb')):
        for c in json.loads(p.read_text())['cells']:
            src = ''.join(c['source'])
            if c['cell_type'] == 'markdown':
                out += [f"{p.name}: heading renders with its ' -': {h!r}" for h in re.findall(r'^#+ .* -$', src, re.M)]
            for o in c.get('outputs', []):
                data = o.get('data', {})
                md = ''.join(data.get('text/markdown', []))
                out += [f"{p.name}: markdown link in a code block: {m.group(0)[:80]!r}"
                        for b in re.findall(r'```python\n(.*?)```', md, re.S) for m in [re.search(r'\[`?[^\]]*`?\]\([^)]*\)', b)] if m]
                text = ''.join(o.get('text', [])) + ''.join(data.get('text/plain', []))
                if o.get('output_type') == 'error' or 'Traceback (most recent call last)' in text:
                    out.append(f"{p.name}: a stored traceback")
                if re.search(r'/tmp/\w+|/tmp/pytest-of', text): out.append(f"{p.name}: a temporary path in a stored output: "
                                                                         f"{re.search(r'/tmp/[^ ]*', text).group(0)[:60]!r}")
    return out

def repo_problems(root:Path)->list:
    "Sidebar and README checks on the source tree."
    sys.path.insert(0, str(root/'tools'))
    from docs import readme_text
    side = (root/'nbs'/'sidebar.yml').read_text()
    out = [f"nbs/sidebar.yml does not list {p.relative_to(root/'nbs')}" for p in sorted((root/'nbs').rglob('[!_]*.ipynb'))
           if str(p.relative_to(root/'nbs')) not in side and '.ipynb_checkpoints' not in str(p)]
    if (root/'README.md').read_text() != readme_text(): out.append("README.md differs from nbs/index.ipynb: run tools/docs.py nbs/index.ipynb")
    return out

if __name__ == '__main__':
    root = Path(__file__).resolve().parents[1]
    found = problems(Path(sys.argv[1] if len(sys.argv) > 1 else root/'_proc')) + repo_problems(root)
    print('\n'.join(found) or 'docs check: no problems')
    sys.exit(1 if found else 0)
