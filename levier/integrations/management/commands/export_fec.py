"""`levier export-fec --from YYYY-MM-DD --to YYYY-MM-DD --out FILE_OR_DIR [--accounts FILE]`.

Levier's own books over the period as a FEC file (sales, bank, cut-off and opening
entries): what `docs/operations/fec-export.md` describes. With a folder for `--out`, the
file is named `<SIREN>FEC<AAAAMMJJ>.txt` after the company's SIREN and the `--to` date.
"""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from levier.integrations.fec import FecExportError, export_fec, load_account_plan
from levier.integrations.fec.export import DEFAULT_ENCODING


def _date(option: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            _("%(option)s: “%(value)s” is not a date in the YYYY-MM-DD format")
            % {"option": option, "value": value}
        ) from None


class Command(BaseCommand):
    help = (
        "Export Levier's own books over a period as a FEC file (Fichier des Écritures "
        "Comptables): sales, bank, cut-off and opening entries."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD")
        parser.add_argument(
            "--out", required=True, help="file to write, or a folder (SIRENFECAAAAMMJJ.txt)"
        )
        parser.add_argument(
            "--accounts", help="YAML account plan over the LEVIER_FEC_ACCOUNTS setting"
        )
        parser.add_argument(
            "--encoding",
            default=DEFAULT_ENCODING,
            help="iso-8859-15 (default, the official set) or utf-8",
        )
        parser.add_argument(
            "--no-opening",
            action="store_true",
            help="leave out the opening balances (AN journal) at --from",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        date_from = _date("--from", options["date_from"])
        date_to = _date("--to", options["date_to"])
        if date_from > date_to:
            raise CommandError(
                _("--from (%(start)s) is after --to (%(end)s)")
                % {"start": date_from.isoformat(), "end": date_to.isoformat()}
            )
        try:
            plan = load_account_plan(Path(options["accounts"]) if options["accounts"] else None)
            result = export_fec(
                date_from=date_from,
                date_to=date_to,
                out=Path(options["out"]).expanduser(),
                accounts=plan,
                encoding=options["encoding"],
                opening_balances=not options["no_opening"],
            )
        except FecExportError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(
                _("--out: cannot write “%(path)s” (%(reason)s)")
                % {"path": options["out"], "reason": exc.strerror or exc}
            ) from None
        for warning in result.warnings:
            self.stderr.write(warning)
        self.stdout.write(
            _("%(path)s: FEC from %(start)s to %(end)s (%(encoding)s)")
            % {
                "path": result.path,
                "start": date_from.isoformat(),
                "end": date_to.isoformat(),
                "encoding": result.encoding,
            }
        )
        for journal, pieces in result.pieces.items():
            self.stdout.write(
                _("  %(journal)s: %(pieces)d piece(s), %(lines)d line(s)")
                % {"journal": journal, "pieces": pieces, "lines": result.lines[journal]}
            )
        self.stdout.write(
            _("  total debit %(debit)s, total credit %(credit)s; customers (411) %(ar)s")
            % {
                "debit": f"{result.total_debit:.2f}",
                "credit": f"{result.total_credit:.2f}",
                "ar": f"{result.receivables:.2f}",
            }
        )
        if result.replaced_characters:
            self.stdout.write(
                _("  %(count)d character(s) not in %(encoding)s replaced (see the warnings)")
                % {"count": result.replaced_characters, "encoding": result.encoding}
            )
