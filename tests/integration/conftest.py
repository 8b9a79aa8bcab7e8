"""Fixtures of the cross-service suites; the helpers themselves are in tests/pyhelpers/lakehouse_testing.py."""
import pytest

from lakehouse_testing import Server


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    s.stop()
