"tools/browser_check.py on a tiny site in real headless Chromium (each rule fires on its fault, a clean page passes), and the GitHub workflows name what CI runs."
import configparser, importlib.util, os, re, shutil, sys
from pathlib import Path
import pytest, yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from browser_check import MATHJAX_CDN, MATHJAX_DIR, CHROMIUM, check_site, heading_left, pages, report, tex_left

def test_tex_left():
    assert tex_left("so $^2 = $ reg_covar is added") == ['so $^2 = $ reg_covar is added']  # two dollars, one piece
    long = 'x' * 60
    far = tex_left(f"{long} \\frac{{a}} {long} $q(z') = $ {long}")  # far apart: two pieces, each with its context
    assert len(far) == 2 and '\\frac{a}' in far[0] and "$q(z') = $" in far[1] and all(len(t) < 70 for t in far)
    assert tex_left("p_threshold and cpc_awr/count, 40% noise (a -> b)") == []
    assert tex_left("torch.Tensor \\| None") == ['torch.Tensor \\| None']

def test_heading_left():
    assert heading_left("## Normalisation") == ['## Normalisation']
    assert heading_left("for them large_image_transform gives the PIL pipelines.\n## Normalisation") == ['## Normalisation']
    assert heading_left("pipelines. ### Projection head") == ['### Projection head']
    assert heading_left("issue # 3, C# and #5; a #tag") == []

def test_report():
    assert report({'a.html': [], 'b.html': ['wide table', 'JavaScript error: x', 'wide table']}) == ['b.html: wide table (x2) | JavaScript error: x']

def test_mathjax_address():
    "The address Quarto's pages load MathJax from maps to a file of npm's package."
    assert MATHJAX_CDN.match('https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml-full.js').group(1) == 'es5/tex-chtml-full.js'
    assert MATHJAX_CDN.match('https://cdn.jsdelivr.net/npm/mathjax@3.2.2/es5/input/tex/extensions/physics.js?v=1').group(1) == 'es5/input/tex/extensions/physics.js'
    assert MATHJAX_CDN.match('https://cdn.jsdelivr.net/npm/katex/dist/katex.js') is None

def test_pages(tmp_path):
    for p in ('index.html', 'benchmarks/a.html', 'site_libs/quarto-nav/x.html', 'search.json'):
        (tmp_path/p).parent.mkdir(parents=True, exist_ok=True); (tmp_path/p).write_text('x')
    assert pages(tmp_path) == ['benchmarks/a.html', 'index.html']

HEAD = ('<html><head><meta charset="utf-8"><script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml-full.js"></script>'
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Source+Sans+Pro"></head>'
        '<body style="margin:0"><main class="content" id="quarto-document-content" style="width:600px">')
GOOD = HEAD + ('<section id="fits"><p>The mean <span class="math inline">\\(x^2\\)</span> and code <code>$HOME \\frac</code>.</p>'
               '<img src="dot.svg" width="500" height="20"><table style="width:500px"><tr><td>p_threshold</td></tr></table>'
               '<pre style="overflow-x:auto">short line</pre><a href="bad.html#wide">a table</a> <a href="./#fits">here</a></section></main></body></html>')
BAD = HEAD + ('<section id="wide"><table style="width:900px"><tr><td>x</td></tr></table></section>'
              '<section id="scroll"><pre style="overflow-x:auto;white-space:pre">' + 'a long output line ' * 20 + '</pre></section>'
              '<p>so $^2 = $ reg_covar, run with \u2013allow_pickle, pages 3\u20135</p><p>the PIL pipelines.\n## Normalisation</p><p><span class="math inline">\\(\\frac{1}\\)</span></p>'
              '<img src="missing.png"><a href="index.html#gone">x</a> <a href="nowhere.html">y</a><script>not_a_function()</script></main></body></html>')

def _browser_missing()->str:
    "Why the browser test cannot run here, or '' when Playwright, Chromium and MathJax are all installed."
    if importlib.util.find_spec('playwright') is None: return 'playwright is not installed (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 pip install playwright)'
    if not any(os.access(p, os.X_OK) for p in CHROMIUM) and not shutil.which('chromium'): return 'chromium is not installed (apt-get install chromium)'
    if not (MATHJAX_DIR/'es5'/'tex-chtml-full.js').is_file(): return f'no mathjax@3 at {MATHJAX_DIR} (make docs-check installs it)'
    return ''

@pytest.mark.skipif(bool(_browser_missing()), reason=_browser_missing() or 'ready')
def test_check_site(tmp_path):
    site = tmp_path/'_docs'; site.mkdir()
    (site/'dot.svg').write_text('<svg xmlns="http://www.w3.org/2000/svg" width="500" height="20"><rect width="500" height="20"/></svg>')
    (site/'index.html').write_text(GOOD); (site/'bad.html').write_text(BAD)
    res = check_site(site, tmp_path/'shots')
    assert res['index.html'] == []  # typeset math, code, a fitting image, table and output, refused outside requests: no problem
    bad = '\n'.join(res['bad.html'])
    for want in ['missing.png answered 404', 'JavaScript error: not_a_function is not defined', 'MathJax error',
                 "TeX source in the text: 'so $^2 = $ reg_covar",
                 "an option printed with an en-dash (a copied command fails): '\u2013allow_pickle'", "markdown heading printed as text: '## Normalisation'",
                 'table in #wide is 900 px wide in a 600 px column', 'pre in #scroll scrolls',
                 "link to an anchor index.html does not have: 'index.html#gone'", "link to a file the site does not have: 'nowhere.html'"]:
        assert want in bad, f"{want!r} not in:\n{bad}"
    assert sorted(p.name for p in (tmp_path/'shots').iterdir()) == ['bad.png', 'index.png']

# The GitHub workflows cannot run here: they must at least parse and run what .ci/run runs.
ACTIONS = {'fastai/workflows/nbdev-ci': ['nbdev_clean', 'nbdev_export', 'nbdev_test'],  # what each template action runs
           'fastai/workflows/quarto-ghp': ['nbdev_docs']}

def _workflow(name:str)->tuple:
    "(steps of every job, trigger) of .github/workflows/`name`."
    wf = yaml.safe_load((ROOT/'.github'/'workflows'/name).read_text())
    return [s for j in wf['jobs'].values() for s in j['steps']], wf.get('on', wf.get(True))  # YAML 1.1 reads the key `on` as True

def _commands(steps:list)->str:
    "The shell text of `steps`, with the commands of the template actions they use."
    return '\n'.join([s.get('run', '') for s in steps] + [c for s in steps for a, cs in ACTIONS.items() if s.get('uses', '').startswith(a + '@') for c in cs])

def _ci_text()->str:
    "What .ci/run runs: its own lines and the recipes of the make targets it calls."
    ci, mk = (ROOT/'.ci'/'run').read_text(), (ROOT/'Makefile').read_text()
    recipes = [re.search(rf'^{t}:.*\n((?:\t.*\n)+)', mk, re.M).group(1) for t in re.findall(r'^\s*make (\S+)', ci, re.M) if not t.startswith('.')]
    return ci + ''.join(recipes)

def test_test_workflow():
    steps, on = _workflow('test.yaml')
    cmds, ci = _commands(steps), _ci_text()
    for c in ['nbdev_export', 'nbdev_clean', 'nbdev_test', 'pytest -q tests']: assert c in ci and c in cmds, c
    assert {'push', 'pull_request'} <= set(on)
    nbdev_ci = next(s for s in steps if s.get('uses', '').startswith('fastai/workflows/nbdev-ci@'))
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    ver = lambda v: tuple(int(x) for x in str(v).split('.'))
    assert ver(nbdev_ci['with']['version']) >= ver(cfg['DEFAULT']['min_python'])
    pkg = re.search(r'apt-get install -y -qq (dataset-[\w-]+)', (ROOT/'Makefile').read_text()).group(1)  # the data `make test` reads
    assert pkg in cmds

def test_deploy_workflow():
    steps, on = _workflow('deploy.yaml')
    assert 'nbdev_docs' in _commands(steps) and 'nbdev_docs' in _ci_text()
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    assert on['push']['branches'] == [cfg['DEFAULT']['branch']]
    quarto = re.search(r'^QUARTO_VERSION\s*:?=\s*(\S+)', (ROOT/'Makefile').read_text(), re.M).group(1)
    assert next(s for s in steps if s.get('uses', '').startswith('quarto-dev/quarto-actions/setup@'))['with']['version'] == quarto
    assert f'Quarto {quarto}' in (ROOT/'README.md').read_text()
