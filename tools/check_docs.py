"""Checks of the processed notebooks (`_proc/`, written by `nbdev.serve.proc_nbs`) for what would render wrong.

This reads what Quarto is given (tools/browser_check.py then checks what it renders, in a browser) and fails on:
a markdown link inside a signature code block, a heading ending in ' -' that would render, an exported function, class or
public method with no doc entry or out of source order, a dataclass or NamedTuple field without a comment (its doc entry's
table would have no meaning), stored outputs that hold a temporary path, a traceback or anything written to stderr, a stored
output under a "Results" heading of a benchmark page whose results CSV does not exist (a fixture run is a test, not a
result), process or changelog language (PROCESS below), a link to an .html page, notebook, file or #anchor the build does
not produce (pages are named by their `output-file`, anchors are the headings' identifiers), an absolute link to the site's
own doc_host or git_url, a notebook missing from nbs/sidebar.yml, and a README.md that is not what nbs/index.ipynb renders
to (tools/docs.py writes it). Usage: python tools/check_docs.py [_proc]   (exit 1 and one line per problem)
"""
import ast, configparser, importlib, json, re, sys
from pathlib import Path

PROCESS = [r'\b(?:the|this|that) issue\b', r'\bissue #?\d', r'\bSPEC\b', r'\bearlier version', r'\bAn earlier\b', r'no GPU was lent',
           r'this paragraph should', r'while writing this', r'\bsee the README\b', r'\bno longer\b', r'\bused to be\b']  # history belongs in git

def _pages(proc:Path)->list:
    "The processed notebooks under `proc`, subfolders included."
    return sorted(p for p in proc.rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)

def _markdown(c:dict)->list:
    "The markdown a cell renders: its source if it is a markdown cell, and its text/markdown outputs."
    out = [''.join(c['source'])] if c['cell_type'] == 'markdown' else []
    return out + [''.join(o.get('data', {}).get('text/markdown', [])) for o in c.get('outputs', [])]

def _results_csv(proc:Path, p:Path)->Path:
    "Where a benchmark page's grid keeps its results: results/<page>.csv beside it."
    return p.parent/'results'/f'{p.stem}.csv'

def problems(proc:Path)->list:
    "Every problem found in the processed notebooks under `proc`, as 'notebook: what' lines."
    out = []
    for p in _pages(proc):
        name, under = str(p.relative_to(proc)), None
        bench = p.parent.name == 'benchmarks' and not _results_csv(proc, p).is_file()
        for c in json.loads(p.read_text())['cells']:
            src = ''.join(c['source'])
            if c['cell_type'] == 'markdown':
                out += [f"{name}: heading renders with its ' -': {h!r}" for h in re.findall(r'^#+ .* -$', src, re.M)]
                if (hs := re.findall(r'^#+ (.*)$', src, re.M)): under = hs[-1]
            for md in _markdown(c):
                out += [f"{name}: process language {m.group(0)!r} in {md[max(0, m.start() - 40):m.end() + 20]!r}"
                        for pat in PROCESS for m in re.finditer(pat, re.sub(r'`[^`]*`', '', md))]
            if bench and under and 'results' in under.lower() and c.get('outputs'):
                out.append(f"{name}: a stored output under {under!r}, but {_results_csv(proc, p).relative_to(proc)} does not exist (a fixture run is not a result)")
            for o in c.get('outputs', []):
                if o.get('output_type') == 'stream' and o.get('name') == 'stderr':
                    out.append(f"{name}: a stored stderr output: {''.join(o.get('text', []))[:60]!r}")
                data = o.get('data', {})
                md = ''.join(data.get('text/markdown', []))
                out += [f"{name}: markdown link in a code block: {m.group(0)[:80]!r}"
                        for b in re.findall(r'```python\n(.*?)```', md, re.S) for m in [re.search(r'\[`?[^\]]*`?\]\([^)]*\)', b)] if m]
                text = ''.join(o.get('text', [])) + ''.join(data.get('text/plain', []))
                if o.get('output_type') == 'error' or 'Traceback (most recent call last)' in text:
                    out.append(f"{name}: a stored traceback")
                if re.search(r'/tmp/\w+|/tmp/pytest-of', text): out.append(f"{name}: a temporary path in a stored output: "
                                                                         f"{re.search(r'/tmp/[^ ]*', text).group(0)[:60]!r}")
    return out

def _anchor(heading:str)->str:
    "The identifier Pandoc gives a heading: lowercase, formatting and punctuation other than _-. dropped, spaces to hyphens, nothing before the first letter."
    h = re.sub(r'\{[^}]*\}\s*$', '', heading)
    h = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', h)
    h = re.sub(r'[^\w\s.-]', '', h.replace('`', '')).strip().lower()
    return re.sub(r'^[^a-z]+', '', re.sub(r'\s+', '-', h))

def _site(proc:Path)->tuple:
    "(html path -> notebook path, notebook path -> its anchors) for the pages the build writes."
    html, anchors = {}, {}
    for p in _pages(proc):
        cells = json.loads(p.read_text())['cells']
        fm = re.search(r'^output-file: (\S+)$', ''.join(cells[0]['source']) if cells else '', re.M)
        rel = p.relative_to(proc)
        html[str(rel.parent/(fm.group(1) if fm else rel.with_suffix('.html').name))] = rel
        ids = set()
        for c in cells:
            for md in _markdown(c):
                md = re.sub(r'```.*?```', '', md, flags=re.S)
                ids |= {m.group(1) for m in re.finditer(r'\{#([\w.:-]+)[^}]*\}', md)}
                ids |= {_anchor(h) for h in re.findall(r'^#+ (.*)$', md, re.M)}
            ids |= {m.group(1) for o in c.get('outputs', []) for m in re.finditer(r'id="([^"]+)"', ''.join(o.get('data', {}).get('text/html', [])))}
        anchors[rel] = ids
    return html, anchors

def _own_hosts(root:Path)->list:
    "settings.ini's doc_host and git_url, where set: links to them would leave the site."
    cfg = configparser.ConfigParser(); cfg.read(root/'settings.ini')
    return [v for k in ('doc_host', 'git_url') if (v := cfg['DEFAULT'].get(k, '').strip())]

def link_problems(proc:Path, own_hosts:tuple=())->list:
    "Links in markdown (cells and outputs) to a page, notebook, file or anchor that the build does not produce, or to the site's own host."
    html, anchors = _site(proc)
    out = []
    for p in _pages(proc):
        rel = p.relative_to(proc)
        for c in json.loads(p.read_text())['cells']:
            for md in _markdown(c):
                md = re.sub(r'```.*?```', '', md, flags=re.S)
                for t in re.findall(r'\]\(<?([^)\s>]+)>?(?:\s+"[^"]*")?\)', md) + re.findall(r'href="([^"]+)"', md):
                    if any(t.startswith(h) for h in own_hosts):
                        out.append(f"{rel}: an absolute link to the site's own host: {t!r}"); continue
                    if re.match(r'[a-z]+:', t): continue
                    path, _, frag = t.partition('#')
                    if not path: target = rel
                    else:
                        parts = [] if path.startswith('/') else list(rel.parent.parts)
                        for s in path.strip('/').split('/'):
                            if s == '..': parts = parts[:-1]
                            elif s not in ('', '.'): parts.append(s)
                        dest = Path(*parts) if parts else Path('.')
                        if dest.suffix == '.html': target = html.get(str(dest))
                        elif dest.suffix == '.ipynb': target = dest if (proc/dest).is_file() else None
                        else:
                            if not (proc/dest).exists(): out.append(f"{rel}: a link to a file the build does not have: {t!r}")
                            continue
                        if target is None: out.append(f"{rel}: a link to a page the build does not write: {t!r}"); continue
                    if frag and frag not in anchors.get(target, set()): out.append(f"{rel}: a link to an anchor that {target} does not have: {t!r}")
    return out

def record_problems(root:Path)->list:
    "Exported dataclass and NamedTuple fields with no comment (their doc entry's table would say nothing), and exported exceptions with no docstring."
    sys.path.insert(0, str(root))
    from cpc.docs import is_record, field_docs
    out = []
    for py in sorted((root/'cpc').glob('[!_]*.py')):
        mod = importlib.import_module(f'cpc.{py.stem}')
        for n in getattr(mod, '__all__', []):
            obj = getattr(mod, n)
            if is_record(obj): out += [f"cpc/{py.name}: {n}.{f} has no comment (its doc entry's table says nothing)" for f, d in field_docs(obj).items() if not d]
            if isinstance(obj, type) and issubclass(obj, BaseException) and not obj.__doc__: out.append(f"cpc/{py.name}: exception {n} has no docstring")
    return out

def doc_names(module:Path)->list:
    "Names that need a doc entry, in source order: exported functions and classes, and the public methods of exported classes (defined in the class or added with @patch; not properties, not nn.Module.forward)."
    tree, out = ast.parse(module.read_text()), []
    exported = set(ast.literal_eval(next(n.value for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == '__all__')))
    for n in tree.body:
        if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in exported: out.append((n.lineno, n.name))
        if isinstance(n, ast.ClassDef) and n.name in exported:
            out += [(m.lineno, f'{n.name}.{m.name}') for m in n.body if isinstance(m, ast.FunctionDef) and not m.name.startswith('_')
                    and m.name != 'forward' and not any(getattr(d, 'id', '') in ('property', 'cached_property') for d in m.decorator_list)]
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
    found = problems(proc) + link_problems(proc, _own_hosts(root)) + entry_problems(root, proc) + record_problems(root) + repo_problems(root)
    print('\n'.join(found) or 'docs check: no problems')
    sys.exit(1 if found else 0)
