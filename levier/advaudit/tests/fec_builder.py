"""A tiny API to write FEC files in tests: entries in, text or a file out.

    fec = FecBuilder()
    fec.entry("VE", "VE1", "20251001",
              ("411000", "1200,00", "", {"CompAuxNum": "CA", "EcritureLet": "AA"}),
              ("706000", "", "1000,00"),
              ("445710", "", "200,00"))
    path = fec.write(tmp_path / "123456789FEC20251231.txt", separator="|", line_ending="\\r\\n",
                     encoding="iso8859_15", bom=False)

Each record is a dict of column → text; missing columns are empty. `raw()` adds a line
written as is (a malformed one), `blank()` an empty line. The line number of the record
just added is `fec.last_line` (1 = header), so tests can name the lines they expect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from levier.advaudit.fec.columns import STANDARD_NAMES


def fec_amount(value: Decimal | int | str) -> str:
    """A Decimal as the FEC writes it: sign first, decimal comma, two decimals."""
    if isinstance(value, str):
        return value
    return f"{Decimal(value):.2f}".replace(".", ",")


class FecBuilder:
    def __init__(self, columns: Sequence[str] = STANDARD_NAMES) -> None:
        self.columns = list(columns)
        self.rows: list[dict[str, str] | str] = []

    @property
    def last_line(self) -> int:
        return len(self.rows) + 1

    def line(self, **fields: Any) -> FecBuilder:
        """One record; keyword names are the FEC column names (JournalCode=...)."""
        self.rows.append({name: str(value) for name, value in fields.items()})
        return self

    def entry(
        self,
        journal: str,
        number: str,
        date: str,
        *lines: tuple[str, Any, Any] | tuple[str, Any, Any, Mapping[str, Any]],
        **common: Any,
    ) -> FecBuilder:
        """A piece: (account, debit, credit[, other fields]) per line, sharing the journal,
        number, date and `common` fields; an empty debit or credit is written 0,00."""
        for spec in lines:
            account, debit, credit = spec[0], spec[1], spec[2]
            extra = dict(spec[3]) if len(spec) > 3 else {}  # type: ignore[misc]
            fields = {
                "JournalCode": journal,
                "JournalLib": journal,
                "EcritureNum": number,
                "EcritureDate": date,
                "CompteNum": account,
                "CompteLib": f"Compte {account}",
                "PieceRef": number,
                "EcritureLib": f"{journal} {number}",
                "Debit": fec_amount(debit) if debit not in ("", None) else "0,00",
                "Credit": fec_amount(credit) if credit not in ("", None) else "0,00",
                "ValidDate": date,
                **common,
                **extra,
            }
            self.line(**fields)
        return self

    def raw(self, text: str) -> FecBuilder:
        self.rows.append(text)
        return self

    def blank(self) -> FecBuilder:
        return self.raw("")

    def text(
        self,
        *,
        separator: str = "\t",
        line_ending: str = "\n",
        header: Iterable[str] | None = None,
        pad: int = 0,
        final_line_ending: bool = True,
    ) -> str:
        """The file's text; `pad` right-pads every field with spaces to that width."""
        names = list(header) if header is not None else self.columns

        def field(value: str) -> str:
            return value.ljust(pad) if pad else value

        lines = [separator.join(field(name) for name in names)]
        for row in self.rows:
            if isinstance(row, str):
                lines.append(row)
            else:
                lines.append(separator.join(field(row.get(name, "")) for name in self.columns))
        return line_ending.join(lines) + (line_ending if final_line_ending else "")

    def write(
        self,
        path: Path,
        *,
        encoding: str = "utf-8",
        bom: bool = False,
        **text_options: Any,
    ) -> Path:
        data = self.text(**text_options).encode(encoding)
        if bom:
            data = b"\xef\xbb\xbf" + data
        path.write_bytes(data)
        return path
