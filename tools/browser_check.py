"""Every page of the built site (`_docs/`, written by `nbdev_docs`) opened in headless Chromium, as a reader sees it.

The site is served on 127.0.0.1 by a python http.server in a thread and each page is opened by Playwright in Debian's
`chromium` (never a browser Playwright downloads) at 1,400 px, with MathJax answered from npm's `mathjax@3` in place of
the CDN the pages name (every other outside request is refused: the check runs offline). A page has a problem when: a
request to the local server fails or answers 4xx/5xx, a local link points at a file or #anchor the site lacks, JavaScript
throws or logs an error, MathJax marks an error (`mjx-merror`), TeX source is left in the text (a `$`, a `\\command` or
a `\\|` outside code and typeset math), a markdown heading is printed as text, an option's `--` became an en-dash, or a
figure, table, output or code block is wider than its column, sticking out of it or needing a sideways scroll bar to be
read (the whole page scrolling sideways counts too). A full-page screenshot of every page goes to the shots folder.
Prints one line per page with a problem (`page: what | what ...`) and exits 1 if any.
Usage: python tools/browser_check.py [_docs] [--shots _docs_shots] [--chromium PATH] [--mathjax DIR] [--width 1400] [--pages a.html ...]
Needs: apt-get install chromium; PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 pip install playwright;
       npm install --prefix ~/.cache/cpc-docs-npm mathjax@3   (the default --mathjax is that folder's node_modules/mathjax)
"""
import argparse, asyncio, functools, http.server, os, re, shutil, sys, threading, time, urllib.parse
from pathlib import Path

MATHJAX_CDN = re.compile(r'^https?://[^/]+/npm/mathjax@3(?:\.[\d.]+)?/(.+?)(?:\?.*)?$')  # the address Quarto's pages load MathJax from
MATHJAX_DIR = Path.home()/'.cache'/'cpc-docs-npm'/'node_modules'/'mathjax'
CHROMIUM = ('/usr/lib/chromium/chromium', '/usr/bin/chromium')  # Debian's binary, then its wrapper script
HEADING = re.compile(r'(?:^|\n)[ \t]*#{1,6} \S[^\n]*|(?<=\s)#{2,6} \S[^\n]*')  # what is left of a markdown heading
TEX = re.compile(r'\$|\\(?:[A-Za-z]{2,}|[{}_^,;!|*()\[\]])')  # what is left of TeX (or of a markdown escape) that Pandoc did not read
DASHED = re.compile(r'(?:^|(?<=[\s(\[]))\u2013[a-z][\w-]*')  # an option such as --help that Pandoc turned into an en-dash

def pages(site:Path)->list:
    "The HTML pages of the built site under `site`, as paths relative to it (Quarto's own `site_libs` left out)."
    return sorted(p.relative_to(site).as_posix() for p in site.rglob('*.html') if 'site_libs' not in p.relative_to(site).parts)

def tex_left(text:str)->list:
    "The pieces of `text` that look like TeX source a reader should not see (a `$` or a backslash command), with 25 characters around; nearby ones make one piece."
    spans = []
    for m in TEX.finditer(text):
        a, b = max(0, m.start() - 25), m.end() + 25
        if spans and a <= spans[-1][1]: spans[-1][1] = b
        else: spans.append([a, b])
    return [text[a:b].strip() for a, b in spans]

def heading_left(text:str)->list:
    "Markdown headings printed as text: `#`s and a space opening the text or a line, or two to six `#`s after a space (Pandoc needs a blank line before a heading)."
    return [m.group(0).strip()[:60] for m in HEADING.finditer(text)]

def chromium_path()->str:
    "Debian's chromium binary, or an error naming the package to install."
    for p in CHROMIUM:
        if os.access(p, os.X_OK): return p
    if (w := shutil.which('chromium')): return w
    raise FileNotFoundError(f"browser_check: no chromium at {' or '.join(CHROMIUM)}; expected Debian's package (apt-get install -y chromium)")

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass

def serve(site:Path)->tuple:
    "Serve `site` on 127.0.0.1 at a free port in a daemon thread; returns (server, base url ending in '/')."
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f'http://127.0.0.1:{srv.server_address[1]}/'

# Runs in the page: what a reader cannot see whole. The column is the main text column (`main`); an element is too wide when
# it reaches past the column's right edge, or when it scrolls sideways (its content wider than its box). Nested offenders
# are reported once, at the innermost element; each is named by its tag and the section it is in.
_LAYOUT_JS = r"""() => {
  const main = document.querySelector('main#quarto-document-content') || document.querySelector('main') || document.body;
  const col = main.getBoundingClientRect();
  const sel = 'figure, img, svg, table, pre, .cell-output, .cell-output-display, div.sourceCode, mjx-container[display="true"], iframe, .table-responsive, p, dl, ul, ol';
  const bad = [];
  for (const el of main.querySelectorAll(sel)) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || el.closest('mjx-assistive-mml')) continue;
    const ox = getComputedStyle(el).overflowX;
    const scrolls = ox !== 'visible' && el.scrollWidth > el.clientWidth + 1;
    const past = r.right > col.right + 1;
    if (!scrolls && !past) continue;
    const sec = el.closest('section[id]');
    const what = el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
    bad.push({el, text: `${what} in #${sec ? sec.id : '(top)'} ` + (scrolls ? `scrolls: its content is ${el.scrollWidth} px in a ${el.clientWidth} px box`
                                                                      : `is ${Math.round(r.right - col.left)} px wide in a ${Math.round(col.width)} px column`)});
  }
  const out = bad.filter(b => !bad.some(o => o !== b && b.el.contains(o.el))).map(b => b.text);
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) out.push(`the page scrolls sideways: ${doc.scrollWidth} px in a ${window.innerWidth} px window`);
  return out;
}"""

# Runs in the page: the text a reader sees outside code and typeset math, one string per text node.
_TEXT_JS = r"""() => {
  const main = document.querySelector('main#quarto-document-content') || document.querySelector('main') || document.body;
  const skip = 'pre, code, script, style, mjx-container, .sourceCode, kbd, samp, textarea, .cell-output-stdout, .cell-output-stderr';
  const out = [], w = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  for (let n = w.nextNode(); n; n = w.nextNode()) if (n.textContent.trim() && !n.parentElement.closest(skip)) out.push(n.textContent);
  return out;
}"""

async def check_page(page, url:str, shot:Path, found:dict=None, timeout_ms:int=60_000)->list:
    "Open `url` in the Playwright (async) `page`, wait for MathJax, write a full-page screenshot to `shot`, and return its problems; its local links and element ids go into `found`."
    errors, failed, local = [], [], '/'.join(url.split('/', 3)[:3]) + '/'
    on_err = lambda e: errors.append(f"JavaScript error: {str(e).splitlines()[0][:160]}")
    on_console = lambda m: errors.append(f"console error: {m.text[:160]}") if m.type == 'error' and 'Failed to load resource' not in m.text else None
    on_failed = lambda r: failed.append(f"failed request {r.url} ({r.failure})") if r.url.startswith(local) else None
    on_resp = lambda r: failed.append(f"request {r.url} answered {r.status}") if r.status >= 400 and r.url.startswith(local) else None
    handlers = dict(pageerror=on_err, console=on_console, requestfailed=on_failed, response=on_resp)
    for k, f in handlers.items(): page.on(k, f)
    try:
        await page.goto(url, wait_until='load', timeout=timeout_ms)
        await page.evaluate("() => (window.MathJax && MathJax.startup && MathJax.startup.promise) ? MathJax.startup.promise.then(() => true) : true")
        await page.evaluate("() => document.fonts ? document.fonts.ready.then(() => true) : true")
        merr = await page.evaluate("() => [...document.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error') || e.textContent)")
        texts = await page.evaluate(_TEXT_JS)
        layout = await page.evaluate(_LAYOUT_JS)
        if found is not None: found.update(await page.evaluate(_LINKS_JS, local))
        shot.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(shot), full_page=True)
    finally:
        for k, f in handlers.items(): page.remove_listener(k, f)
    out = failed + errors + [f"MathJax error: {m[:120]!r}" for m in merr]
    out += [f"TeX source in the text: {t!r}" for s in texts for t in tex_left(s)]
    out += [f"markdown heading printed as text: {h!r}" for s in texts for h in heading_left(s)]
    out += [f"an option printed with an en-dash (a copied command fails): {m.group(0)!r}" for s in texts for m in DASHED.finditer(s)]
    return out + layout

# Runs in the page: the local links (resolved, once each) and the ids an anchor can point at.
_LINKS_JS = r"""(local) => ({links: [...new Set([...document.querySelectorAll('a[href]')].map(a => a.href).filter(h => h.startsWith(local)))],
                             ids: [...document.querySelectorAll('[id], a[name]')].map(e => e.id || e.getAttribute('name'))})"""

def link_problems(site:Path, base:str, found:dict)->dict:
    "{page: [problems]} for local links, from each checked page's `found` links: a file the site lacks, or an #anchor its page lacks."
    out = {}
    for rel, f in found.items():
        for h in f.get('links', []):
            path, _, frag = urllib.parse.unquote(h[len(base):]).partition('#')
            path = path.split('?')[0]
            if path == '' or path.endswith('/'): path += 'index.html'
            if not (site/path).is_file(): out.setdefault(rel, []).append(f"link to a file the site does not have: {h[len(base):]!r}")
            elif frag and path in found and frag not in found[path].get('ids', []):
                out.setdefault(rel, []).append(f"link to an anchor {path} does not have: {h[len(base):]!r}")
    return out

async def _route(route, base:str, mathjax:Path):
    "Local requests go to the server, MathJax's CDN address to the npm copy, anything else is refused (the check runs offline)."
    u = route.request.url
    if u.startswith(base): return await route.continue_()
    if (m := MATHJAX_CDN.match(u)) and (f := mathjax/m.group(1)).is_file(): return await route.fulfill(path=str(f))
    await route.abort()

async def _check_all(site:Path, base:str, names:list, shots:Path, chromium:str, mathjax:Path, width:int, workers:int)->dict:
    "Check the pages `names` of `site` (served at `base`) with `workers` browser tabs at a time, then their links; {page: [problems]}."
    from playwright.async_api import async_playwright
    todo, res, found = list(names), {}, {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, headless=True)
        ctx = await browser.new_context(viewport={'width': width, 'height': 900})
        await ctx.route('**/*', lambda r: _route(r, base, mathjax))
        async def tab():
            page = await ctx.new_page()
            while todo:
                rel = todo.pop(0)
                found[rel] = {}
                res[rel] = await check_page(page, base + rel, shots/(rel.replace('/', '__').removesuffix('.html') + '.png'), found[rel])
            await page.close()
        await asyncio.gather(*[tab() for _ in range(workers)])
        await browser.close()
    links = link_problems(site, base, found)
    return {k: res[k] + links.get(k, []) for k in names}

def check_site(site:Path, shots:Path, chromium:str=None, mathjax:Path=MATHJAX_DIR, width:int=1400, only:list=None, workers:int=2)->dict:
    "Every page of `site` (or those named in `only`) checked in headless Chromium at `width` px: {page: [problems]}, screenshots written to `shots`."
    site, shots, mathjax = Path(site), Path(shots), Path(mathjax)
    if not (site/'index.html').is_file(): raise FileNotFoundError(f"browser_check: {site}/index.html does not exist; build the site first (nbdev_docs)")
    if not (mathjax/'es5'/'tex-chtml-full.js').is_file():
        raise FileNotFoundError(f"browser_check: no MathJax 3 at {mathjax}; expected npm's mathjax@3 package folder (npm install --prefix DIR mathjax@3 writes DIR/node_modules/mathjax)")
    chromium = chromium or chromium_path()
    srv, base = serve(site)
    try: return asyncio.run(_check_all(site, base, list(only or pages(site)), shots, chromium, mathjax, width, workers))
    finally: srv.shutdown()

def report(res:dict)->list:
    "One line per page with a problem: the page, then its problems joined by ' | ' (repeated ones counted once, with their number)."
    lines = []
    for rel, probs in res.items():
        if not probs: continue
        n = {}
        for pr in probs: n[pr] = n.get(pr, 0) + 1
        lines.append(f"{rel}: " + ' | '.join(pr + (f' (x{k})' if k > 1 else '') for pr, k in n.items()))
    return lines

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('site', nargs='?', default='_docs', help='the built site')
    ap.add_argument('--shots', default='_docs_shots', help='folder for the full-page screenshots')
    ap.add_argument('--chromium', default=None, help="Chromium's executable (default: Debian's)")
    ap.add_argument('--mathjax', default=str(MATHJAX_DIR), help="npm's mathjax@3 package folder")
    ap.add_argument('--width', type=int, default=1400, help='window width in px')
    ap.add_argument('--pages', nargs='*', default=None, help='only these pages (paths relative to the site)')
    ap.add_argument('--workers', type=int, default=2, help='pages open at a time')
    a = ap.parse_args()
    t0 = time.time()
    try: res = check_site(Path(a.site), Path(a.shots), a.chromium, Path(a.mathjax), a.width, a.pages, a.workers)
    except FileNotFoundError as e: sys.exit(str(e))
    for line in report(res): print(line)
    n = sum(map(bool, res.values()))
    print(f"browser check: {len(res)} pages in {time.time() - t0:.0f} s, {n} with problems; screenshots in {a.shots}/")
    sys.exit(1 if n else 0)
