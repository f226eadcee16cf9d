"""Run the notebooks so their figures and printed results are stored in them, then render README.md.

nbdev_test runs every notebook but keeps nothing; the docs should show what the code produces. This runs each
notebook in nbs/ in its own process and folder, skipping the cells nbdev_test skips (`#| eval: false` and the `tst_flags` of
settings.ini, here `slow` and `gpu`), writes the outputs back (less anything written to stderr: warnings and log lines), and renders nbs/index.ipynb to README.md (nbdev's own
`nbdev_readme` needs Quarto, which cannot be installed on our machines). Run `nbdev_clean` afterwards.
Usage: .venv/bin/python tools/docs.py [nbs/11_cpc.ipynb ...]    (no argument: every notebook)
"""
import os, re, subprocess, sys
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from nbdev.config import get_config

root = Path(__file__).resolve().parents[1]
SKIP = set(get_config().tst_flags.split())

def _skip(cell)->bool:
    "True for cells nbdev_test would not run: markdown, `#| eval: false`, or a test flag."
    if cell.cell_type != 'code': return True
    direc = [l[3:].strip() for l in cell.source.splitlines() if l.startswith('#|')]
    return any(re.fullmatch(r'eval:\s*false', d, re.I) or d.split()[0] in SKIP for d in direc if d)

def execute(path:Path):
    "Run the notebook at `path` and store its outputs in it."
    nb = read_nb(path)
    for c in nb.cells:  # run_all leaves a cell's old outputs in place when it produces none
        if c.cell_type == 'code': c.outputs = []
    cwd = os.getcwd(); os.chdir(path.parent)
    try: CaptureShell().run_all(nb, exc_stop=True, preproc=_skip)
    finally: os.chdir(cwd)
    for c in nb.cells:  # warnings and log lines are for whoever runs the cell; the page keeps what the cell shows
        if c.cell_type == 'code': c.outputs = [o for o in c.outputs if not (o.get('output_type') == 'stream' and o.get('name') == 'stderr')]
    write_nb(nb, path)
    print(f"ran {path.name}")

def _text(outputs)->str:
    "The plain-text part of a cell's outputs."
    out = []
    for o in outputs:
        if o.get('output_type') == 'stream': out.append(''.join(o['text']))
        elif 'text/plain' in o.get('data', {}): out.append(''.join(o['data']['text/plain']))
    return ''.join(out).rstrip()

def readme_text()->str:
    "What README.md should hold: nbs/index.ipynb with markdown as it is (links to notebooks pointed into nbs/), code fenced, then its text output."
    parts = []
    for c in read_nb(root/'nbs'/'index.ipynb').cells:
        src = ''.join(c.source).strip()
        if c.cell_type == 'markdown': parts.append(re.sub(r'\]\((?![a-z]+:)([\w/.-]+\.ipynb)', r'](nbs/\1', src))  # links to pages open the notebooks
        elif not src.startswith('#|'):
            parts.append(f"```python\n{src}\n```")
            if (txt := _text(c.get('outputs', []))): parts.append(f"```\n{txt}\n```")
    return '\n\n'.join(parts) + '\n'

def render_readme():
    "Write README.md from nbs/index.ipynb."
    (root/'README.md').write_text(readme_text())
    print("wrote README.md")

if __name__ == '__main__':
    if sys.argv[1:2] == ['--one']: execute(Path(sys.argv[2])); sys.exit()
    paths = [Path(p).resolve() for p in sys.argv[1:]] or sorted((root/'nbs').glob('[0-9i]*.ipynb'))
    for p in paths: subprocess.run([sys.executable, __file__, '--one', str(p)], check=True)  # a fresh process each
    render_readme()
