"""The 18 columns of a FEC file (A47 A-1 LPF), one piece at a time.

Format (formats.md §5): a header line of the field names; tab-separated; dates AAAAMMJJ;
amounts with a decimal comma, two decimals, no thousands separator; CRLF at the end of every
record. The official character set is ISO-8859-15: a character it cannot hold (a curly
apostrophe, a Polish ł) is replaced — by its plain look-alike when there is one, else by
"?" — and counted, so the file can always be written and the count says what changed.

The writer numbers pieces per journal in the order it receives them (`VE000001`…) and
refuses a piece whose debits and credits differ: the builder must never produce one, and a
FEC with an unbalanced entry would be rejected by the tax administration's tools.
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal

from django.utils.translation import gettext as _

from levier.integrations.fec.entries import EntryLine, Piece
from levier.integrations.fec.errors import UnbalancedPiece
from levier.lib.money import ZERO, quantize

COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)
SEPARATOR = "\t"
END_OF_RECORD = "\r\n"
NUMBER_DIGITS = 6
MAX_DETAILED_WARNINGS = 50
CACHE_SIZE = 50_000

# Look-alikes for the characters French text often has and ISO-8859-15 lacks.
PLAIN = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u202f": " ",
    "\u2009": " ",
    "\u2002": " ",
    "\u2003": " ",
}


@functools.lru_cache(maxsize=4096)
def format_date(day: dt.date | None) -> str:
    """AAAAMMJJ; cached, since a file has a few hundred distinct dates for many lines."""
    return "" if day is None else f"{day:%Y%m%d}"


def format_amount(amount: Decimal | None) -> str:
    """1234.5 → "1234,50"; the sign, if any, first; `+ ZERO` keeps -0.00 from printing "-"."""
    if amount is None:
        return ""
    return f"{quantize(amount) + ZERO:.2f}".replace(".", ",")


class Charset:
    """Makes text fit the file's encoding, counting what it had to replace."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.replaced = 0
        self.warnings: list[str] = []
        self._seen: set[tuple[str, str]] = set()
        self._cache: dict[str, str] = {}
        self._clean: dict[str, str] = {}

    def _fits(self, text: str) -> bool:
        try:
            text.encode(self.encoding)
        except UnicodeEncodeError:
            return False
        return True

    def _substitute(self, char: str) -> str:
        if char in self._cache:
            return self._cache[char]
        plain = PLAIN.get(char)
        if plain is None:
            decomposed = unicodedata.normalize("NFKD", char)
            plain = "".join(c for c in decomposed if not unicodedata.combining(c))
        if not plain or not self._fits(plain):
            plain = "?"
        self._cache[char] = plain
        return plain

    def clean(self, text: str, where: str) -> str:
        # Labels, accounts and names repeat on most lines: each distinct text is checked once.
        known = self._clean.get(text)
        if known is not None:
            return known
        raw = text
        # One line per record: tabs and line breaks inside a field become single spaces.
        text = " ".join(text.split())
        if self._fits(text):
            if len(self._clean) < CACHE_SIZE:
                self._clean[raw] = text
            return text
        out = []
        for char in text:
            if self._fits(char):
                out.append(char)
                continue
            plain = self._substitute(char)
            out.append(plain)
            self.replaced += 1
            if (where, char) not in self._seen:
                self._seen.add((where, char))
                self.warnings.append(
                    _(
                        "%(where)s: “%(char)s” (U+%(code)04X) is not in %(encoding)s, written “%(plain)s”"
                    )
                    % {
                        "where": where,
                        "char": char,
                        "code": ord(char),
                        "encoding": self.encoding,
                        "plain": plain,
                    }
                )
        return "".join(out)


class FecWriter:
    """Writes the header, then pieces; keeps the counts and totals of the result."""

    def __init__(self, write: Callable[[str], object], *, encoding: str) -> None:
        self._write = write
        self.charset = Charset(encoding)
        self.numbers: Counter[str] = Counter()
        self.lines: Counter[str] = Counter()
        self.total_debit = ZERO
        self.total_credit = ZERO
        self.balances: dict[str, Decimal] = defaultdict(lambda: ZERO)
        self.journal_labels: dict[str, str] = {}

    def header(self) -> None:
        self._write(SEPARATOR.join(COLUMNS) + END_OF_RECORD)

    def piece(self, piece: Piece) -> str:
        """Write one piece, numbered next in its journal; returns its EcritureNum."""
        self._check(piece)
        self.numbers[piece.journal] += 1
        number = f"{piece.journal}{self.numbers[piece.journal]:0{NUMBER_DIGITS}d}"
        # One label per journal code in the whole file, the first one met.
        journal_label = self.journal_labels.setdefault(piece.journal, piece.journal_label)
        where = piece.ref
        for line in piece.lines:
            self._record(piece, number, journal_label, line, where)
        return number

    def _check(self, piece: Piece) -> None:
        for line in piece.lines:
            if line.debit < 0 or line.credit < 0 or (line.debit and line.credit):
                raise UnbalancedPiece(
                    _("%(ref)s: account %(account)s has debit %(debit)s and credit %(credit)s")
                    % {
                        "ref": piece.ref,
                        "account": line.account,
                        "debit": line.debit,
                        "credit": line.credit,
                    }
                )
        if not piece.lines or piece.debit != piece.credit:
            raise UnbalancedPiece(
                _(
                    "%(ref)s (%(journal)s, %(date)s) is not balanced: debit %(debit)s, credit %(credit)s"
                )
                % {
                    "ref": piece.ref,
                    "journal": piece.journal,
                    "date": piece.date.isoformat(),
                    "debit": piece.debit,
                    "credit": piece.credit,
                }
            )

    def _record(
        self, piece: Piece, number: str, journal_label: str, line: EntryLine, where: str
    ) -> None:
        clean = self.charset.clean
        fields = (
            clean(piece.journal, where),
            clean(journal_label, where),
            number,
            format_date(piece.date),
            clean(line.account, where),
            clean(line.account_label, where),
            clean(line.aux_num, where),
            clean(line.aux_label, where),
            clean(piece.ref, where),
            format_date(piece.ref_date),
            clean(line.label, where),
            format_amount(line.debit),
            format_amount(line.credit),
            clean(line.letter, where),
            format_date(line.letter_date),
            # Documents are validated when issued, payments when recorded: the entry date.
            format_date(piece.date),
            format_amount(line.currency_amount),
            clean(line.currency, where),
        )
        self._write(SEPARATOR.join(fields) + END_OF_RECORD)
        self.lines[piece.journal] += 1
        self.total_debit += line.debit
        self.total_credit += line.credit
        self.balances[line.account] += line.debit - line.credit

    @property
    def warnings(self) -> list[str]:
        shown = self.charset.warnings[:MAX_DETAILED_WARNINGS]
        hidden = len(self.charset.warnings) - len(shown)
        if hidden > 0:
            shown.append(_("… and %(count)d more replaced characters") % {"count": hidden})
        return shown
