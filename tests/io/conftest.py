"""Every test here runs twice: with pyarrow's readers and with the core readers
(``LOSSGAP_ARROW=0``), which must give the same columns and the same error lines. A test
of what only pyarrow reads is marked ``arrow_only``: under the core readers it checks the
one-line refusal that names the extra instead. A test marked ``one_reader(NAME)`` runs once,
under that reader (it compares both readers itself, or checks what only one does)."""

from __future__ import annotations

import pytest

from lossgap.errors import InputError


@pytest.fixture(params=["arrow", "core"], autouse=True)
def reader(request, monkeypatch):
    """The reader under test; under the core one an ``arrow_only`` test must be refused."""
    monkeypatch.setenv("LOSSGAP_ARROW", "1" if request.param == "arrow" else "0")
    return request.param


def pytest_collection_modifyitems(config, items):
    """Leave out the other reader's copy of a ``one_reader`` test (deselected, not skipped:
    it has nothing to run)."""
    kept, left_out = [], []
    for item in items:
        marker = item.get_closest_marker("one_reader")
        params = getattr(item, "callspec", None) and item.callspec.params
        if marker and params and params.get("reader") not in (None, marker.args[0]):
            left_out.append(item)
        else:
            kept.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Under the core readers, an ``arrow_only`` test passes when it is refused in the one
    line that names the extra, and fails otherwise."""
    core = getattr(item, "callspec", None) and item.callspec.params.get("reader") == "core"
    if not (core and item.get_closest_marker("arrow_only")):
        yield
        return
    outcome = yield
    error = outcome.excinfo[1] if outcome.excinfo else None
    # InputError from the API; AssertionError where a CLI test checked the exit code
    refused = isinstance(error, (InputError, AssertionError))
    message = str(error) if error is not None else ""
    if refused and "needs pyarrow: pip install 'lossgap[arrow]'" in message:
        outcome.force_result(None)
    else:
        outcome.force_exception(
            AssertionError(
                f"{item.name}: without pyarrow this input must be refused in the line naming "
                f"the arrow extra; got {message or 'no error'}"
            )
        )
