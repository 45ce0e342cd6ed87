import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from qa_checks import check_call, load_lexicon


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server (its own database) for the tests that run flows."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def driver():
    """A headless Chromium for the browser tests of a module (one that needs the network log makes its own)."""
    from browser import require_browser, start_browser

    require_browser()
    d = start_browser()
    yield d
    d.quit()


@pytest.fixture(scope="session")
def lex():
    return load_lexicon()


@pytest.fixture
def rules_of(lex):
    """Run the engine and return the set of rule ids found."""

    def run(transcript):
        return {f.rule for f in check_call(transcript, lex).findings}

    return run
