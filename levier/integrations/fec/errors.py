"""Why an export stops: the message names the document, the setting or the file to fix."""

from __future__ import annotations


class FecExportError(Exception):
    """The export cannot be written as asked (bad dates, no SIREN, inconsistent data)."""


class UnbalancedPiece(FecExportError):
    """A piece whose debits and credits differ: a bug in the export, never written."""
