"""The published reference figures of the ADV audit, as data, and how a company's figure
compares with them.

Every number here is a row of the shared reference `audit-benchmarks.md` (§2), with its
label, value text, year and source ids exactly as written there, so a reader can trace each
comparison in the report back to its publication. Where that file says NO FIGURE (APQC values
behind a paywall, no public cost of a credit note...), `compare()` returns None and
`no_figure()` says why: an invented benchmark would make the audit's advice look measured when
it is not.

A benchmark has several reference points (France, world, quartiles...) and one *primary*
point, the one the action plan uses to call a figure "worse than its benchmark". The primary
points were chosen as the most recent French figure on the same definition where one exists
(DSO: Banque de France, companies excluding micro-enterprises, 2023) and otherwise the target
the reference itself sets out (dispute resolution: the APQC top quartile, 4 days, which §4 of
the reference gives as the target; credit notes: [S33]'s "best companies 0–2 %").

The French number formatting used by the audit's texts (formulas, prefill reasons) lives here
too: this module is the one every other audit module already depends on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Literal

from django.utils.translation import gettext as _

__all__ = [
    "BENCHMARKS",
    "FACTS",
    "NO_FIGURE",
    "SOURCES",
    "Benchmark",
    "Comparison",
    "Direction",
    "Fact",
    "FigureError",
    "NoFigure",
    "PointComparison",
    "ReferencePoint",
    "Unit",
    "Verdict",
    "benchmark_for",
    "compare",
    "format_days",
    "format_euros",
    "format_number",
    "format_percent",
    "format_value",
    "lookup_figure",
    "no_figure",
    "source_text",
    "to_figure",
]

Lang = Literal["fr", "en"]
NBSP = "\u00a0"

# The "Sources" section of audit-benchmarks.md, id → the text that follows the id, verbatim
# (test_benchmarks checks it against the file when the shared reference is checked out).
SOURCES: dict[str, str] = {
    "S1": "docs.coditect.ai/research/lab/9.2-perform-revenue-accounting",
    "S2": "highradius.com/resources/ebook/15-hackett-recommended-metrics-to-evaluate-your-team-and-process/ ; highradius.com/resources/ebook/hackett-study-building-a-top-performing-customer-to-cash-process/",
    "S3": "highradius.com/resources/collections-maturity-assessment-model/ ; highradius.com/resources/Templates/b2b-collection-maturity-model-template/",
    "S4": "workingcapitalhub.com/?p=1489",
    "S5": "fr.doczz.net/doc/4979677/mise-en-page-1",
    "S6": "fr.slideshare.net/BarackaDih1/519718ppt",
    "S7": "banque-france.fr/…/observatoire-des-delais-de-paiement-guide-des-bonnes-pratiques-pour-limiter-les-retards-de-paiement ; amelioretagestion.fr/reduire-les-retards-de-paiement/",
    "S8": "ro.scribd.com/document/207707267",
    "S9": "liquintel.com/?page_id=67 ; treasuryxl.com/blog/working-capital-management-some-practical-advice-on-the-optimization-of-the-order-to-cash-cycle/",
    "S10": "banque-france.fr/…/rapport-de-lobservatoire-des-delais-de-paiement-2024",
    "S11": "letowski.fr/?p=33178",
    "S12": "123dok.net/document/y4wd2jer-… (BdF Bulletin 227/6)",
    "S13": "veille.artisanat.fr/…/rapport-2023-sur-les-dynlais-de-paiement.html",
    "S14": "gazettenormandie.fr/article/les-retards-de-paiement-ont-diminue-en-2022",
    "S15": "veille.artisanat.fr/…/rapport-2024-sur-les-dynlais-de-paiement.html",
    "S16": "boursorama.com/…/les-retards-de-paiement-au-plus-haut-…-f048bd9d…",
    "S17": "infos.votrexpert.com/cabinet-fourcade/breves/2024-11-06_45_1.html",
    "S18": "veille.artisanat.fr/…/rapport-2018-de-lobservatoire-des-delais-de-paiement.html",
    "S19": "allianz-trade (…/actualites/etude-dso-2019.html)",
    "S20": "lemoci.com/?p=169367",
    "S21": "afdcc.fr/revue-de-presse-les-echos-17-12-14-la-pre-relance-se-pratique-dans-plus-de-la-moitie-des-entreprises/",
    "S22": "cfo.com/accounting-tax/2018/05/metric-days-sales-outstanding-dso/",
    "S23": "cfo.com/accounting-tax/2016/06/metric-month-cost-invoice/",
    "S24": "gtnews.com/2012/06/13/apqc-benchmarking-reveals-how-top-performing-ar-functions-improve-cash-flow/",
    "S25": "apqc.org/organizations-invited-participate-no-cost-accounts-receivable-benchmarking-apqc",
    "S26": "cfo.com/credit-capital/credit/2022/02/delinquency-prevention-metric-of-month-feb-2022/",
    "S27": "apqc.org/…/measures/percentage-invoices-processed-error ; …/cycle-time-days-generate-complete-and ; …/number-invoices-processed-fte-1",
    "S28": "la-facture-electronique.fr/blog/ressources/nouveau-calculez-cout-factures-papiers-avec-calculette/",
    "S29": "openbee.com/articles/economies-dematerialisation-factures-clients/",
    "S30": "celge.fr/articles-conseils/dematerialisation-des-factures-clients-et-fournisseurs-quel-retour-sur-investissement",
    "S31": "agefi.fr/…/20160630/seuls-10-incidents-paiement-sont-lies-a-tresorerie-190926",
    "S32": "gocardless.com/fr/guides/cash-flow-academy/retards-de-paiement/",
    "S33": "dafevolution.blogspot.com/2019/07/connaissez-vous-votre-taux-davoirs.html",
    "S34": "afdcc.fr/lafdcc-citee-dans-daf-magazine-bien-gerer-son-poste-client/",
    "S35": "leblogdurecouvrement.com/retard-dans-les-paiements-les-entreprises-timides/",
    "S36": "kaplancollectionagency.com/resource-center/hiring-a-collection-agency/collection-analysis/",
    "S37": "legifiscal.fr/actualites-fiscales/2703-delais-paiement-egalement-impactes-crise-sanitaire.html",
    "S38": "portfoliopartnership.com/tag/cash-collection/",
    "S39": "thehackettgroup.com/insights/using-dso-to-measure-receivables-part-2-…/ ; waycalculator.com/finance/Average-Days-Delinquent-Calculator.php",
    "S40": "sapinsider.org/ebook/unlocking-hidden-cash-why-billing-cycle-time-matters",
    "S41": "goautonomous.io/blogs/why-do-39-of-invoices-still-contain-errors-…",
    "S42": "twobytwo.zvh.io/reference/impact-effort-examples",
    "S43": "strategistwaseem.blogspot.com/2025/07/project-phoenix-proposal-and-90-day.html",
    "S44": "alpaka.ai/resources/order-to-cash-controls",
    "S45": "legifiscal.fr/vie-affaires/recouvrement-amiable-action-contentieuse-4-etapes.html",
    "S46": "lexpress.fr/entrepreneurs/gestion-fiscalite/2-preparez-un-calendrier-de-relance_1522784.html",
    "S47": "facturation-electronique-gratuite.fr/blog/calendrier-facture-electronique",
    "S48": "monaco-tribune.com/2026/01/facturation-electronique-huit-mois-pour-se-mettre-aux-normes/",
    "S49": "optionfinance.fr/entreprise-finance/les-commerciaux-deviennent-des-allies-de-la-direction-financiere.html",
    "S50": "industrie-hoteliere.com/management/la-facture-sous-haute-surveillance/amp",
    "S51": "afdcc.fr/glossary/procedure-credit/",
}


class FigureError(ValueError):
    """A figure handed to the audit is not a number (names the figure)."""


class Direction(StrEnum):
    LOWER_IS_BETTER = "lower_is_better"
    HIGHER_IS_BETTER = "higher_is_better"


class Unit(StrEnum):
    DAYS = "days"
    RATIO = "ratio"  # 0.02 = 2 %
    USD = "usd"


class Verdict(StrEnum):
    BETTER = "better"
    EQUAL = "equal"
    WORSE = "worse"


@dataclass(frozen=True)
class ReferencePoint:
    """One published value. `label_en` and `value_text` are the reference file's words;
    `value` is the number the comparison uses (e.g. 43 out of "43 / 51 days")."""

    key: str
    label_fr: str
    label_en: str
    value_text: str
    value: Decimal
    year: str | None
    source_ids: tuple[str, ...]
    kind: Literal[
        "average", "top_quartile", "median", "bottom_quartile", "best_practice", "target"
    ] = "average"


@dataclass(frozen=True)
class Benchmark:
    key: str
    label_fr: str
    label_en: str
    unit: Unit
    direction: Direction
    points: tuple[ReferencePoint, ...]
    primary: str  # key of the point the plan compares against
    aliases: tuple[str, ...] = ()
    note_fr: str = ""
    note_en: str = ""

    @property
    def primary_point(self) -> ReferencePoint:
        return next(point for point in self.points if point.key == self.primary)

    @property
    def source_ids(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for point in self.points:
            for source_id in point.source_ids:
                seen.setdefault(source_id, None)
        return tuple(seen)


@dataclass(frozen=True)
class PointComparison:
    point: ReferencePoint
    gap: Decimal  # the company's value − the reference value, in the benchmark's unit
    verdict: Verdict


@dataclass(frozen=True)
class Comparison:
    """A company's figure beside its published references."""

    key: str  # the figure's own name (e.g. dso_simple_365d)
    value: Decimal
    benchmark: Benchmark
    points: tuple[PointComparison, ...]

    @property
    def primary(self) -> PointComparison:
        return next(p for p in self.points if p.point.key == self.benchmark.primary)

    @property
    def worse(self) -> bool:
        return self.primary.verdict is Verdict.WORSE

    @property
    def sources(self) -> tuple[tuple[str, str], ...]:
        """(id, URL text) of every source behind the points, for the report's footnotes."""
        return tuple((source_id, SOURCES[source_id]) for source_id in self.benchmark.source_ids)


@dataclass(frozen=True)
class Fact:
    """A published figure shown for context, not compared (a share of firms, a total for
    France...): nothing a single company's figure can be set against."""

    key: str
    label_fr: str
    label_en: str
    value_text: str
    year: str | None
    source_ids: tuple[str, ...]


@dataclass(frozen=True)
class NoFigure:
    """A figure for which the reference found no usable public value."""

    key: str
    reason_fr: str
    reason_en: str
    source_ids: tuple[str, ...] = ()


def _d(text: str) -> Decimal:
    return Decimal(text)


@dataclass(frozen=True)
class _Row:
    """One row of the reference file's tables, in its own words."""

    label_en: str
    value_text: str
    year: str | None = None
    source_ids: tuple[str, ...] = ()


def _point(
    row: _Row,
    key: str,
    label_fr: str,
    value: Decimal,
    kind: Literal[
        "average", "top_quartile", "median", "bottom_quartile", "best_practice", "target"
    ] = "average",
    *,
    year: str | None = None,
    source_ids: tuple[str, ...] = (),
) -> ReferencePoint:
    return ReferencePoint(
        key=key,
        label_fr=label_fr,
        label_en=row.label_en,
        value_text=row.value_text,
        value=value,
        year=year or row.year,
        source_ids=source_ids or row.source_ids,
        kind=kind,
    )


_FRANCE_TERMS = _Row(
    label_en="Customer / supplier payment terms, excl. micro",
    value_text="43 / 51 days (micro: 28 / 35)",
    year="2023",
    source_ids=("S10", "S11", "S15"),
)
_APQC_DSO = _Row(
    label_en="APQC DSO: top quartile / median / bottom quartile (n=5,204)",
    value_text="≤30 / ~36 / ≥48 days",
    year=None,
    source_ids=("S22",),
)
_AFDCC_2014 = _Row(
    label_en="AFDCC/AU Group members, 2014: all / industry / trading / services / large",
    value_text="53 / 58 / 52 / 50 / 44 days",
    year="2014",
    source_ids=("S21",),
)
_ALTARES = _Row(
    label_en="Average late-payment days (Altares)",
    value_text="11.7 → 12.6 → 13.0 (Q4: 13.6)",
)
_BY_SIZE = _Row(
    label_en="Average delay by size: <3 staff / 3–9 / ≥1000",
    value_text="14.1 / 11.8 / 18 days",
    year="2024",
    source_ids=("S15",),
)
_CREDIT_NOTES = _Row(
    label_en='Credit notes: "best companies 0–2% of invoicing" (practitioner blog)',
    value_text="0–2% of invoicing",
    year=None,
    source_ids=("S33",),
)
_DISPUTES = _Row(
    label_en="Days to resolve a disputed invoice (2009)",
    value_text="4 / – / 30",
    year="2009",
    source_ids=("S25",),
)
_FRANCE_2018 = _Row(
    label_en="Customer terms (older perimeter)",
    value_text="44 days; 32% of firms paid after 60 days",
    year="2018",
    source_ids=("S12",),
)
_EULER_2018 = _Row(
    label_en="France DSO (Euler Hermes, listed-company sample) vs world",
    value_text="73 vs 65 days (2018)",
    year="2018",
    source_ids=("S19",),
)
_WORLD_2023 = _Row(
    label_en="World DSO (Allianz Trade)",
    value_text="59 days (2023)",
    year="2023",
    source_ids=("S20",),
)
_PAST_DUE_CUSTOMERS = _Row(
    label_en="Active customers >30 days past due",
    value_text="25th percentile has 40% fewer than 75th; usual target 10–15%",
    source_ids=("S26",),
)
_COST_2016 = _Row(
    label_en='Cost per invoice, "invoice customer" process (190 firms, Americas, 2016)',
    value_text="≤$0.71 / $3.17 / ≥$11.50",
    year="2016",
    source_ids=("S23",),
)
_COST_2012 = _Row(
    label_en="Cost per invoice (154 AR teams, 2012)",
    value_text="$1.17 / – / $39.61",
    year="2012",
    source_ids=("S24",),
)

_DSO_POINTS = (
    _point(
        _FRANCE_TERMS,
        "france_2023",
        "Délais clients, entreprises hors micro-entreprises, France (Banque de France)",
        _d("43"),
    ),
    _point(
        _FRANCE_TERMS,
        "france_micro_2023",
        "Délais clients, micro-entreprises, France (Banque de France)",
        _d("28"),
    ),
    _point(_FRANCE_2018, "france_2018", "Délais clients, France (ancien périmètre)", _d("44")),
    _point(
        _AFDCC_2014, "afdcc_services_2014", "Adhérents AFDCC/AU, entreprises de services", _d("50")
    ),
    _point(_AFDCC_2014, "afdcc_all_2014", "Adhérents AFDCC/AU, toutes entreprises", _d("53")),
    _point(_APQC_DSO, "apqc_top_quartile", "APQC, premier quartile", _d("30"), "top_quartile"),
    _point(_APQC_DSO, "apqc_median", "APQC, médiane", _d("36"), "median"),
    _point(
        _APQC_DSO, "apqc_bottom_quartile", "APQC, dernier quartile", _d("48"), "bottom_quartile"
    ),
    _point(
        _EULER_2018,
        "france_listed_2018",
        "DSO France, échantillon de sociétés cotées (Euler Hermes)",
        _d("73"),
    ),
    _point(
        _EULER_2018,
        "world_2018",
        "DSO monde, échantillon de sociétés cotées (Euler Hermes)",
        _d("65"),
    ),
    _point(_WORLD_2023, "world_2023", "DSO monde (Allianz Trade)", _d("59")),
)

_LATE_DAYS_POINTS = (
    _point(
        _ALTARES,
        "altares_2024",
        "Retard moyen de paiement, France (Altares)",
        _d("13.0"),
        year="2024",
        source_ids=("S11",),
    ),
    _point(
        _ALTARES,
        "altares_2023",
        "Retard moyen de paiement, France (Altares)",
        _d("12.6"),
        year="2023",
        source_ids=("S13",),
    ),
    _point(
        _ALTARES,
        "altares_2022",
        "Retard moyen de paiement, France (Altares)",
        _d("11.7"),
        year="2022",
        source_ids=("S14",),
    ),
    _point(
        _BY_SIZE,
        "size_under_3_2024",
        "Retard moyen, entreprises de moins de 3 salariés",
        _d("14.1"),
    ),
    _point(_BY_SIZE, "size_3_9_2024", "Retard moyen, entreprises de 3 à 9 salariés", _d("11.8")),
    _point(
        _BY_SIZE,
        "size_1000_2024",
        "Retard moyen, entreprises de 1 000 salariés et plus",
        _d("18"),
    ),
)

_CREDIT_NOTE_POINTS = (
    _point(
        _CREDIT_NOTES,
        "best_companies",
        "Avoirs : « les meilleures entreprises, 0 à 2 % de la facturation » (blog de praticien)",
        _d("0.02"),
        "best_practice",
    ),
)

BENCHMARKS: dict[str, Benchmark] = {
    benchmark.key: benchmark
    for benchmark in (
        Benchmark(
            key="dso",
            label_fr="DSO (délai moyen de paiement clients)",
            label_en="DSO (days sales outstanding)",
            unit=Unit.DAYS,
            direction=Direction.LOWER_IS_BETTER,
            points=_DSO_POINTS,
            primary="france_2023",
            aliases=("dso_simple_365d", "dso_simple_90d", "dso_simple", "dso_countback"),
            note_fr=(
                "La Banque de France calcule les délais clients sur les bilans : créances "
                "clients × 360 ÷ chiffre d'affaires TTC [S37] ; l'audit utilise 365 jours."
            ),
            note_en=(
                "The Banque de France computes customer terms from balance sheets: customer "
                "receivables × 360 ÷ revenue incl. VAT [S37]; the audit uses 365 days."
            ),
        ),
        Benchmark(
            key="average_days_to_pay",
            label_fr="Délai moyen de paiement des factures (depuis la date de facture)",
            label_en="Average days to pay (from the invoice date)",
            unit=Unit.DAYS,
            direction=Direction.LOWER_IS_BETTER,
            points=_DSO_POINTS[:2],
            primary="france_2023",
            aliases=("average_days_to_pay_weighted",),
            note_fr=(
                "Ordre de grandeur seulement : le chiffre de la Banque de France est un délai "
                "calculé sur les bilans (un DSO), celui de l'audit se compte facture par facture."
            ),
            note_en=(
                "Order of magnitude only: the Banque de France figure is computed from balance "
                "sheets (a DSO), the audit's is counted invoice by invoice."
            ),
        ),
        Benchmark(
            key="average_payment_delay_days",
            label_fr="Retard moyen de paiement (au-delà de l'échéance)",
            label_en="Average payment delay (beyond the due date)",
            unit=Unit.DAYS,
            direction=Direction.LOWER_IS_BETTER,
            points=_LATE_DAYS_POINTS,
            primary="altares_2024",
            aliases=("average_payment_delay_days_weighted",),
        ),
        Benchmark(
            key="credit_note_rate",
            label_fr="Taux d'avoirs",
            label_en="Credit-note rate",
            unit=Unit.RATIO,
            direction=Direction.LOWER_IS_BETTER,
            points=_CREDIT_NOTE_POINTS,
            primary="best_companies",
            aliases=("credit_note_rate_amount",),
            note_fr=(
                "[S33] parle d'une part de la facturation, plus proche du taux en montant que "
                "du taux en nombre."
            ),
            note_en=(
                "[S33] speaks of a share of invoicing, closer to the rate by amount than to the "
                "rate by count."
            ),
        ),
        Benchmark(
            key="dispute_resolution_days",
            label_fr="Délai de résolution d'un litige",
            label_en="Days to resolve a disputed invoice",
            unit=Unit.DAYS,
            direction=Direction.LOWER_IS_BETTER,
            points=(
                _point(
                    _DISPUTES, "apqc_top", "APQC, meilleures entreprises", _d("4"), "top_quartile"
                ),
                _point(
                    _DISPUTES,
                    "apqc_bottom",
                    "APQC, moins bonnes entreprises",
                    _d("30"),
                    "bottom_quartile",
                ),
            ),
            primary="apqc_top",
        ),
        Benchmark(
            key="customers_over_30_days_past_due_share",
            label_fr="Part des clients actifs en retard de plus de 30 jours",
            label_en="Active customers more than 30 days past due",
            unit=Unit.RATIO,
            direction=Direction.LOWER_IS_BETTER,
            points=(
                _point(
                    _PAST_DUE_CUSTOMERS,
                    "usual_target",
                    "Objectif usuel (borne haute de 10–15 %)",
                    _d("0.15"),
                    "target",
                ),
            ),
            primary="usual_target",
        ),
        Benchmark(
            key="cost_per_invoice_usd",
            label_fr="Coût par facture émise (USD)",
            label_en="Cost per invoice (USD)",
            unit=Unit.USD,
            direction=Direction.LOWER_IS_BETTER,
            points=(
                _point(
                    _COST_2016,
                    "apqc_2016_top",
                    "APQC 2016, premier quartile",
                    _d("0.71"),
                    "top_quartile",
                ),
                _point(_COST_2016, "apqc_2016_median", "APQC 2016, médiane", _d("3.17"), "median"),
                _point(
                    _COST_2016,
                    "apqc_2016_bottom",
                    "APQC 2016, dernier quartile",
                    _d("11.50"),
                    "bottom_quartile",
                ),
                _point(
                    _COST_2012,
                    "apqc_2012_top",
                    "APQC 2012, meilleures équipes",
                    _d("1.17"),
                    "top_quartile",
                ),
                _point(
                    _COST_2012,
                    "apqc_2012_bottom",
                    "APQC 2012, moins bonnes équipes",
                    _d("39.61"),
                    "bottom_quartile",
                ),
            ),
            primary="apqc_2016_median",
        ),
    )
}


_ALIASES: dict[str, str] = {
    alias: benchmark.key for benchmark in BENCHMARKS.values() for alias in benchmark.aliases
}

_PAYWALL_FR = "valeurs APQC payantes : aucun chiffre public"
_PAYWALL_EN = "APQC values are paywalled: no public figure"
NO_FIGURE: dict[str, NoFigure] = {
    item.key: item
    for item in (
        NoFigure(
            "invoice_error_rate",
            f"% de factures sans erreur du premier coup : {_PAYWALL_FR}",
            f"% invoices error-free first time: {_PAYWALL_EN}",
            ("S27",),
        ),
        NoFigure(
            "invoicing_delay_days",
            f"délai de facturation (billing cycle time) : {_PAYWALL_FR}",
            f"billing cycle time: {_PAYWALL_EN}",
            ("S27",),
        ),
        NoFigure(
            "invoicing_delay_days_weighted",
            f"délai de facturation (billing cycle time) : {_PAYWALL_FR}",
            f"billing cycle time: {_PAYWALL_EN}",
            ("S27",),
        ),
        NoFigure(
            "dispute_rate",
            f"% de factures en litige : {_PAYWALL_FR}",
            f"% invoices disputed: {_PAYWALL_EN}",
            ("S27",),
        ),
        NoFigure(
            "invoices_per_fte",
            f"factures par ETP : {_PAYWALL_FR}",
            f"invoices per FTE: {_PAYWALL_EN}",
            ("S27",),
        ),
        NoFigure(
            "cost_per_credit_note",
            "coût d'une erreur de facture ou d'un avoir : blogs d'éditeurs seulement",
            "cost of one invoice error or credit note: vendor blogs only",
        ),
        NoFigure(
            "overdue_ratio",
            "aucun chiffre public en montant (l'objectif de 10–15 % de [S26] compte des clients)",
            "no public figure by amount ([S26]'s 10–15% target counts customers)",
            ("S26",),
        ),
    )
}

FACTS: tuple[Fact, ...] = (
    Fact(
        "france_terms_2023",
        "Délais clients / fournisseurs, hors micro-entreprises (micro : 28 / 35)",
        "Customer / supplier payment terms, excl. micro",
        "43 / 51 days (micro: 28 / 35)",
        "2023",
        ("S10", "S11", "S15"),
    ),
    Fact(
        "france_terms_2018",
        "Délais clients (ancien périmètre) ; 32 % des entreprises payées après 60 jours",
        "Customer terms (older perimeter)",
        "44 days; 32% of firms paid after 60 days",
        "2018",
        ("S12",),
    ),
    Fact(
        "firms_over_60_days_2023",
        "Entreprises (hors micro) payant ou payées après 60 jours",
        "Firms (excl. micro) paying or paid after 60 days",
        "~30%",
        "2023",
        ("S10",),
    ),
    Fact(
        "firms_paid_without_delay_2022",
        "Entreprises payées sans retard (micro : 83 %)",
        "Firms paid without delay",
        "68% (micro: 83%)",
        "2022",
        ("S13",),
    ),
    Fact(
        "large_companies_without_delay",
        "Grandes entreprises payant sans retard",
        "Large companies paying without delay",
        "50%",
        "2023–24",
        ("S11",),
    ),
    Fact(
        "cash_missed_by_smes",
        "Trésorerie dont les PME sont privées par les retards de paiement",
        "Cash SMEs miss because of late payment",
        "€15bn (€19bn in 2017–18)",
        "2024",
        ("S11", "S12"),
    ),
    Fact(
        "late_days_altares",
        "Retard moyen de paiement (Altares), 2022 / 2023 / 2024",
        "Average late-payment days (Altares)",
        "11.7 → 12.6 → 13.0 (Q4: 13.6)",
        "2022 / 2023 / 2024",
        ("S14", "S13", "S11"),
    ),
    Fact(
        "late_days_by_size",
        "Retard moyen par taille : moins de 3 salariés / 3 à 9 / 1 000 et plus",
        "Average delay by size: <3 staff / 3–9 / ≥1000",
        "14.1 / 11.8 / 18 days",
        "2024",
        ("S15",),
    ),
    Fact(
        "firms_paying_on_time_h1_2024",
        "Entreprises payant à l'heure",
        "Firms paying on time",
        "48.7%",
        "H1 2024",
        ("S16",),
    ),
    Fact(
        "late_payments_over_30_days",
        "Part des retards de plus de 30 jours",
        "Share of late payments >30 days",
        "6% → 8.45%",
        "2022 → H1 2024",
        ("S14", "S17"),
    ),
    Fact(
        "building_terms_2023",
        "Délais clients, bâtiment",
        "Customer terms, building trades (bâtiment)",
        "71 days",
        "2023",
        ("S15",),
    ),
    Fact(
        "sectors_over_60_days_2017",
        "Secteurs aux délais clients de plus de 60 jours",
        "Sectors with customer terms >60 days",
        "construction, business support services, information & communication",
        "2017",
        ("S18",),
    ),
    Fact(
        "invoice_cost_gs1",
        "Coût d'une facture papier (GS1 France) : émise 8–9,5 €, reçue 13,8–14 € ; électronique émise ~5 €",
        "GS1 France (cited by [S28])",
        "outgoing €8–9.5; incoming €13.8–14 / outgoing ~€5",
        None,
        ("S28",),
    ),
    Fact(
        "invoice_cost_ministry_2013",
        "Coût d'une facture, ministère de l'Économie 2013 : papier 3,30 €, électronique 0,80 €",
        "Ministry of Economy, 2013 (cited by [S29])",
        "€3.30 / €0.80",
        "2013",
        ("S29",),
    ),
    Fact(
        "invoice_cost_materials",
        "Coût matériel seul d'une facture papier",
        "Materials only [S30]",
        "€1.10–1.45",
        None,
        ("S30",),
    ),
    Fact(
        "non_payment_causes",
        "Causes d'impayés : 10 % ne peuvent pas payer, 38 % problèmes administratifs simples, 8 % litiges commerciaux ou qualité",
        "Non-payment causes (LowendalMasaï, 2004–07)",
        "10% genuinely cannot pay, 38% simple administrative problems, 8% commercial/quality disputes",
        "2004–07",
        ("S31",),
    ),
    Fact(
        "dispute_causes",
        "Litiges : 33 % commerciaux ou administratifs, 16 % techniques, 7 % juridiques ; 74 % infondés, 41 % pour contourner la LME",
        "Disputes",
        "33% commercial/administrative, 16% technical, 7% legal; 74% unfounded, 41% aimed at getting round the LME",
        None,
        ("S32",),
    ),
    Fact(
        "withheld_payments_invoice_errors",
        "Les paiements retenus viennent surtout d'erreurs de facture (n° de commande, quantités, adresse, conditions)",
        "Withheld payments mostly stem from invoice errors (PO number, quantities, address, terms)",
        "",
        None,
        ("S25",),
    ),
    Fact(
        "credit_cost_share",
        "Le crédit client coûte ≈ 2 % du chiffre d'affaires ; un credit manager est rentable dès ~300 M€",
        "Customer credit costs ≈2% of revenue; a credit manager pays off from ~€300M revenue",
        "≈2% of revenue",
        None,
        ("S34",),
    ),
    Fact(
        "penalties_claimed_2015",
        "AFDCC 2015 : pénalités réclamées systématiquement par 27 %, encaissées par 16 % ; indemnité de 40 € imprimée par 80 %, encaissée par 3 %",
        "AFDCC 2015: penalties claimed systematically by 27%, collected by 16%; €40 fee printed by 80%, collected by 3%",
        "27% / 16%; 80% / 3%",
        "2015",
        ("S35",),
    ),
    Fact(
        "kpis_used",
        "Indicateurs suivis : DSO 79 %, taux de retard 61 %, top 20 des retardataires 46 %, BPDSO 38 % ; pré-relance 69 % (industrie, services), 51 % (négoce)",
        "KPIs used: DSO 79%, overdue rate 61%, top-20 late payers 46%, BPDSO 38%; pre-due dunning at 69% (industry/services), 51% (trading)",
        "",
        "2014",
        ("S21",),
    ),
    Fact(
        "overdue_value_by_age",
        "Valeur d'un dollar en retard : 87 ¢ à 3 mois, 67 ¢ à 6, 46 ¢ à 12 ; 74 % recouvrés à 3 mois",
        "Overdue $ worth 87¢ at 3 months, 67¢ at 6, 46¢ at 12 (NACM via vendor); 74% collected at 3 months (CCAA)",
        "",
        None,
        ("S3", "S36"),
    ),
)


def source_text(source_id: str) -> str:
    """The URL text of a source id ("S22" or "[S22]"), as the reference file writes it."""
    return SOURCES[source_id.strip("[]")]


def benchmark_for(key: str) -> Benchmark | None:
    """The benchmark of a figure, by its own name or the benchmark's (None: no figure)."""
    return BENCHMARKS.get(key) or BENCHMARKS.get(_ALIASES.get(key, ""))


def no_figure(key: str) -> NoFigure | None:
    """Why there is no benchmark for this figure, when the reference says so."""
    return NO_FIGURE.get(key)


def to_figure(value: object, name: str) -> Decimal | None:
    """A figure as the audit receives it (Decimal, int, JSON number or string) → Decimal.

    None and "" mean undefined (kpis.md: "n/a", never an error). Floats are accepted here
    because figures are not money: a JSON reader may hand over 62.3 days.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise FigureError(
            _("Figure “%(name)s” is not a number: %(value)r") % {"name": name, "value": value}
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip().replace(NBSP, "").replace(" ", "").replace(",", ".")
        if not text:
            return None
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise FigureError(
                _("Figure “%(name)s” is not a number: %(value)r") % {"name": name, "value": value}
            ) from None
    else:
        raise FigureError(
            _("Figure “%(name)s” is not a number: %(value)r") % {"name": name, "value": value}
        )
    if not result.is_finite():
        raise FigureError(
            _("Figure “%(name)s” is not a finite number: %(value)r")
            % {"name": name, "value": value}
        )
    return result


def lookup_figure(figures: Mapping[str, object], path: str) -> object:
    """`figures["late_invoices"]["count"]` for "late_invoices.count"; None when absent."""
    current: object = figures
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def compare(key: str, value: object) -> Comparison | None:
    """The figure beside every published reference point of its benchmark.

    None when the reference has no public figure for it (never an invented one), or when the
    company's figure itself is undefined.
    """
    benchmark = benchmark_for(key)
    if benchmark is None:
        return None  # checked first: a whole figures JSON (dates, lists) can be passed through
    number = to_figure(value, key)
    if number is None:
        return None
    points = tuple(_compare_point(benchmark, point, number) for point in benchmark.points)
    return Comparison(key=key, value=number, benchmark=benchmark, points=points)


def _compare_point(benchmark: Benchmark, point: ReferencePoint, value: Decimal) -> PointComparison:
    gap = value - point.value
    if gap == 0:
        verdict = Verdict.EQUAL
    elif (gap < 0) == (benchmark.direction is Direction.LOWER_IS_BETTER):
        verdict = Verdict.BETTER
    else:
        verdict = Verdict.WORSE
    return PointComparison(point=point, gap=gap, verdict=verdict)


# --------------------------------------------------------------------------- formatting


def format_number(value: Decimal, places: int, lang: Lang = "fr", *, trim: bool = False) -> str:
    """ "4 812 000,00" (fr, no-break spaces) or "4,812,000.00" (en), half up; `trim` drops
    trailing zeros ("2 %" rather than "2,00 %")."""
    quantum = Decimal(1).scaleb(-places)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "−" if rounded < 0 else ""
    digits = f"{abs(rounded):f}"
    whole, _dot, fraction = digits.partition(".")
    if trim:
        fraction = fraction.rstrip("0")
    group = NBSP if lang == "fr" else ","
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = group.join(groups)
    if fraction:
        text += ("," if lang == "fr" else ".") + fraction
    return sign + text


def format_euros(amount: Decimal, lang: Lang = "fr") -> str:
    """ "224 120,55 €" / "€224,120.55": always to the cent, as the levers are."""
    text = format_number(amount, 2, lang)
    return f"{text}{NBSP}€" if lang == "fr" else f"€{text}".replace("€−", "−€")


def format_days(days: Decimal, lang: Lang = "fr") -> str:
    """ "62 j", "60,7 j" / "62 d": one decimal at most, as kpis.md rounds days."""
    text = format_number(days, 1, lang, trim=True)
    return f"{text}{NBSP}j" if lang == "fr" else f"{text}{NBSP}d"


def format_percent(ratio: Decimal, lang: Lang = "fr") -> str:
    """0.031 → "3,1 %" / "3.1%" (two decimals at most: 12.15 % for the legal rate)."""
    text = format_number(ratio * 100, 2, lang, trim=True)
    return f"{text}{NBSP}%" if lang == "fr" else f"{text}%"


def format_value(value: Decimal, unit: str, lang: Lang = "fr") -> str:
    """A figure in its unit: days, ratio (as %), hours, euros, USD, count."""
    if unit == Unit.DAYS:
        return format_days(value, lang)
    if unit == Unit.RATIO:
        return format_percent(value, lang)
    if unit == "hours":
        return f"{format_number(value, 1, lang, trim=True)}{NBSP}h"
    if unit == "euros":
        return format_euros(value, lang)
    if unit == Unit.USD:
        return (
            f"{format_number(value, 2, lang)}{NBSP}$"
            if lang == "fr"
            else f"${format_number(value, 2, lang)}"
        )
    return format_number(value, 2, lang, trim=True)
