"""`levier audit`: the ADV structuring audit of a FEC, or of Levier's own books, to a report.

    levier audit --fec FILE [--answers answers.yaml] [--as-of YYYY-MM-DD] --out report.pdf
                 [--target-dso 43] [--financing-rate 0.05] [--payment-terms 30] [--company NAME]
    levier audit --levier [--as-of YYYY-MM-DD] --out report.html|report.json

The format follows the extension of `--out` (.pdf, .html, .json). The report is written in
French (Levier's first language); the JSON uses kpis.md's names. A progress bar (tqdm, on
stderr) follows the reading of the FEC when stderr is a terminal, or with `--progress`.
Every bad input ends with a message naming the file, line, question or option (exit status
1), never a traceback; the report file is written whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone, translation

from levier.advaudit.benchmarks import format_days, format_euros, format_number
from levier.advaudit.fec.reader import FecUnreadable
from levier.advaudit.questionnaire import Answers, AnswersError, load_answers
from levier.advaudit.report import render_html, render_pdf, report_json
from levier.advaudit.services import (
    AuditError,
    AuditParameters,
    AuditResult,
    audit_fec,
    audit_levier,
)
from levier.audit.choices import Channel
from levier.audit.context import channel

FORMATS = {".pdf": "pdf", ".html": "html", ".htm": "html", ".json": "json"}
REPORT_LANGUAGE = "fr"


def _date(option: str, raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"{option}: not a date (YYYY-MM-DD): {raw!r}") from None


class Command(BaseCommand):
    help = (
        "ADV structuring audit of a FEC (--fec FILE) or of Levier's own data (--levier), "
        "written to --out report.pdf, report.html or report.json."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--fec", default="", help="the FEC file to audit")
        source.add_argument(
            "--levier", action="store_true", help="audit Levier's own books instead of a FEC"
        )
        parser.add_argument("--out", default="", help="report.pdf, report.html or report.json")
        parser.add_argument("--answers", default="", help="questionnaire answers (YAML)")
        parser.add_argument(
            "--as-of", dest="as_of", default="", help="YYYY-MM-DD (FEC: its last entry date)"
        )
        parser.add_argument("--company", default="", help="company name for the cover")
        parser.add_argument("--target-dso", dest="target_dso", default=None, help="days")
        parser.add_argument(
            "--financing-rate", dest="financing_rate", default=None, help="a ratio: 0.05 = 5 %%"
        )
        parser.add_argument(
            "--payment-terms", dest="payment_terms", default=None, help="days (FEC only)"
        )
        parser.add_argument("--rework-hours", dest="rework_hours", default=None)
        parser.add_argument("--hourly-rate", dest="hourly_rate", default=None)
        parser.add_argument("--cost-per-credit-note", dest="cost_per_credit_note", default=None)
        parser.add_argument("--penalty-rate", dest="penalty_rate", default=None)
        parser.add_argument(
            "--progress", action="store_true", help="show the progress bar even without a TTY"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["fec"] and not options["levier"]:
            raise CommandError("give --fec FILE, or --levier to audit Levier's own data")
        out = Path(options["out"]) if options["out"] else None
        if out is None:
            raise CommandError("--out: give the report file (report.pdf, report.html, report.json)")
        kind = FORMATS.get(out.suffix.lower())
        if kind is None:
            raise CommandError(
                f"--out {out}: unknown report format {out.suffix or '(no extension)'!r}; "
                "use .pdf, .html or .json"
            )
        if not out.resolve().parent.is_dir():
            raise CommandError(f"--out {out}: the folder {out.resolve().parent} does not exist")
        as_of = _date("--as-of", options["as_of"]) if options["as_of"] else None
        parameters = self._parameters(options)
        answers = self._answers(options["answers"])
        # The report's texts computed with the figures (the data-quality findings, why a
        # lever does not apply) are in its language too.
        with channel(Channel.CLI), translation.override(REPORT_LANGUAGE):
            result = self._audit(options, as_of, answers, parameters)
            self._write(out, kind, result)
        self.stdout.write(self._summary(out, result))

    def _parameters(self, options: dict[str, Any]) -> AuditParameters:
        names = {
            "target_dso": "target_dso_days",
            "financing_rate": "financing_rate",
            "rework_hours": "rework_hours_per_credit_note",
            "hourly_rate": "loaded_hourly_rate",
            "cost_per_credit_note": "cost_per_credit_note",
            "penalty_rate": "penalty_rate",
        }
        values: dict[str, Any] = {"company_name": options["company"]}
        for option, name in names.items():
            if options[option] is not None:
                values[name] = str(options[option])
        if options["payment_terms"] is not None:
            raw = str(options["payment_terms"]).strip()
            if not raw.isdigit():
                raise CommandError(f"--payment-terms: a whole number of days, not {raw!r}")
            values["payment_terms_days"] = int(raw)
        try:
            return AuditParameters(**values)
        except AuditError as exc:
            raise CommandError(str(exc)) from None

    def _answers(self, raw: str) -> Answers | None:
        if not raw:
            return None
        path = Path(raw)
        if not path.is_file():
            raise CommandError(f"--answers {raw}: no such file")
        try:
            return load_answers(path)
        except AnswersError as exc:
            raise CommandError("\n".join(exc.problems)) from None

    def _progress(self, path: Path, wanted: bool) -> tuple[Callable[[int, int], None] | None, Any]:
        stream = getattr(self.stderr, "_out", sys.stderr)
        if not (wanted or (hasattr(stream, "isatty") and stream.isatty())):
            return None, None
        from tqdm import tqdm

        bar = tqdm(
            total=path.stat().st_size,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=path.name[:40],
            file=stream,
            leave=False,
        )

        def advance(done: int, total: int) -> None:
            if done < bar.n:  # the reader went over the file again (another encoding)
                bar.reset(total=total)
            bar.update(done - bar.n)

        return advance, bar

    def _audit(
        self,
        options: dict[str, Any],
        as_of: dt.date | None,
        answers: Answers | None,
        parameters: AuditParameters,
    ) -> AuditResult:
        try:
            if options["levier"]:
                return audit_levier(
                    as_of=as_of or timezone.localdate(), answers=answers, parameters=parameters
                )
            path = Path(options["fec"])
            if not path.is_file():
                raise CommandError(f"--fec {path}: no such file")
            progress, bar = self._progress(path, options["progress"])
            try:
                return audit_fec(
                    path, answers=answers, as_of=as_of, parameters=parameters, progress=progress
                )
            finally:
                if bar is not None:
                    bar.close()
        except FecUnreadable as exc:
            raise CommandError(str(exc)) from None
        except (AuditError, AnswersError) as exc:
            raise CommandError(str(exc)) from None

    def _write(self, out: Path, kind: str, result: AuditResult) -> None:
        if kind == "json":
            data = json.dumps(report_json(result), ensure_ascii=False, indent=2).encode()
        elif kind == "html":
            data = render_html(result, standalone=True, language=REPORT_LANGUAGE).encode()
        else:
            data = render_pdf(result, language=REPORT_LANGUAGE)
        folder = out.resolve().parent
        try:
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".levier-audit-")
            with os.fdopen(handle, "wb") as sink:
                sink.write(data)
            os.replace(temporary, out)
        except OSError as exc:
            raise CommandError(f"--out {out}: cannot be written ({exc.strerror})") from None

    def _summary(self, out: Path, result: AuditResult) -> str:
        kpis = result.figures.kpis
        dso = kpis.get("dso_simple_365d", kpis.get("dso_simple"))
        overall = result.maturity.overall
        cash = sum(
            (lever.amount or Decimal(0) for lever in result.levers if lever.kind == "one_off_cash"),
            Decimal(0),
        )
        yearly = sum(
            (lever.amount or Decimal(0) for lever in result.levers if lever.kind == "yearly"),
            Decimal(0),
        )
        parts = [
            f"{out} : audit ADV de {result.company_name} au {result.as_of.strftime('%d/%m/%Y')}",
            f"DSO {format_days(Decimal(str(dso))) if dso is not None else 'n/d'}",
            "maturité "
            + (f"{format_number(overall, 1, trim=True)}/100" if overall is not None else "n/d"),
            f"leviers {format_euros(cash)} (trésorerie) et {format_euros(yearly)} par an",
        ]
        if result.quality is not None:
            totals = result.quality.totals
            parts.append(f"{totals.records_excluded} ligne(s) écartée(s) sur {totals.records_read}")
        return " ; ".join(parts)
