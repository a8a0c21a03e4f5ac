"""FEC export of Levier's own books (Fichier des Écritures Comptables, A47 A-1 LPF).

`export_fec` is the entry point; `docs/operations/fec-export.md` says what the file holds.
"""

from levier.integrations.fec.accounts import AccountPlan, AccountPlanError, load_account_plan
from levier.integrations.fec.errors import FecExportError, UnbalancedPiece
from levier.integrations.fec.export import FecExportResult, export_fec, fec_filename

__all__ = [
    "AccountPlan",
    "AccountPlanError",
    "FecExportError",
    "FecExportResult",
    "UnbalancedPiece",
    "export_fec",
    "fec_filename",
    "load_account_plan",
]
