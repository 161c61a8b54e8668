import pytest

from tests.diagnostics.states import build_error_states


@pytest.fixture(scope="session")
def error_states():
    """`error_states` rows (linted once per test session) and their contexts."""
    return build_error_states()
