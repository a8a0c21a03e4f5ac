"""FEC audit: generate a realistic FEC of N lines, then time `load_fec` + `compute_fec_figures`.

    python bench/fec_audit.py [--lines 1000000] [--customers 5000] [--encoding iso8859_15]
                              [--padded] [--keep]

The file (not timed) is one fiscal year, 2025, of a service company, written as French
accounting software writes it: tab-separated, CRLF, ISO-8859-15 by default, journals one
after the other, each in date order, continuous numbering per journal:
- AN: opening entries on 01/01 (customers' and suppliers' balances, bank, capital);
- VE: invoices (D 411 TTC with the customer as auxiliary account / C 706 HT / C 44571 VAT,
  a tenth with two VAT rates), credit notes (~3 %, reversed), the year-end FAE
  (D 4181 / C 706 / C 44587) and PCA (D 706 / C 487);
- BQ: customer receipts (D 512 / C 411), lettered with their invoice (letters AAA, AAB…
  per customer, DateLet = the payment date), one in eight invoices paid in two partial
  payments, ~8 % unpaid at the year end (no letter); supplier payments;
- HA: purchases (D 6xx / D 44566 / C 401); OD: payroll entries.
`--padded` writes it as some software does instead: `|`-separated fixed-width fields padded
with spaces, amounts zero-padded to 13 characters (the slower path of the reader: fields
are trimmed).
Timed in a fresh process: `load_fec`, `compute_fec_figures`, `json.dumps` of both JSONs;
peak memory is that process's `ru_maxrss`. The load average is read before and after.
Target: the whole under 30 s and 2 GiB on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
YEAR_START = dt.date(2025, 1, 1)
YEAR_END = dt.date(2025, 12, 31)
SIREN = "732829320"
HEADER = (
    "JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\t"
    "CompAuxLib\tPieceRef\tPieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\t"
    "ValidDate\tMontantdevise\tIdevise"
)
NAMES = (
    "Société Générale d'Études",
    "Hôtel Bellevue",
    "Crèmerie Dupré",
    "Bâtiments Lefèvre",
    "Café de l'Océan",
    "Électricité Martin",
    "Forêts & Jardins",
    "Pâtisserie Noël",
)


def amount(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100},{cents % 100:02d}"


def ymd(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def letter(index: int) -> str:
    text = ""
    for _ in range(3):
        index, rest = divmod(index, 26)
        text = chr(65 + rest) + text
    return text


def line(
    journal: str,
    number: str,
    day: dt.date,
    account: str,
    account_label: str,
    debit: int,
    credit: int,
    *,
    aux: str = "",
    aux_label: str = "",
    ref: str = "",
    label: str = "",
    let: str = "",
    let_date: dt.date | None = None,
) -> str:
    journal_label = {
        "AN": "A nouveaux",
        "VE": "Ventes",
        "BQ": "Banque",
        "HA": "Achats",
        "OD": "Opérations diverses",
    }[journal]
    return "\t".join(
        (
            journal,
            journal_label,
            number,
            ymd(day),
            account,
            account_label,
            aux,
            aux_label,
            ref,
            ymd(day),
            label,
            amount(debit),
            amount(credit),
            let,
            ymd(let_date) if let_date else "",
            ymd(min(day + dt.timedelta(days=3), YEAR_END)),
            "",
            "",
        )
    )


# Widths of the fields in the padded layout (as in a real export of that kind).
PADDED_WIDTHS = (4, 20, 8, 8, 8, 28, 8, 33, 8, 8, 28, 13, 13, 3, 8, 8, 0, 0)


def padded(record: str) -> str:
    fields = record.split("\t")
    for index in (11, 12):
        fields[index] = fields[index].rjust(13, "0")
    return "|".join(field.ljust(width) for field, width in zip(fields, PADDED_WIDTHS, strict=True))


def generate(
    path: Path, target_lines: int, customers: int, encoding: str, pad: bool = False
) -> dict[str, int]:
    rng = random.Random(2025)
    days = (YEAR_END - YEAR_START).days + 1
    codes = [f"C{index:05d}" for index in range(1, customers + 1)]
    labels = [f"{NAMES[index % len(NAMES)]} {index}" for index in range(1, customers + 1)]
    letters_used = [0] * customers
    # Pieces per journal as (date, lines) before numbering; numbers are given in date order.
    pieces: dict[str, list[tuple[dt.date, list[tuple[object, ...]]]]] = {
        "VE": [],
        "BQ": [],
        "HA": [],
        "OD": [],
    }
    count = 0
    # Opening entries: a third of the customers owe something, settled in January.
    opening: list[tuple[object, ...]] = []
    opening_total = 0
    for index in rng.sample(range(customers), customers // 3):
        due = rng.randint(10_000, 500_000)
        opening_total += due
        paid_on = YEAR_START + dt.timedelta(days=rng.randint(5, 40))
        let = letter(letters_used[index])
        letters_used[index] += 1
        opening.append(("411000", "Clients", due, 0, index, let, paid_on, "Report à nouveau"))
        pieces["BQ"].append(
            (
                paid_on,
                [
                    ("512000", "Banque", due, 0, None, "", None, f"Règlement {codes[index]}"),
                    ("411000", "Clients", 0, due, index, let, paid_on, f"Règlement {codes[index]}"),
                ],
            )
        )
    opening.append(("512000", "Banque", 25_000_000, 0, None, "", None, "Report à nouveau"))
    opening.append(("401000", "Fournisseurs", 0, 8_000_000, None, "", None, "Report à nouveau"))
    opening.append(
        ("101000", "Capital", 0, opening_total + 17_000_000, None, "", None, "Report à nouveau")
    )
    count += len(opening) + 2 * (customers // 3)
    invoice_number = 0
    while count < target_lines:
        roll = rng.random()
        day = YEAR_START + dt.timedelta(days=rng.randrange(days))
        if roll < 0.45:  # an invoice (and its payments)
            index = rng.randrange(customers)
            invoice_number += 1
            ref = f"F{invoice_number:07d}"
            ht = rng.randint(5_000, 2_000_000)
            two_rates = rng.random() < 0.1
            ht_reduced = ht // 3 if two_rates else 0
            vat = (ht - ht_reduced) * 20 // 100 + ht_reduced * 10 // 100
            ttc = ht + vat
            delay = int(rng.expovariate(1 / 35))
            paid_on = day + dt.timedelta(days=delay)
            unpaid = rng.random() < 0.08 or paid_on > YEAR_END
            let, let_date = "", None
            if not unpaid:
                let = letter(letters_used[index])
                letters_used[index] += 1
                let_date = paid_on
            invoice = [
                ("411000", "Clients", ttc, 0, index, let, let_date, f"Facture {ref}"),
                ("706000", "Prestations de services", 0, ht - ht_reduced, None, "", None, ref),
            ]
            if two_rates:
                invoice.append(
                    ("706100", "Prestations taux réduit", 0, ht_reduced, None, "", None, ref)
                )
                invoice.append(
                    ("445712", "TVA collectée 10 %", 0, ht_reduced * 10 // 100, None, "", None, ref)
                )
                invoice.append(
                    (
                        "445710",
                        "TVA collectée 20 %",
                        0,
                        vat - ht_reduced * 10 // 100,
                        None,
                        "",
                        None,
                        ref,
                    )
                )
            else:
                invoice.append(("445710", "TVA collectée 20 %", 0, vat, None, "", None, ref))
            pieces["VE"].append((day, invoice))
            count += len(invoice)
            if not unpaid:
                parts = [ttc]
                if rng.random() < 0.125 and ttc > 200:
                    first = ttc // 2
                    parts = [first, ttc - first]
                for part_index, part in enumerate(parts):
                    pay_day = paid_on - dt.timedelta(days=(len(parts) - 1 - part_index) * 10)
                    pay_day = max(pay_day, day)
                    label = f"Vir {labels[index]} {ref}"
                    pieces["BQ"].append(
                        (
                            pay_day,
                            [
                                ("512000", "Banque", part, 0, None, "", None, label),
                                ("411000", "Clients", 0, part, index, let, let_date, label),
                            ],
                        )
                    )
                    count += 2
            if rng.random() < 0.03:  # a credit note on part of it
                credit_ht = max(ht // rng.randint(2, 10), 100)
                credit_vat = credit_ht * 20 // 100
                credit_day = min(day + dt.timedelta(days=rng.randint(1, 20)), YEAR_END)
                pieces["VE"].append(
                    (
                        credit_day,
                        [
                            (
                                "411000",
                                "Clients",
                                0,
                                credit_ht + credit_vat,
                                index,
                                "",
                                None,
                                f"Avoir sur {ref}",
                            ),
                            (
                                "706000",
                                "Prestations de services",
                                credit_ht,
                                0,
                                None,
                                "",
                                None,
                                f"Avoir sur {ref}",
                            ),
                            (
                                "445710",
                                "TVA collectée 20 %",
                                credit_vat,
                                0,
                                None,
                                "",
                                None,
                                f"Avoir sur {ref}",
                            ),
                        ],
                    )
                )
                count += 3
        elif roll < 0.85:  # a purchase and its payment
            ht = rng.randint(2_000, 800_000)
            vat = ht * 20 // 100
            account = rng.choice(("606100", "613200", "622600", "626000", "625100"))
            label = f"Fournisseur {rng.randint(1, 400)}"
            pieces["HA"].append(
                (
                    day,
                    [
                        (account, "Charges externes", ht, 0, None, "", None, label),
                        ("445660", "TVA déductible", vat, 0, None, "", None, label),
                        ("401000", "Fournisseurs", 0, ht + vat, None, "", None, label),
                    ],
                )
            )
            pay_day = min(day + dt.timedelta(days=rng.randint(15, 60)), YEAR_END)
            pieces["BQ"].append(
                (
                    pay_day,
                    [
                        ("401000", "Fournisseurs", ht + vat, 0, None, "", None, label),
                        ("512000", "Banque", 0, ht + vat, None, "", None, label),
                    ],
                )
            )
            count += 5
        else:  # payroll
            gross = rng.randint(200_000, 600_000)
            social = gross * 45 // 100
            net = gross * 78 // 100
            pieces["OD"].append(
                (
                    day,
                    [
                        ("641100", "Salaires", gross, 0, None, "", None, "Paie"),
                        ("645100", "Charges sociales", social, 0, None, "", None, "Paie"),
                        ("421000", "Personnel rémunérations dues", 0, net, None, "", None, "Paie"),
                        (
                            "431000",
                            "Sécurité sociale",
                            0,
                            gross - net + social,
                            None,
                            "",
                            None,
                            "Paie",
                        ),
                    ],
                )
            )
            count += 4
    # Year-end accruals: FAE (delivered, not invoiced) and PCA (invoiced in advance).
    pieces["VE"].append(
        (
            YEAR_END,
            [
                ("418100", "Factures à établir", 720_000, 0, None, "", None, "FAE"),
                ("706000", "Prestations de services", 0, 600_000, None, "", None, "FAE"),
                ("445870", "TVA sur FAE", 0, 120_000, None, "", None, "FAE"),
            ],
        )
    )
    pieces["VE"].append(
        (
            YEAR_END,
            [
                ("706000", "Prestations de services", 897_534, 0, None, "", None, "PCA"),
                ("487000", "Produits constatés d'avance", 0, 897_534, None, "", None, "PCA"),
            ],
        )
    )
    written = 0
    with path.open("w", encoding=encoding, newline="") as out:
        out.write((HEADER.replace("\t", "|") if pad else HEADER) + "\r\n")
        buffer = [
            line(
                "AN",
                "AN000001",
                YEAR_START,
                account,
                label,
                debit,
                credit,
                aux=codes[index] if index is not None else "",
                aux_label=labels[index] if index is not None else "",
                ref="AN",
                label=text,
                let=let,
                let_date=let_date,
            )
            for account, label, debit, credit, index, let, let_date, text in opening
        ]
        for journal in ("VE", "BQ", "HA", "OD"):
            journal_pieces = sorted(pieces.pop(journal), key=lambda piece: piece[0])
            for number, (day, piece_lines) in enumerate(journal_pieces, start=1):
                num = f"{journal}{number:06d}"
                for account, label, debit, credit, index, let, let_date, text in piece_lines:
                    buffer.append(
                        line(
                            journal,
                            num,
                            day,
                            account,
                            label,
                            debit,
                            credit,
                            aux=codes[index] if index is not None else "",
                            aux_label=labels[index] if index is not None else "",
                            ref=num,
                            label=text,
                            let=let,
                            let_date=let_date,
                        )
                    )
                if len(buffer) >= 50_000:
                    if pad:
                        buffer = [padded(record) for record in buffer]
                    out.write("\r\n".join(buffer) + "\r\n")
                    written += len(buffer)
                    buffer = []
        if pad:
            buffer = [padded(record) for record in buffer]
        out.write("\r\n".join(buffer) + "\r\n")
        written += len(buffer)
    return {"lines": written, "invoices": invoice_number}


def measure(path: Path) -> None:
    """Run in a fresh process: the timings and peak memory of the audit of one file."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "levier.settings")
    os.environ.setdefault("SECRET_KEY", "levier-benchmark-only-key-never-used-in-production-42")
    data_dir = tempfile.mkdtemp(prefix="levier-bench-fec-data-")
    os.environ.setdefault("LEVIER_DATA_DIR", data_dir)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from levier.advaudit.fec.figures import compute_fec_figures
    from levier.advaudit.fec.reader import load_fec

    started = time.perf_counter()
    book = load_fec(path)
    loaded = time.perf_counter()
    figures = compute_fec_figures(book)
    computed = time.perf_counter()
    text = json.dumps({"quality": book.quality.as_json(), "figures": figures.as_json()})
    dumped = time.perf_counter()
    book.close()
    # The whole audit as `levier audit` runs it: read, check, figures, questionnaire
    # pre-fill, levers, plan, then the JSON report; and the PDF apart (target < 10 s).
    from django.utils import translation

    from levier.advaudit.report import render_pdf, report_json
    from levier.advaudit.services import audit_fec

    with translation.override("fr"):
        whole_started = time.perf_counter()
        report = json.dumps(report_json(audit_fec(path)), ensure_ascii=False)
        whole_done = time.perf_counter()
        pdf = render_pdf(json.loads(report), language="fr")
        pdf_done = time.perf_counter()
    shutil.rmtree(data_dir, ignore_errors=True)
    print(
        json.dumps(
            {
                "load_s": round(loaded - started, 2),
                "figures_s": round(computed - loaded, 2),
                "json_s": round(dumped - computed, 3),
                "total_s": round(dumped - started, 2),
                "audit_json_s": round(whole_done - whole_started, 2),
                "report_json_bytes": len(report),
                "pdf_s": round(pdf_done - whole_done, 2),
                "pdf_bytes": len(pdf),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "records": book.record_count,
                "encoding": book.encoding,
                "issues": sorted(book.quality.codes),
                "kpis": figures.kpis_json() | {"top_customers_receivables": "…"},
                "json_bytes": len(text),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--encoding", default="iso8859_15")
    parser.add_argument("--padded", action="store_true", help="fixed-width, |-separated")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    folder = Path(tempfile.mkdtemp(prefix="levier-bench-fec-"))
    path = folder / f"{SIREN}FEC{ymd(YEAR_END)}.txt"
    started = time.perf_counter()
    made = generate(path, args.lines, args.customers, args.encoding, args.padded)
    print(
        f"generated {made['lines']:,} lines ({made['invoices']:,} invoices), "
        f"{path.stat().st_size / 2**20:.0f} MiB, in {time.perf_counter() - started:.0f} s: {path}"
    )
    load_before = os.getloadavg()
    output = subprocess.run(
        [sys.executable, __file__, "--measure", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    load_after = os.getloadavg()
    result = json.loads(output.strip().splitlines()[-1])
    result |= {
        "lines": made["lines"],
        "file_mib": round(path.stat().st_size / 2**20),
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in load_after],
        "cpus": os.cpu_count(),
    }
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import table

    print(
        table(
            ["measure", "value"],
            [
                ["lines", f"{made['lines']:,}"],
                ["load_fec", f"{result['load_s']} s"],
                ["compute_fec_figures", f"{result['figures_s']} s"],
                ["json.dumps", f"{result['json_s']} s"],
                ["total", f"{result['total_s']} s"],
                [
                    "whole audit → JSON report (levier audit --out x.json)",
                    f"{result['audit_json_s']} s (target < 30 s)",
                ],
                ["PDF report", f"{result['pdf_s']} s (target < 10 s)"],
                ["peak RSS", f"{result['peak_rss_mib']} MiB (target < 2048 MiB)"],
                [
                    "load average before / after (1 min)",
                    f"{load_before[0]:.1f} / {load_after[0]:.1f}",
                ],
            ],
        )
    )
    print(json.dumps(result["kpis"], ensure_ascii=False))
    RESULTS.mkdir(exist_ok=True)
    result["layout"] = "padded |" if args.padded else "tab"
    result["file_encoding"] = args.encoding
    (RESULTS / ("fec_audit-padded.json" if args.padded else "fec_audit.json")).write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    )
    if args.keep:
        print(f"kept: {path}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
