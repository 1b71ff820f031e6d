import ws_support


def test_extension_builds():
    assert ws_support.BUILD_ERROR is None, ws_support.BUILD_ERROR
    from wikisearch import lookup
    assert hasattr(lookup, "TitleTrie")
