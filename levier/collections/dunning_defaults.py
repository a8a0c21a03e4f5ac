"""What a new installation starts with: the French default dunning scenario and the rates.

Called from a data migration (pass the migration's `apps`, so the historical models are
used) or from a shell; both functions can run again without creating anything twice: a
scenario or rate already there is left as accounting may have edited it.

The texts are French: the customer reads them. They are Django templates over the merge
fields of `levier.collections.dunning.MERGE_FIELDS`; amounts and dates arrive formatted.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from levier.collections.choices import DunningChannel

DEFAULT_SCENARIO_NAME = "Relances standard"

# ECB main refinancing operations (MRO) rate in force on 1 January and 1 July, in %.
# Source: ECB press releases on monetary policy decisions, as listed in the ECB's
# "Key ECB interest rates" table (data.ecb.europa.eu, series FM.D.U2.EUR.4F.KR.MRR_FR.LEV):
#   20 Sep 2023 → 4.50 (in force 1 Jan 2024)     12 Jun 2024 → 4.25 (in force 1 Jul 2024)
#   18 Sep 2024 → 3.65, 23 Oct 2024 → 3.40, 18 Dec 2024 → 3.15 (in force 1 Jan 2025)
#   5 Feb 2025 → 2.90, 12 Mar 2025 → 2.65, 23 Apr 2025 → 2.40, 11 Jun 2025 → 2.15
#   (in force 1 Jul 2025), unchanged at the meetings of July, September, October and
#   December 2025 (in force 1 Jan 2026).
# 2026 H2 is not seeded: its value was not verified against an ECB publication, and a guessed
# rate must never reach a formal notice. Until accounting enters it (Relances › Scénarios et
# taux), formal notices that need it are held, naming the half-year.
ECB_RATES: dict[dt.date, Decimal] = {
    dt.date(2024, 1, 1): Decimal("4.50"),
    dt.date(2024, 7, 1): Decimal("4.25"),
    dt.date(2025, 1, 1): Decimal("3.15"),
    dt.date(2025, 7, 1): Decimal("2.15"),
    dt.date(2026, 1, 1): Decimal("2.15"),
}
MARGIN_POINTS = Decimal("10.00")

_SIGNATURE = """
Cordialement,

Le service comptabilité clients
{{ company_name }}"""

_PAYMENT = """Vous pouvez régler par virement sur le compte IBAN {{ iban }}, en indiquant la \
référence de paiement {{ payment_reference }}."""

# (offset, name, channel, formal notice, subject, body)
DEFAULT_STEPS: list[tuple[int, str, str, bool, str, str]] = [
    (
        -5,
        "Rappel avant échéance",
        DunningChannel.EMAIL,
        False,
        "Rappel : factures arrivant à échéance – {{ company_name }}",
        """Bonjour,

Sauf erreur de notre part, les factures suivantes arrivent prochainement à échéance :

{{ invoices_table }}

Montant total : {{ total_due }}

"""
        + _PAYMENT
        + """

Si votre règlement est déjà parti, merci de ne pas tenir compte de ce message.
"""
        + _SIGNATURE,
    ),
    (
        3,
        "Première relance",
        DunningChannel.EMAIL,
        False,
        "Relance : factures échues – {{ company_name }}",
        """Bonjour,

Sauf erreur ou omission de notre part, nous n'avons pas reçu le règlement des factures \
suivantes, échues depuis le {{ oldest_due_date }} :

{{ invoices_table }}

Montant restant dû : {{ total_due }}

Nous vous remercions de bien vouloir procéder à leur règlement dans les meilleurs délais. \
"""
        + _PAYMENT
        + """

Vous trouverez ci-joint votre relevé de compte. Si votre règlement a été effectué entre-temps, \
merci de ne pas tenir compte de ce message.
"""
        + _SIGNATURE,
    ),
    (
        15,
        "Deuxième relance",
        DunningChannel.EMAIL,
        False,
        "Deuxième relance : factures impayées – {{ company_name }}",
        """Bonjour,

Malgré notre précédent rappel, les factures suivantes restent impayées à ce jour :

{{ invoices_table }}

Montant restant dû : {{ total_due }}

Nous vous demandons de régulariser cette situation sous huit jours. """
        + _PAYMENT
        + """

Nous vous rappelons que tout retard de paiement entraîne de plein droit des pénalités de \
retard et une indemnité forfaitaire pour frais de recouvrement de 40 € par facture \
(articles L441-10 et D441-5 du Code de commerce).

Votre relevé de compte est joint à ce message. Pour toute difficulté, n'hésitez pas à nous \
contacter.
"""
        + _SIGNATURE,
    ),
    (
        30,
        "Mise en demeure",
        DunningChannel.EMAIL,
        True,
        "Mise en demeure de payer – {{ company_name }}",
        """Madame, Monsieur,

Malgré nos relances, les factures suivantes, échues depuis le {{ oldest_due_date }}, \
demeurent impayées :

{{ invoices_table }}

Principal restant dû : {{ total_due }}
Pénalités de retard (article L441-10 du Code de commerce) : {{ interest }}
Indemnités forfaitaires pour frais de recouvrement (40 € par facture, article D441-5 du \
Code de commerce) : {{ indemnity }}

Par la présente, nous vous mettons en demeure de nous régler ces sommes sous huit jours à \
compter de la réception de ce courrier. """
        + _PAYMENT
        + """

À défaut de règlement dans ce délai, nous nous réservons le droit d'engager une procédure \
de recouvrement, sans autre avis.

Votre relevé de compte est joint à ce courrier.
"""
        + _SIGNATURE,
    ),
    (
        45,
        "Transmission à un gestionnaire",
        DunningChannel.HANDOVER,
        False,
        "Dossier à reprendre : {{ customer_name }}",
        """Factures impayées de {{ customer_name }} après mise en demeure :

{{ invoices_table }}

Total dû : {{ total_due }}. À traiter par un gestionnaire (appel, plan de règlement, \
recouvrement).""",
    ),
]


def _model(apps: Any, name: str) -> Any:
    if apps is not None:
        return apps.get_model("collections", name)
    from levier.collections import models

    return getattr(models, name)


def seed_interest_rates(apps: Any = None) -> int:
    """The ECB rates of 2024 H1 to 2026 H1 (see `ECB_RATES`); returns how many were added.

    A half-year already entered is kept: accounting's figure wins over this list.
    """
    rate_model = _model(apps, "LateInterestRate")
    added = 0
    for valid_from, ecb_rate in ECB_RATES.items():
        _row, created = rate_model.objects.get_or_create(
            valid_from=valid_from,
            defaults={"ecb_rate": ecb_rate, "margin_points": MARGIN_POINTS},
        )
        added += int(created)
    return added


def seed_default_scenario(apps: Any = None) -> Any:
    """The default scenario: J−5 courtesy email, J+3 and J+15 reminders, J+30 formal notice
    (email with the letter and the statement attached), J+45 hand-over to a person.

    When a default scenario exists it is returned unchanged (its texts may have been edited);
    otherwise it is created with its steps. Returns the scenario.
    """
    scenario_model = _model(apps, "DunningScenario")
    step_model = _model(apps, "DunningStep")
    existing = scenario_model.objects.filter(is_default=True).first()
    if existing is not None:
        return existing
    scenario = scenario_model.objects.create(name=DEFAULT_SCENARIO_NAME, is_default=True)
    step_model.objects.bulk_create(
        [
            step_model(
                scenario=scenario,
                name=name,
                offset_days=offset,
                channel=str(channel),
                is_formal_notice=formal,
                subject=subject,
                body=body,
            )
            for offset, name, channel, formal, subject, body in DEFAULT_STEPS
        ]
    )
    return scenario
