import shutil
import subprocess

import pytest

import ws_support


def test_extension_builds():
    assert ws_support.BUILD_ERROR is None, ws_support.BUILD_ERROR
    from wikisearch import server, titleindex
    assert hasattr(titleindex, "Index") and hasattr(server, "WikiSearch")


@pytest.mark.skipif(shutil.which("ldd") is None, reason="no ldd")
def test_needs_no_trie_library():
    """The title index is plain sorted arrays: no libdatrie (nor any library) to link."""
    from wikisearch import titleindex
    out = subprocess.run(["ldd", titleindex.__file__], capture_output=True, text=True).stdout
    assert "libdatrie" not in out, out
