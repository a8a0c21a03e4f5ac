"""Customer CSV import: decoding, header checks, per-row validation and the write.

Files come from spreadsheets, so they are UTF-8 (with or without BOM) or Windows-1252, use
`;` (French Excel) or `,`, and write decimals with a comma. Every problem is reported with
its line and column so the user can fix the file; nothing here raises on bad input.
Messages are in the language active during the import (the request's); column names stay
the CSV's own, since they are what the user has to find in the file.
The columns are documented in docs/customers-import.md.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext

from levier.accounts.permissions import Action, can, denial_message
from levier.audit.choices import Verb
from levier.audit.services import record_event, snapshot
from levier.customers.matching import CERTAINTY_LABELS, DuplicateIndex
from levier.customers.models import Contact, Customer
from levier.customers.services import CREDIT_TERMS_DEFAULTS, changed_credit_terms
from levier.customers.validation import clean_contact, clean_customer
from levier.lib.errors import ValidationFailed

if TYPE_CHECKING:
    from levier.accounts.models import User

CUSTOMER_COLUMNS = (
    "name",
    "trade_name",
    "siren",
    "siret",
    "vat_number",
    "address_line1",
    "address_line2",
    "postcode",
    "city",
    "country",
    "payment_terms_days",
    "payment_terms_basis",
    "invoice_channel",
    "po_number_required",
    "credit_limit",
    "is_strategic",
    "iban",
    "bic",
    "segment",
)
CONTACT_COLUMNS = ("contact_first_name", "contact_last_name", "contact_email", "contact_phone")
COLUMNS = CUSTOMER_COLUMNS + CONTACT_COLUMNS
REQUIRED_COLUMNS = ("name", "siren")
MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str  # a CSV column name, or "" when the problem is the whole row
    message: str

    def __str__(self) -> str:
        values = {"line": self.line, "column": self.column, "problem": self.message}
        if self.column:
            return gettext("line %(line)s, column %(column)s: %(problem)s") % values
        return gettext("line %(line)s: %(problem)s") % values


@dataclass
class ImportReport:
    """What an import did, or would do (dry run): one entry per rejected row and column."""

    encoding: str = ""
    delimiter: str = ""
    rows: int = 0
    file_errors: list[str] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    valid_lines: list[int] = field(default_factory=list)
    imported_ids: list[int] = field(default_factory=list)
    dry_run: bool = False
    skip_invalid: bool = False

    @property
    def rejected_lines(self) -> list[int]:
        return sorted({p.line for p in self.problems})

    @property
    def ok(self) -> bool:
        """True when every row was valid (whatever the mode)."""
        return not self.file_errors and not self.problems

    @property
    def imported(self) -> int:
        return len(self.imported_ids)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "rows": self.rows,
            "imported": self.imported,
            "imported_ids": self.imported_ids,
            "rejected_lines": self.rejected_lines,
            "file_errors": self.file_errors,
            "problems": [
                {"line": p.line, "column": p.column, "message": p.message} for p in self.problems
            ],
        }


@dataclass
class _Row:
    line: int
    customer: dict[str, Any]
    contact: dict[str, Any] | None


def decode(raw: bytes) -> tuple[str, str]:
    """Text and encoding name: UTF-8 (BOM stripped) first, then Windows-1252."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return raw.decode("cp1252"), "cp1252"  # may raise UnicodeDecodeError: caller reports it


def sniff_delimiter(header_line: str) -> str:
    """`;` or `,`: whichever splits the header line into more columns."""
    return ";" if header_line.count(";") >= header_line.count(",") and ";" in header_line else ","


def _read_bytes(file: IO[bytes] | bytes) -> bytes:
    if isinstance(file, bytes | bytearray):
        return bytes(file)
    data = file.read(MAX_BYTES + 1)
    return data if isinstance(data, bytes) else str(data).encode("utf-8")


def parse(file: IO[bytes] | bytes, report: ImportReport) -> list[_Row]:
    """Decode and split the file into rows; header and encoding problems go to `report`."""
    raw = _read_bytes(file)
    if len(raw) > MAX_BYTES:
        report.file_errors.append(
            gettext("file: larger than %(size)s MB") % {"size": MAX_BYTES // (1024 * 1024)}
        )
        return []
    try:
        text, report.encoding = decode(raw)
    except UnicodeDecodeError:
        report.file_errors.append(gettext("file: encoding is neither UTF-8 nor Windows-1252"))
        return []
    if "\x00" in text:
        report.file_errors.append(gettext("file: contains NUL bytes, not a CSV text file"))
        return []
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        report.file_errors.append(gettext("file: empty, or the first line (the header) is blank"))
        return []
    report.delimiter = sniff_delimiter(first_line)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=report.delimiter)
        header = [h.strip().lower() for h in next(reader)]
        unknown = [h for h in header if h not in COLUMNS]
        if unknown:
            report.file_errors.append(
                gettext("header: unknown column(s) %(unknown)s; expected columns are %(expected)s")
                % {"unknown": ", ".join(repr(h) for h in unknown), "expected": ", ".join(COLUMNS)}
            )
        missing = [h for h in REQUIRED_COLUMNS if h not in header]
        if missing:
            report.file_errors.append(
                gettext("header: missing required column(s) %(columns)s")
                % {"columns": ", ".join(missing)}
            )
        repeated = sorted({h for h in header if header.count(h) > 1})
        if repeated:
            report.file_errors.append(
                gettext("header: repeated column(s) %(columns)s") % {"columns": ", ".join(repeated)}
            )
        if report.file_errors:
            return []
        rows: list[_Row] = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            line = reader.line_num
            report.rows += 1
            if report.rows > MAX_ROWS:
                report.file_errors.append(
                    gettext("file: more than %(max)s rows; split it") % {"max": MAX_ROWS}
                )
                return []
            if len(values) != len(header):
                report.problems.append(
                    RowProblem(
                        line,
                        "",
                        gettext("%(values)s values for %(columns)s columns")
                        % {"values": len(values), "columns": len(header)},
                    )
                )
                continue
            record = dict(zip(header, (v.strip() for v in values), strict=True))
            customer = {k: v for k, v in record.items() if k in CUSTOMER_COLUMNS}
            contact_values = {k[len("contact_") :]: record.get(k, "") for k in CONTACT_COLUMNS}
            contact = contact_values if any(contact_values.values()) else None
            rows.append(_Row(line, customer, contact))
    except csv.Error as exc:
        report.file_errors.append(gettext("file: not readable as CSV (%(error)s)") % {"error": exc})
        return []
    return rows


def _check(rows: list[_Row], report: ImportReport, actor: User | None) -> list[_Row]:
    """Validate each row and look for duplicates in the file and in the database.

    The database is read with two queries for the whole file (existing customers with one of
    its SIRENs, and with one of its postcodes), then every row is matched in memory.
    """
    may_set_terms = can(actor, Action.EDIT_CREDIT_TERMS)
    checked: list[tuple[_Row, list[RowProblem]]] = []
    for row in rows:
        problems: list[RowProblem] = []
        try:
            row.customer = clean_customer(row.customer)
        except ValidationFailed as exc:
            problems += _problems(row.line, exc.errors, "")
        else:
            if not may_set_terms:
                problems += _credit_terms_problems(row, actor)
        if row.contact is not None:
            try:
                row.contact = clean_contact(row.contact)
            except ValidationFailed as exc:
                problems += _problems(row.line, exc.errors, "contact_")
        checked.append((row, problems))
    clean_rows = [row for row, problems in checked if not problems]
    index = DuplicateIndex.load(
        [row.customer["siren"] for row in clean_rows],
        [row.customer["postcode"] for row in clean_rows],
    )
    valid: list[_Row] = []
    seen_siren: dict[str, int] = {}
    seen_name: dict[tuple[str, str], int] = {}
    for row, problems in checked:
        if not problems:
            problems += _duplicates(row, seen_siren, seen_name, index)
        if problems:
            report.problems += problems
        else:
            valid.append(row)
    report.valid_lines = [r.line for r in valid]
    return valid


def _credit_terms_problems(row: _Row, actor: User | None) -> list[RowProblem]:
    """Terms, credit limit or strategic flag other than the defaults, set by a role that may
    not (`EDIT_CREDIT_TERMS`): the row is rejected, one problem per such column."""
    refusal = denial_message(actor, Action.EDIT_CREDIT_TERMS)
    return [
        RowProblem(row.line, name, refusal)
        for name in changed_credit_terms(row.customer, CREDIT_TERMS_DEFAULTS)
    ]


def _problems(line: int, errors: dict[str, list[str]], prefix: str) -> list[RowProblem]:
    out = []
    for fname, messages in errors.items():
        column = f"{prefix}{fname}" if f"{prefix}{fname}" in COLUMNS else ""
        out += [RowProblem(line, column, m) for m in messages]
    return out


def _duplicates(
    row: _Row,
    seen_siren: dict[str, int],
    seen_name: dict[tuple[str, str], int],
    index: DuplicateIndex,
) -> list[RowProblem]:
    values = row.customer
    siren, key = values["siren"], (values["search_name"], values["postcode"])
    if siren and siren in seen_siren:
        return [
            RowProblem(
                row.line,
                "siren",
                gettext("duplicate: same SIREN as line %(line)s") % {"line": seen_siren[siren]},
            )
        ]
    if key[0] and key[1] and key in seen_name:
        return [
            RowProblem(
                row.line,
                "name",
                gettext("duplicate: same name and postcode as line %(line)s")
                % {"line": seen_name[key]},
            )
        ]
    if siren:
        seen_siren[siren] = row.line
    seen_name.setdefault(key, row.line)
    problems = []
    for cand in index.find(values):
        column = "siren" if cand.certainty == "certain" else "name"
        problems.append(
            RowProblem(
                row.line,
                column,
                gettext(
                    "duplicate of existing customer #%(id)s %(name)s (%(certainty)s: %(reason)s)"
                )
                % {
                    "id": cand.customer.pk,
                    "name": cand.customer.name,
                    "certainty": CERTAINTY_LABELS[cand.certainty],
                    "reason": cand.reason,
                },
            )
        )
    return problems


def run_import(
    *, actor: User | None, file: IO[bytes] | bytes, skip_invalid: bool, dry_run: bool
) -> ImportReport:
    """Body of `services.import_customers` (which checks the permission)."""
    report = ImportReport(dry_run=dry_run, skip_invalid=skip_invalid)
    rows = parse(file, report)
    if report.file_errors:
        return report
    if dry_run:
        _check(rows, report, actor)
        return report
    # The duplicate check runs in the transaction that writes, against what is committed now,
    # not against what the preview saw.
    with transaction.atomic():
        valid = _check(rows, report, actor)
        if (report.problems and not skip_invalid) or not valid:
            return report
        for row in valid:
            customer = Customer.objects.create(**row.customer)
            record_event(
                actor=actor, verb=Verb.IMPORT, instance=customer, changes=snapshot(customer)
            )
            if row.contact is not None:
                contact = Contact.objects.create(
                    customer=customer, is_purchasing=True, is_accounts_payable=True, **_contact(row)
                )
                record_event(
                    actor=actor,
                    verb=Verb.IMPORT,
                    instance=contact,
                    changes=snapshot(contact),
                    comment=f"contact of customer #{customer.pk}",
                )
            report.imported_ids.append(customer.pk)
    return report


def _contact(row: _Row) -> dict[str, Any]:
    assert row.contact is not None
    return {k: v for k, v in row.contact.items() if not k.startswith("is_")}
