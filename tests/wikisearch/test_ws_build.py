import shutil
import subprocess

import pytest

import ws_support


def test_extension_builds():
    assert ws_support.BUILD_ERROR is None, ws_support.BUILD_ERROR
    from wikisearch import lookup
    assert hasattr(lookup, "TitleTrie")


@pytest.mark.skipif(shutil.which("ldd") is None, reason="no ldd")
def test_links_system_libdatrie():
    from wikisearch import lookup
    out = subprocess.run(["ldd", lookup.__file__], capture_output=True, text=True).stdout
    assert "libdatrie.so.1" in out, out
