"""The `levier` console script (`levier/__main__.py`)."""

from __future__ import annotations

import gc

import pytest
from django.db import connections

from levier import __main__ as console


@pytest.mark.parametrize("argv", [["levier", "version"], ["levier", "no-such-command"]])
def test_the_console_script_closes_its_connections_then_freezes_objects_before_exiting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    closed: list[bool] = []
    monkeypatch.setattr(connections, "close_all", lambda: closed.append(True))
    monkeypatch.setattr("sys.argv", argv)
    try:
        try:
            console.main()
        except SystemExit as exc:  # an unknown command: Django says so and exits with 1
            assert exc.code == 1 and "no_such_command" in capsys.readouterr().err
        assert closed == [True]
        assert gc.get_freeze_count() > 0  # the interpreter's last collections skip them
    finally:
        gc.unfreeze()
