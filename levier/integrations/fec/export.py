"""`export_fec`: Levier's own books over a period, as a FEC file (A47 A-1 LPF).

The file is written to a temporary file next to its destination and renamed only once every
piece is written and balanced, so a failed export never leaves a half file where the
accountant expects the real one. All reads run in one transaction; on PostgreSQL it is
REPEATABLE READ, so documents issued or payments matched during the export cannot make the
sales journal and the bank journal disagree.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import io
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, BinaryIO, TextIO

from django.db import connection, transaction
from django.utils.translation import gettext as _

from levier.billing.models import CompanyProfile
from levier.integrations.fec.accounts import AccountPlan, load_account_plan
from levier.integrations.fec.entries import EntryBuilder
from levier.integrations.fec.errors import FecExportError
from levier.integrations.fec.writer import FecWriter

DEFAULT_ENCODING = "iso-8859-15"
# The character sets A47 A-1 allows that Levier writes (UTF-8 is common but not official).
ENCODINGS = {"iso8859-15": "iso-8859-15", "utf-8": "utf-8"}
NEW_FILE_MODE = 0o644


@dataclass(frozen=True)
class FecExportResult:
    """What was written: per journal the pieces and lines, the totals, what was replaced."""

    path: Path | None
    encoding: str
    date_from: dt.date
    date_to: dt.date
    pieces: Mapping[str, int]
    lines: Mapping[str, int]
    total_debit: Decimal
    total_credit: Decimal
    # Per account number: debit − credit over the file.
    balances: Mapping[str, Decimal]
    # Characters the encoding could not hold (replaced), documents left out, and why.
    warnings: tuple[str, ...]
    replaced_characters: int
    receivables_account_prefix: str = "411"

    @property
    def receivables(self) -> Decimal:
        """Balance of the 411 accounts: what kpis.md's audit reads as `receivables_ttc`."""
        prefix = self.receivables_account_prefix
        return sum(
            (amount for account, amount in self.balances.items() if account.startswith(prefix)),
            Decimal("0.00"),
        )


def fec_filename(siren: str, date_to: dt.date) -> str:
    """`<SIREN>FEC<AAAAMMJJ>.txt`, the date being the closing date of the period."""
    return f"{siren}FEC{date_to:%Y%m%d}.txt"


def company_siren() -> str:
    """The SIREN of the company profile, read without creating the profile."""
    siren = CompanyProfile.objects.filter(pk=1).values_list("siren", flat=True).first() or ""
    siren = siren.replace(" ", "")
    if not (len(siren) == 9 and siren.isdigit()):
        raise FecExportError(
            _(
                "The company profile has no valid SIREN (“%(siren)s”): the FEC file is named "
                "after it. Fill it in the company settings, or give a file name to --out."
            )
            % {"siren": siren}
        )
    return siren


def _encoding(name: str) -> str:
    try:
        key = codecs.lookup(name).name
    except LookupError:
        key = ""
    if key not in ENCODINGS:
        raise FecExportError(
            _("unknown or unsupported encoding “%(name)s” (use iso-8859-15 or utf-8)")
            % {"name": name}
        )
    return ENCODINGS[key]


@contextlib.contextmanager
def _snapshot() -> Iterator[None]:
    """One consistent view of the books for the whole export."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _destination(out: Path, date_to: dt.date) -> Path:
    if out.is_dir():
        return out / fec_filename(company_siren(), date_to)
    if not out.parent.is_dir():
        raise FecExportError(
            _("%(path)s: the folder %(folder)s does not exist")
            % {"path": out, "folder": out.parent}
        )
    return out


def export_fec(
    *,
    date_from: dt.date,
    date_to: dt.date,
    out: Path | str | TextIO | BinaryIO,
    accounts: AccountPlan | None = None,
    encoding: str = DEFAULT_ENCODING,
    opening_balances: bool = True,
) -> FecExportResult:
    """Write the FEC of [date_from, date_to] to `out` and say what it holds.

    `out`: a folder (the file is then named `<SIREN>FEC<AAAAMMJJ>.txt` after `date_to`), a
    file path, or an open stream (binary: encoded here; text: the caller opened it with
    this encoding and `newline=""`). `accounts`: the plan, else the `LEVIER_FEC_ACCOUNTS`
    setting over the defaults. `opening_balances`: the AN journal of the items open the day
    before `date_from` (leave it out when the accounting software opens the year itself).
    """
    if date_from > date_to:
        raise FecExportError(
            _("the period starts (%(start)s) after it ends (%(end)s)")
            % {"start": date_from.isoformat(), "end": date_to.isoformat()}
        )
    codec = _encoding(encoding)
    plan = accounts if accounts is not None else load_account_plan()
    builder = EntryBuilder(
        plan=plan, date_from=date_from, date_to=date_to, opening=opening_balances
    )
    if isinstance(out, str | Path):
        path = _destination(Path(out), date_to)
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (renamed or removed below)
            mode="wb", dir=path.parent, prefix=f".{path.name}.", delete=False
        )
        try:
            with handle:
                writer = _write(builder, handle, codec)
            # A temporary file is private (0600); the export is for the accountant to read.
            os.chmod(handle.name, path.stat().st_mode & 0o777 if path.exists() else NEW_FILE_MODE)
            os.replace(handle.name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(handle.name)
            raise
    else:
        path = None
        writer = _write(builder, out, codec)
    return FecExportResult(
        path=path,
        encoding=codec,
        date_from=date_from,
        date_to=date_to,
        pieces=dict(sorted(writer.numbers.items())),
        lines=dict(sorted(writer.lines.items())),
        total_debit=writer.total_debit,
        total_credit=writer.total_credit,
        balances=dict(sorted(writer.balances.items())),
        warnings=(*builder.warnings, *writer.warnings),
        replaced_characters=writer.charset.replaced,
        receivables_account_prefix=plan.customers[:3],
    )


def _write(builder: EntryBuilder, stream: TextIO | BinaryIO | IO[bytes], codec: str) -> FecWriter:
    if isinstance(stream, io.TextIOBase):
        text_stream = stream

        def write(text: str) -> object:
            return text_stream.write(text)

    else:
        binary_stream = stream

        def write(text: str) -> object:
            # Strict: the writer already replaced what the encoding cannot hold.
            return binary_stream.write(text.encode(codec))  # type: ignore[arg-type]

    writer = FecWriter(write, encoding=codec)
    writer.header()
    with _snapshot():
        for piece in builder.pieces():
            writer.piece(piece)
    return writer
