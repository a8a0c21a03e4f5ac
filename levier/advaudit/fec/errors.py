"""The refusal of a file that cannot be read as a FEC at all."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext


class FecUnreadable(Exception):
    """The file cannot be read as a FEC at all; the message names the file and the reason."""

    def __init__(self, path: Path, reason: str, *, code: str) -> None:
        self.path = path
        self.reason = reason
        self.code = code
        super().__init__(
            gettext("“%(file)s” cannot be read as a FEC: %(reason)s")
            % {"file": path.name, "reason": reason}
        )
