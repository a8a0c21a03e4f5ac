"""Finding the invoices a payer quoted in the free text of a transfer.

Banks and payers mangle what they copy: "f2026 000123", "F2026/000123", "RF86 F202 6000 123"
(an RF is printed in groups of four). The text is upper-cased and cut on anything that is not
a letter or a digit, then every run of 1 to 7 consecutive pieces is glued back and looked up;
seven groups of four hold the longest RF (25 characters). At each position the longest run
that names an invoice wins, so "F2026 000123 2026" still finds F2026-000123.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from stdnum import iso11649

MAX_PIECES = 7
# Shorter keys ("123", "A12") turn up by chance in any remittance text (amounts, dates).
MIN_KEY_LENGTH = 5
# How many leading characters of a key the prefix filter remembers: enough to reject the
# words of a remittance ("VIR", "SEPA", "FACTURE") before gluing them to their neighbours.
_PREFIX = 4
_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")
_RF_HEAD = 4  # "RF" and the two check digits


def compact(number: str) -> str:
    """Letters and digits of a document number, upper-case: what a payer's copy keeps."""
    return "".join(ch for ch in number.upper() if ch.isascii() and ch.isalnum())


@dataclass(frozen=True)
class Quote:
    invoice_id: int
    creditor_reference: bool  # an RF with valid check digits, rather than the bare number
    text: str  # as found, glued (for the explanation)


class ReferenceIndex:
    """Invoice numbers and RF payloads → invoice id, with a prefix filter for speed.

    A key two open invoices share (numbers differing only by separators, or long numbers
    whose RF payload is cut at 21 characters) names neither: it maps to None.
    """

    def __init__(self, numbers: Iterable[tuple[int, str]]) -> None:
        self.numbers: dict[str, int | None] = {}
        self.payloads: dict[str, int | None] = {}
        for invoice_id, number in numbers:
            key = compact(number)
            if len(key) < MIN_KEY_LENGTH:
                continue
            for table, value in ((self.numbers, key), (self.payloads, key[:21])):
                table[value] = None if value in table else invoice_id
        self.prefixes = {key[:n] for key in self.numbers for n in range(1, _PREFIX + 1)}
        self.payload_prefixes = {key[:n] for key in self.payloads for n in range(1, _PREFIX + 1)}
        self.longest = max((len(k) for k in self.numbers), default=0)

    def find(self, text: str) -> list[Quote]:
        """The invoices quoted in `text`, in the order quoted, each once."""
        pieces = [p for p in _NOT_ALNUM.split(text.upper()) if p]
        found: list[Quote] = []
        seen: set[int] = set()
        start = 0
        while start < len(pieces):
            hit, end = self._longest_at(pieces, start)
            if hit is None:
                start += 1
                continue
            if hit.invoice_id not in seen:
                seen.add(hit.invoice_id)
                found.append(hit)
            start = end + 1
        return found

    def _longest_at(self, pieces: list[str], start: int) -> tuple[Quote | None, int]:
        best: tuple[Quote | None, int] = (None, start)
        first = pieces[start]
        as_number = first[:_PREFIX] in self.prefixes
        as_rf = first.startswith("RF")
        if not (as_number or as_rf):
            return best
        run = ""
        for end in range(start, min(start + MAX_PIECES, len(pieces))):
            run += pieces[end]
            if len(run) > self.longest + _RF_HEAD:
                break
            if as_number and len(run) <= self.longest:
                invoice_id = self.numbers.get(run)
                if invoice_id is not None:
                    best = (Quote(invoice_id, False, run), end)
            if as_rf and len(run) > _RF_HEAD:
                payload = run[_RF_HEAD:]
                if payload[:_PREFIX] not in self.payload_prefixes:
                    as_rf = False
                    continue
                invoice_id = self.payloads.get(payload)
                if invoice_id is not None and iso11649.is_valid(run):
                    best = (Quote(invoice_id, True, run), end)
            if as_number and run[:_PREFIX] not in self.prefixes:
                as_number = False
            if not (as_number or as_rf):
                break
        return best
