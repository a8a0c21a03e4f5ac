"""Where e-invoiced documents go: the interface a platform connector implements.

The French e-invoicing reform routes B2B invoices through certified platforms (PDP/PA), each
with its own API. Levier does not talk to one itself: the sending job hands the Factur-X file
to an `EInvoicingPlatform`, chosen by dotted path in `LEVIER_EINVOICING_PLATFORM`. The
default, `OutboxPlatform`, drops the file in a folder that a connector (a script, the
platform's own agent) picks up; a connector written in Python can implement the protocol
and be named in the setting instead.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from levier.billing.models import Invoice

DEFAULT_PLATFORM = "levier.billing.platform.OutboxPlatform"


class PlatformError(Exception):
    """The platform refused or could not take the document now.

    Raised by a connector for an expected refusal (platform down, quota, rejected file): the
    send log records it as "failed" and `levier send-invoices` tries again. Any other
    exception is treated as a bug: recorded too, then raised so the job runner logs it.
    """


class EInvoicingPlatform(Protocol):
    """What the sending job needs from a platform connector."""

    def submit(self, invoice: Invoice, facturx: bytes, filename: str) -> str:
        """Hand over the Factur-X PDF of an issued `invoice`; return the platform's id for it.

        May be called again for the same document (a retry after a crash between the
        platform's acceptance and the send log's update, or someone sending it again): a
        connector that can should make a repeated submission harmless.
        """
        ...


def outbox_dir() -> Path:
    """LEVIER_OUTBOX_DIR, else `<DATA_DIR>/outbox`."""
    return Path(getattr(settings, "LEVIER_OUTBOX_DIR", None) or Path(settings.DATA_DIR) / "outbox")


class OutboxPlatform:
    """Writes each document as `<outbox>/<number>.pdf` for a connector to pick up.

    The file appears whole or not at all: it is written under a temporary dot-name in the same
    folder, flushed to disk, then renamed (atomic on one file system). A connector therefore
    takes only names not starting with "." and moves or deletes what it has transmitted.
    Sending a document again before the connector took it replaces the waiting file (same
    content): the platform receives it once.
    """

    label = "Dossier de dépôt (outbox)"

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else outbox_dir()

    def submit(self, invoice: Invoice, facturx: bytes, filename: str) -> str:
        if not filename or Path(filename).name != filename or filename.startswith("."):
            raise ValueError(f"unsafe outbox file name {filename!r}")
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / filename
        partial = self.directory / f".{filename}.{uuid.uuid4().hex}.part"
        try:
            with open(partial, "xb") as handle:
                handle.write(facturx)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        _fsync_directory(self.directory)
        return filename


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def platform_path() -> str:
    return str(getattr(settings, "LEVIER_EINVOICING_PLATFORM", "") or DEFAULT_PLATFORM)


def get_platform() -> EInvoicingPlatform:
    """A new instance of the configured platform class (built without arguments)."""
    platform: EInvoicingPlatform = import_string(platform_path())()
    return platform


def platform_label() -> str:
    """The platform's name for the send log: its `label`, else its class name."""
    try:
        platform_class = import_string(platform_path())
    except ImportError:
        return platform_path()
    return str(getattr(platform_class, "label", "") or platform_class.__name__)
