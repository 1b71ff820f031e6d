"""static/index.html in headless Chromium (selenium + chromedriver) against the REAL
server (conftest `live`: wikisearch.server on pxcy), checked against the dump.

Skipped, with the reason, when chromium, chromedriver or selenium is missing.
"""
import shutil
import urllib.parse

import pytest

from ws_support import expected

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
CHROMEDRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401
    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt install chromium)"),
    pytest.mark.skipif(CHROMEDRIVER is None, reason="no chromedriver (apt install chromium-driver)"),
    pytest.mark.skipif(not HAVE_SELENIUM, reason="no selenium (pip install selenium)"),
]

WAIT = 20


# Runs before the page's own script in every document: counts alert() calls, any
# <script> element added after the page loaded, uncaught errors and CSP violations.
HOOK = """
window.__xss = 0; window.__errors = []; window.__csp = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message)); });
window.addEventListener("unhandledrejection", function (e) { window.__errors.push(String(e.reason)); });
document.addEventListener("securitypolicyviolation", function (e) { window.__csp.push(e.violatedDirective); });
window.alert = window.confirm = window.prompt = function () { window.__xss++; };
document.addEventListener("DOMContentLoaded", function () {
  window.__scriptsAtLoad = document.scripts.length;
  new MutationObserver(function (ms) {
    for (const m of ms) for (const n of m.addedNodes)
      if (n.nodeType === 1 && (n.tagName === "SCRIPT" || n.querySelector("script"))) window.__xss++;
  }).observe(document, {childList: true, subtree: true});
});
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--user-data-dir=" + str(tmp_path_factory.mktemp("chrome-profile"))):
        opts.add_argument(a)
    try:
        drv = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    except Exception as e:          # e.g. driver/browser version mismatch
        pytest.skip("cannot start headless chromium via chromedriver: %s" % str(e).splitlines()[0])
    try:
        drv.set_page_load_timeout(WAIT)
        drv.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOK})
        yield drv
    finally:
        drv.quit()


def _wait(drv, cond, what):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(drv, WAIT, poll_frequency=0.05).until(lambda d: cond(d), message=what)


def _titles(drv):
    return drv.execute_script(
        "return [...document.querySelectorAll('#results a')].map(a => a.dataset.title)")


def _type(drv, text):
    from selenium.webdriver.common.by import By
    box = drv.find_element(By.ID, "q")
    box.clear()
    box.send_keys(text)


def _open(drv, live):
    drv.get(live + "/")
    _wait(drv, lambda d: d.execute_script("return document.readyState") == "complete", "page load")


def _click_result(drv, title):
    from selenium.webdriver.common.by import By
    for a in drv.find_elements(By.CSS_SELECTOR, "#results a"):
        if a.get_attribute("data-title") == title:
            a.click()
            return
    raise AssertionError("no result %r" % title)


def _article(drv):
    return drv.execute_script(
        "return [document.getElementById('article-title').textContent,"
        "        document.getElementById('article-text').textContent,"
        "        document.getElementById('article-text').childElementCount]")


SCRIPTS = {"cyrillic": (0x400, 0x4FF), "greek": (0x370, 0x3FF), "cjk": (0x4E00, 0x9FFF)}


def _common_prefix(ref, script):
    """The most frequent 2-character title prefix in `script` (1 character for CJK)."""
    import collections
    lo, hi = SCRIPTS[script]
    n = 1 if script == "cjk" else 2
    c = collections.Counter(t[:n] for _, t, _, _ in ref if lo <= ord(t[0]) <= hi and len(t) >= n)
    return c.most_common(1)[0][0]




def _clean(drv):
    """No alert, no added <script>, no uncaught error, no CSP violation."""
    assert drv.execute_script("return window.__xss") == 0
    assert drv.execute_script("return window.__errors") == []
    assert drv.execute_script("return window.__csp") == []


RAW_MARKUP = ["'''", "''", "[[", "]]", "{{", "}}", "<ref", "==", "\n* "]


def _no_markup_left(text):
    for raw in RAW_MARKUP:
        assert raw not in text, raw


def _keys(drv, *keys):
    from selenium.webdriver.common.by import By
    drv.find_element(By.ID, "q").send_keys(*keys)


@pytest.mark.parametrize("prefix", ["Cr", "cyrillic", "cjk"])
def test_type_see_titles_click_read(browser, live, ref, brute, prefix):
    if prefix in SCRIPTS:
        prefix = _common_prefix(ref, prefix)
    want = expected(ref, prefix, 20)
    assert want, prefix
    _open(browser, live)
    _type(browser, prefix)
    want_titles = [t for t, _, _ in want]
    _wait(browser, lambda d: _titles(d) == want_titles, "results for %r" % prefix)
    # the byte ranges shown are the dump's
    ranges = browser.execute_script(
        "return [...document.querySelectorAll('#results a')].map(a => [+a.dataset.start, +a.dataset.end])")
    assert ranges == [[s, e] for _, s, e in want]

    title = want[len(want) // 2][0]
    page = next(p for p in brute if p["title"] == title)
    _click_result(browser, title)
    _wait(browser, lambda d: _article(d)[0] == title, "article %r" % title)
    shown_title, shown_text, children = _article(browser)
    assert children > 0                                   # rendered, not raw wikitext
    if page["text"].startswith("'''"):                    # the lead's bold title
        lead = page["text"].split("'''")[1]
        assert browser.execute_script("return document.querySelector('#article-text p b').textContent") == lead
        _no_markup_left(shown_text.replace("[[not a link]]", ""))     # <nowiki> stays literal
    assert urllib.parse.unquote(browser.execute_script("return location.hash")) == "#" + title
    _clean(browser)


def test_script_in_article_is_inert_text(browser, live, brute):
    from wikisearch.gen import SCRIPT_SNIPPET, SCRIPT_TEST_TITLE
    page = next(p for p in brute if p["title"] == SCRIPT_TEST_TITLE)
    assert SCRIPT_SNIPPET in page["text"]
    _open(browser, live)
    _type(browser, "Cross-site")
    _wait(browser, lambda d: SCRIPT_TEST_TITLE in _titles(d), "the script test page in the results")
    _click_result(browser, SCRIPT_TEST_TITLE)
    _wait(browser, lambda d: _article(d)[0] == SCRIPT_TEST_TITLE, "the script test page")
    shown_title, shown_text, children = _article(browser)
    assert SCRIPT_SNIPPET in shown_text                   # literally, as text
    assert "<img src=x onerror=alert(2)>" in shown_text
    # no alert, no script element added, only the page's own script in the DOM
    assert browser.execute_script("return document.scripts.length") == 1
    assert browser.execute_script("return window.__scriptsAtLoad") == 1
    assert browser.execute_script("return document.querySelectorAll('#results script, #results img,"
                                  " article script, article img, article iframe').length") == 0
    _clean(browser)


def test_deep_link_and_other_script_pages(browser, live, brute):
    # gen plants the snippet in more pages; open one by its #Title deep link
    from wikisearch.gen import SCRIPT_SNIPPET, SCRIPT_TEST_TITLE
    page = next(p for p in brute if SCRIPT_SNIPPET in p["text"] and p["title"] != SCRIPT_TEST_TITLE)
    browser.get(live + "/?q=" + urllib.parse.quote(page["title"][:2]) + "#" + urllib.parse.quote(page["title"]))
    _wait(browser, lambda d: _article(d)[0] == page["title"], "deep-linked article")
    assert SCRIPT_SNIPPET in _article(browser)[1]
    _clean(browser)


def test_folded_typing(browser, live, ref):
    _open(browser, live)
    for typed in ("abraham", "AYN R", "zurich", "МОСК"):
        want = [t for t, _, _ in expected(ref, typed, 20)]
        _type(browser, typed)
        _wait(browser, lambda d: _titles(d) == want, "results for %r" % typed)
    assert _titles(browser) == ["Москва", "Московский Кремль"]
    _type(browser, "AynR")
    _wait(browser, lambda d: _titles(d) == ["Ayn Rand"], "a redirect's target")
    assert "from \u201cAynRand\u201d" in browser.execute_script(
        "return document.querySelector('#results a .from').textContent")
    _clean(browser)


def test_rendered_article(browser, live):
    _open(browser, live)
    _type(browser, "Abraham L")
    _wait(browser, lambda d: "Abraham Lincoln" in _titles(d), "Abraham Lincoln in the results")
    _click_result(browser, "Abraham Lincoln")
    _wait(browser, lambda d: _article(d)[0] == "Abraham Lincoln", "the article")
    js = browser.execute_script
    box = "document.getElementById('article-text')"

    def texts(sel):
        return js("return [...%s.querySelectorAll(arguments[0])].map(e => e.textContent)" % box, sel)
    assert texts("h3") == ["Early life"] and texts("h4") == ["Family"]
    assert texts("p b")[0] == "Abraham Lincoln" and "Kentucky" in texts("p i")
    assert texts(":scope > ul > li") == ["His father, Thomas Lincoln", "His mother, Nancy Hanks"]
    assert texts(":scope > ol > li") == ["first", "second"]
    assert texts("li b i, li i b") == ["Nancy Hanks"]
    assert js("return [...%s.querySelectorAll('a.wikilink')].map(a => [a.dataset.title, a.textContent,"
              " a.getAttribute('href')])" % box) == [
        ["United States", "United States", "#United%20States"], ["Ayn Rand", "American frontier", "#Ayn%20Rand"],
        ["Thomas Lincoln", "Thomas Lincoln", "#Thomas%20Lincoln"], ["Zürich", "Zürich", "#Z%C3%BCrich"]]
    text = _article(browser)[1]
    _no_markup_left(text)
    assert "Infobox" not in text and "cite web" not in text
    assert "<script>alert(1)</script>" in text and "<img src=x onerror=alert(2)>" in text
    # references folded away: a [1] marker, the reference in a closed <details>
    assert texts("sup.ref") == ["[1]"]
    assert js("return %s.querySelector('details').open" % box) is False
    assert js("return %s.querySelector('details summary').textContent" % box) == "References (1)"
    assert texts(".cats") == ["Categories: Presidents"]
    assert js("return %s.querySelectorAll('script, img, iframe, style').length" % box) == 0
    # an internal link navigates inside the demo; Back returns
    browser.find_element("css selector", "#article-text a[data-title='Ayn Rand']").click()
    _wait(browser, lambda d: _article(d)[0] == "Ayn Rand", "the linked article")
    assert js("return location.hash") == "#Ayn%20Rand"
    assert texts("h3") == ["Works"] and texts("ul li i a") == ["Atlas Shrugged"]
    browser.back()
    _wait(browser, lambda d: _article(d)[0] == "Abraham Lincoln", "back to the first article")
    _clean(browser)


def test_keyboard_navigation(browser, live, ref):
    from selenium.webdriver.common.keys import Keys
    _open(browser, live)
    want = [t for t, _, _ in expected(ref, "Abraham", 20)]
    _type(browser, "Abraham")
    _wait(browser, lambda d: _titles(d) == want, "results")

    def active():
        return browser.execute_script(
            "const a = document.querySelector('#results a.active'); return a && a.dataset.title")
    _keys(browser, Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ARROW_DOWN)
    assert active() == want[2]
    _keys(browser, Keys.ARROW_UP)
    assert active() == want[1]
    _keys(browser, Keys.ENTER)
    _wait(browser, lambda d: _article(d)[0] == want[1], "the highlighted hit")
    assert browser.execute_script("return document.activeElement.id") == "q"     # focus stayed in the box
    _keys(browser, Keys.ARROW_UP)
    assert active() == want[0]
    _keys(browser, Keys.ESCAPE)
    assert active() is None
    _clean(browser)


def test_enter_opens_the_fresh_hit_not_a_stale_one(browser, live):
    _open(browser, live)
    _type(browser, "Zürich")
    _wait(browser, lambda d: _titles(d)[:1] == ["Zürich"], "Zürich results")
    # a new query and Enter at once: the Zürich results are still listed when Enter comes
    browser.execute_script("const q = document.getElementById('q'); q.value = 'AYN R';"
                           "q.dispatchEvent(new Event('input'));"
                           "q.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));")
    _wait(browser, lambda d: _article(d)[0] == "Ayn Rand", "the hit of the new query")
    assert _titles(browser) == ["Ayn Rand"]
    _clean(browser)


def test_redirect_and_malformed_fragments(browser, live):
    browser.get(live + "/#AynRand")
    _wait(browser, lambda d: _article(d)[0] == "Ayn Rand", "the redirect's target")
    note = browser.execute_script("return document.getElementById('article-note').textContent")
    assert "Redirected from" in note and "AynRand" in note
    browser.get(live + "/#abraham_Lincoln")
    _wait(browser, lambda d: _article(d)[0] == "Abraham Lincoln", "a Wikipedia-style URL title")
    for bad in ("#%E0%A4%A", "#%", "#%ZZ", "#%C3"):
        browser.get(live + "/" + bad)
        _wait(browser, lambda d: "malformed" in d.execute_script(
            "return document.getElementById('status').textContent"), "the malformed-link message")
        _clean(browser)
    browser.get(live + "/#" + urllib.parse.quote("No such page at all"))
    _wait(browser, lambda d: "404" in d.execute_script("return document.getElementById('status').textContent"),
          "the 404 message")
    _clean(browser)


def test_script_titles_and_links_are_inert(browser, live):
    title = "<script>alert(3)</script> (test page)"
    _open(browser, live)
    _type(browser, "<scr")
    _wait(browser, lambda d: title in _titles(d), "the <script> title in the results")
    _click_result(browser, title)
    _wait(browser, lambda d: _article(d)[0] == title, "the <script> page")
    js = browser.execute_script
    assert js("return document.querySelector('#article-text h3').textContent") == "<script>alert(4)</script>"
    hrefs = js("return [...document.querySelectorAll('#article-text a')].map(a => a.getAttribute('href'))")
    assert hrefs and all(h.startswith("#") for h in hrefs)
    assert js("return document.querySelectorAll('article script, article img').length") == 0
    assert js("return document.scripts.length") == 1
    _clean(browser)


def test_server_error_is_shown_politely(browser, live):
    from selenium.webdriver.common.by import By
    _open(browser, live)
    # an over-long prefix (1025 bytes): the real server answers 400 {"error": "prefix too long"}
    browser.execute_script("const q = document.getElementById('q'); q.value = arguments[0];"
                           "q.dispatchEvent(new Event('input'));", "x" * 1025)
    status = browser.find_element(By.ID, "status")
    _wait(browser, lambda d: "400" in status.text, "the error in #status")
    assert "prefix too long" in status.text and "error" in status.get_attribute("class")
    assert _titles(browser) == []
