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

# Runs before the page's own script in every document: counts alert() calls and
# any <script> element added after the page loaded.
HOOK = """
window.__xss = 0;
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
    assert shown_text == page["text"] and children == 0
    assert urllib.parse.unquote(browser.execute_script("return location.hash")) == "#" + title
    assert browser.execute_script("return window.__xss") == 0


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
    assert shown_text == page["text"]                     # literally, <script> and all
    assert SCRIPT_SNIPPET in shown_text and children == 0
    # no alert, no script element added, only the page's own script in the DOM
    assert browser.execute_script("return window.__xss") == 0
    assert browser.execute_script("return document.scripts.length") == 1
    assert browser.execute_script("return window.__scriptsAtLoad") == 1
    assert browser.execute_script("return document.querySelectorAll('#results script, #results img,"
                                  " article script, article img').length") == 0


def test_deep_link_and_other_script_pages(browser, live, brute):
    # gen plants the snippet in more pages; open one by its #Title deep link
    from wikisearch.gen import SCRIPT_SNIPPET, SCRIPT_TEST_TITLE
    page = next(p for p in brute if SCRIPT_SNIPPET in p["text"] and p["title"] != SCRIPT_TEST_TITLE)
    browser.get(live + "/?q=" + urllib.parse.quote(page["title"][:2]) + "#" + urllib.parse.quote(page["title"]))
    _wait(browser, lambda d: _article(d)[0] == page["title"], "deep-linked article")
    assert _article(browser)[1:] == [page["text"], 0]
    assert browser.execute_script("return window.__xss") == 0


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
