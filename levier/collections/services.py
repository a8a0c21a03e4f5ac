"""Bank statements in: the only code that writes statement files and bank transactions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.db import transaction

from levier.accounts.models import User
from levier.accounts.permissions import Action, can, require
from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.collections.matching import match_payments
from levier.collections.models import BankTransaction, StatementFile
from levier.collections.payments import create_payments_for_transactions
from levier.collections.statements.detect import parse_statement_file
from levier.collections.statements.keys import fingerprints

MAX_FILE_BYTES = 20_000_000


@dataclass
class ImportReport:
    """What became of one file; `error` is set (and nothing imported) when it was refused."""

    file: str
    format: str = ""
    statements: int = 0
    lines_imported: int = 0
    lines_already_known: int = 0
    payments: int = 0
    # What the matcher did with the new payments (levier.collections.matching).
    matched_automatically: int = 0
    proposals: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "format": self.format,
            "statements": self.statements,
            "lines_imported": self.lines_imported,
            "lines_already_known": self.lines_already_known,
            "payments": self.payments,
            "matched_automatically": self.matched_automatically,
            "proposals": self.proposals,
            "warnings": self.warnings,
            "error": self.error or None,
        }


@transaction.atomic
def import_statement_file(*, actor: User, data: bytes, filename: str) -> ImportReport:
    """Read, check and store a statement file: all of it, or nothing (StatementError).

    The same file again (same SHA-256) imports nothing; a line already imported from an
    overlapping file (same fingerprint) is counted as known, not imported twice.
    """
    from levier.collections.statements.model import StatementError

    require(actor, Action.IMPORT_BANK_STATEMENTS)
    if len(data) > MAX_FILE_BYTES:
        raise StatementError("the file is larger than 20 MB", where=filename)
    digest = hashlib.sha256(data).hexdigest()
    fmt, statements = parse_statement_file(data, filename)
    report = ImportReport(file=filename, format=fmt, statements=len(statements))
    for statement in statements:
        report.warnings += list(statement.warnings)
    known_file = StatementFile.objects.filter(sha256=digest).first()
    total = sum(len(s.lines) for s in statements)
    if known_file is not None:
        report.lines_already_known = total
        report.warnings.append(f"already imported on {known_file.imported_at:%d/%m/%Y}")
        return report
    stored = StatementFile.objects.create(
        filename=filename[:255],
        sha256=digest,
        format=fmt,
        size=len(data),
        statements=len(statements),
        warnings=report.warnings,
        imported_by=actor,
    )
    rows = []
    keys_in_file: set[str] = set()
    for statement in statements:
        for line, key in zip(statement.lines, fingerprints(statement), strict=True):
            if key in keys_in_file:  # the same statement twice in one file
                continue
            keys_in_file.add(key)
            rows.append((key, statement, line))
    known = set(
        BankTransaction.objects.filter(fingerprint__in=[k for k, _s, _l in rows]).values_list(
            "fingerprint", flat=True
        )
    )
    new = [
        BankTransaction(
            file=stored,
            account_iban=statement.account_iban[:34],
            booking_date=line.booking_date,
            value_date=line.value_date,
            amount=line.amount,
            currency=line.currency,
            label=line.label[:500],
            remittance=line.remittance,
            reference=line.reference[:64],
            counterparty_name=line.counterparty_name[:200],
            counterparty_iban=line.counterparty_iban[:34],
            bank_reference=line.bank_reference[:100],
            end_to_end_id=line.end_to_end_id[:100],
            fingerprint=key,
        )
        for key, statement, line in rows
        if key not in known
    ]
    BankTransaction.objects.bulk_create(new, batch_size=1000)
    # Credit lines become payments (PostgreSQL and SQLite return the new ids).
    payments = create_payments_for_transactions(actor=actor, lines=new)
    report.payments = len(payments)
    report.lines_imported = len(new)
    report.lines_already_known = total - len(new)
    stored.lines_imported, stored.lines_already_known = (
        report.lines_imported,
        (report.lines_already_known),
    )
    stored.save(update_fields=["lines_imported", "lines_already_known"])
    record_event(
        actor=actor,
        verb=Verb.IMPORT,
        instance=stored,
        changes={"format": fmt, "lines": report.lines_imported, "sha256": digest},
    )
    # The new payments are matched at once, in the import's transaction; an importer who
    # may not match leaves them to someone who may (`levier match-payments`).
    if payments and can(actor, Action.MATCH_PAYMENTS):
        matched = match_payments(actor=actor, payment_ids=[p.pk for p in payments])
        report.matched_automatically = matched.matched_automatically
        report.proposals = matched.proposals
    return report
