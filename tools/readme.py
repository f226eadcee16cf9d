"""Run nbs/index.ipynb (outputs are kept in the notebook) and render it to README.md.

nbdev's own `nbdev_readme` needs Quarto, which cannot be installed on our machines; this does the same job
for the one page: markdown cells as they are, code cells as fenced Python followed by their text output.
Usage: .venv/bin/python tools/readme.py
"""
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

root = Path(__file__).resolve().parents[1]
nb_path = root/'nbs'/'index.ipynb'
nb = read_nb(nb_path)
CaptureShell(path=nb_path.parent).run_all(nb, exc_stop=True)
write_nb(nb, nb_path)

def text_of(outputs):
    "The plain-text part of a cell's outputs."
    out = []
    for o in outputs:
        if o.get('output_type') == 'stream': out.append(''.join(o['text']))
        elif 'text/plain' in o.get('data', {}): out.append(''.join(o['data']['text/plain']))
    return ''.join(out).rstrip()

parts = []
for c in nb.cells:
    src = ''.join(c.source).strip()
    if c.cell_type == 'markdown': parts.append(src)
    elif not src.startswith('#|'):
        parts.append(f"```python\n{src}\n```")
        if (txt := text_of(c.get('outputs', []))): parts.append(f"```\n{txt}\n```")
(root/'README.md').write_text('\n\n'.join(parts) + '\n')
print(f"wrote {root/'README.md'}")
