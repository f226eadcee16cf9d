"""Checks of the processed notebooks (`_proc/`, written by `nbdev.serve.proc_nbs`) for what would render wrong.

Quarto cannot be installed on our machines, so CI cannot build the site; this reads what Quarto would be given and fails on:
a markdown link inside a signature code block, a heading ending in ' -' that would render, an exported function, class or
public method with no doc entry or out of source order, stored outputs that hold a temporary path or a traceback, a notebook missing from nbs/sidebar.yml, and a README.md that is not what
nbs/index.ipynb renders to (tools/docs.py writes it). Usage: python tools/check_docs.py [_proc]   (exit 1 and one line per problem)
"""
import ast, json, re, sys
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

def doc_names(module:Path)->list:
    "Names that need a doc entry, in source order: exported functions and classes, and the public methods of exported classes (defined in the class or added with @patch; not properties, not nn.Module.forward)."
    tree, out = ast.parse(module.read_text()), []
    exported = set(ast.literal_eval(next(n.value for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == '__all__')))
    for n in tree.body:
        if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in exported: out.append((n.lineno, n.name))
        if isinstance(n, ast.ClassDef) and n.name in exported:
            out += [(m.lineno, f'{n.name}.{m.name}') for m in n.body if isinstance(m, ast.FunctionDef) and not m.name.startswith('_')
                    and m.name != 'forward' and not any(getattr(d, 'id', '') == 'property' for d in m.decorator_list)]
        if isinstance(n, ast.FunctionDef) and any(getattr(d, 'id', '') == 'patch' for d in n.decorator_list) and not n.name.startswith('_'):
            out.append((n.lineno, f'{ast.unparse(n.args.args[0].annotation)}.{n.name}'))
    return [nm for _, nm in sorted(out)]

def entry_problems(root:Path, proc:Path)->list:
    "Every name of doc_names has a doc entry in its processed notebook, and the entries come in source order."
    out = []
    for py in sorted((root/'cpc').glob('*.py')):
        m = re.search(r'File to edit: \.\./nbs/(\S+)\.ipynb', py.read_text())
        if not m or not (proc/f'{m.group(1)}.ipynb').is_file(): continue
        heads = [h.strip() for c in json.loads((proc/f'{m.group(1)}.ipynb').read_text())['cells'] for o in c.get('outputs', [])
                 for h in re.findall(r'^#+ ([\w.]+)\s*$', ''.join(o.get('data', {}).get('text/markdown', [])), re.M)]
        want = doc_names(py)
        out += [f"{m.group(1)}.ipynb: no doc entry for {n}" for n in want if n not in heads]
        seen = [h for h in dict.fromkeys(heads) if h in want]
        if seen != [n for n in want if n in seen]:
            bad = next(a for a, b in zip(seen, [n for n in want if n in seen]) if a != b)
            out.append(f"{m.group(1)}.ipynb: doc entries out of source order (first at {bad})")
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
    proc = Path(sys.argv[1] if len(sys.argv) > 1 else root/'_proc')
    found = problems(proc) + entry_problems(root, proc) + repo_problems(root)
    print('\n'.join(found) or 'docs check: no problems')
    sys.exit(1 if found else 0)
