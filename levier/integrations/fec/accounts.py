"""The account plan of the FEC export: which account and journal each movement goes to.

Accountants number their accounts their own way (411000 or 41100000, one revenue account
per activity or per VAT rate), so every number is a setting with the usual French default.
The plan is read from, in this order, the defaults below, the Django setting
`LEVIER_FEC_ACCOUNTS` (a dict) and a YAML file given on the command line (`--accounts`):
each source overrides the keys it names. An unknown key is refused by name rather than
ignored, since a misspelt key would otherwise export silently to the default account.

Some prefixes are checked, not only the shape: an audit reads a FEC by its accounts
(`kpis.md`, "From a FEC file": receivables are the accounts starting with 411, revenue with
70, a settlement is a piece with a class-5 line, FAE is 4181, PCA 487), so a plan that moved
customers to 410 would make the export unreadable by the very rules it is meant for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.utils.translation import gettext as _

from levier.integrations.fec.errors import FecExportError

SETTING_NAME = "LEVIER_FEC_ACCOUNTS"

# Account (or rate-map) field → the prefix its numbers must start with, and why.
REQUIRED_PREFIXES: dict[str, str] = {
    "customers": "411",
    "customer_credit": "41",
    "revenue": "70",
    "revenue_by_rate": "70",
    "vat": "4457",
    "vat_by_rate": "4457",
    "bank": "5",
    "fae": "4181",
    "fae_vat": "4458",
    "pca": "487",
    "suspense": "47",
    "opening": "8",
}
JOURNAL_FIELDS = ("sales_journal", "bank_journal", "closing_journal", "opening_journal")
ACCOUNT_RE = re.compile(r"^[0-9]{3}[0-9A-Za-z]{0,37}$")
JOURNAL_RE = re.compile(r"^[0-9A-Za-z]{1,10}$")
PREFIX_RE = re.compile(r"^[0-9A-Za-z]{0,10}$")
MAX_LABEL = 200

RateMap = tuple[tuple[Decimal, str], ...]

DEFAULT_VAT_BY_RATE: RateMap = (
    (Decimal("20"), "445711"),
    (Decimal("10"), "445712"),
    (Decimal("5.5"), "445713"),
    (Decimal("2.1"), "445714"),
)


class AccountPlanError(FecExportError, ValueError):
    """A plan that cannot be used; the message names the source and the key."""


@dataclass(frozen=True)
class AccountPlan:
    """Account numbers and journal codes of the export (defaults: the usual French PCG).

    Rate maps are tuples of (rate %, account) pairs so the plan stays hashable and frozen;
    `vat_account` and `revenue_account` read them.
    """

    # Collective customer account; each customer is its auxiliary account (CompAuxNum).
    customers: str = "411000"
    # CompAuxNum = this prefix + the customer's id on 6 digits (Levier has no customer code).
    customer_aux_prefix: str = "C"
    # Where a payment's unallocated remainder (overpayment, not matched yet) goes, on the
    # payer's auxiliary account. 411 (the default) nets it in the receivables an audit reads;
    # 4191 (advances received) keeps the 411 balance equal to Levier's receivables, which
    # show the customer credit apart (kpis.md, AR(d)).
    customer_credit: str = "411000"
    # Revenue of lines whose product names no account of its own, unless `revenue_by_rate`
    # names one for the line's VAT rate; also the revenue side of the FAE and PCA entries.
    revenue: str = "706000"
    revenue_by_rate: RateMap = ()
    # True: a line keeps the revenue account of its product (Product.revenue_account) when it
    # differs from the model default 706000, e.g. 706110 for fixed-price projects.
    use_product_accounts: bool = True
    # VAT collected: one account per rate, `vat` for a rate not listed (0 % lines have none).
    vat: str = "445710"
    vat_by_rate: RateMap = DEFAULT_VAT_BY_RATE
    bank: str = "512000"
    # Accrued revenue (factures à établir) and its VAT, deferred revenue (PCA).
    fae: str = "418100"
    fae_vat: str = "445870"
    pca: str = "487000"
    # Money received from nobody known and allocated to nothing (compte d'attente).
    suspense: str = "471000"
    # The counterpart of the opening balances (bilan d'ouverture).
    opening: str = "890000"
    sales_journal: str = "VE"
    bank_journal: str = "BQ"
    closing_journal: str = "OD"
    opening_journal: str = "AN"
    # CompteLib by account number and JournalLib by journal code, replacing the defaults.
    labels: tuple[tuple[str, str], ...] = ()
    journal_labels: tuple[tuple[str, str], ...] = ()
    _rate_cache: dict[str, dict[Decimal, str]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def _rates(self, name: str) -> dict[Decimal, str]:
        if name not in self._rate_cache:
            self._rate_cache[name] = dict(getattr(self, name))
        return self._rate_cache[name]

    def vat_account(self, rate: Decimal) -> str:
        return self._rates("vat_by_rate").get(rate, self.vat)

    def revenue_account(self, rate: Decimal, line_account: str = "") -> str:
        if self.use_product_accounts and line_account and line_account != DEFAULT_LINE_ACCOUNT:
            return line_account
        return self._rates("revenue_by_rate").get(rate, self.revenue)

    def customer_aux(self, customer_id: int) -> str:
        return f"{self.customer_aux_prefix}{customer_id:06d}"

    def label(self, account: str, default: str) -> str:
        return dict(self.labels).get(account, default)

    def journal_label(self, code: str, default: str) -> str:
        return dict(self.journal_labels).get(code, default)


# What InvoiceLine.revenue_account holds when the line's product named nothing else.
DEFAULT_LINE_ACCOUNT = "706000"

_RATE_MAPS = {"revenue_by_rate", "vat_by_rate"}
_TEXT_MAPS = {"labels", "journal_labels"}
FIELD_NAMES = tuple(f.name for f in fields(AccountPlan) if f.init)


def _fail(source: str, key: str, problem: str) -> AccountPlanError:
    return AccountPlanError(
        _("%(source)s, key “%(key)s”: %(problem)s")
        % {"source": source, "key": key, "problem": problem}
    )


def _account(source: str, key: str, value: Any) -> str:
    # YAML reads 411000 as an integer: an account number is text, digits kept as written.
    valid_type = isinstance(value, str | int) and not isinstance(value, bool)
    text = str(value).strip() if valid_type else ""
    if not ACCOUNT_RE.match(text):
        raise _fail(
            source,
            key,
            _("“%(value)s” is not an account number (3 digits, then up to 37 letters or digits)")
            % {"value": value},
        )
    prefix = REQUIRED_PREFIXES.get(key.split("[", 1)[0])
    if prefix and not text.startswith(prefix):
        raise _fail(
            source,
            key,
            _("%(value)s must start with %(prefix)s (the class an audit reads it by)")
            % {"value": text, "prefix": prefix},
        )
    return text


def _rate(source: str, key: str, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _fail(source, key, _("“%(value)s” is not a VAT rate") % {"value": value})
    try:
        rate = Decimal(str(value).strip().replace(",", ".").rstrip("%").strip())
    except InvalidOperation:
        raise _fail(source, key, _("“%(value)s” is not a VAT rate") % {"value": value}) from None
    if not rate.is_finite() or not Decimal(0) <= rate < Decimal(100):
        raise _fail(source, key, _("“%(value)s” is not a VAT rate") % {"value": value})
    return rate


def _text(source: str, key: str, value: Any) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _fail(source, key, _("expected a text"))
    text = " ".join(str(value).split())
    if not text or len(text) > MAX_LABEL:
        raise _fail(source, key, _("a label has 1 to %(max)s characters") % {"max": MAX_LABEL})
    return text


def _mapping(source: str, key: str, value: Any) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise _fail(source, key, _("expected a mapping (key: value lines)"))
    return value


def _value(source: str, key: str, value: Any) -> Any:
    if key in _RATE_MAPS:
        pairs = {}
        for rate, account in _mapping(source, key, value).items():
            parsed = _rate(source, f"{key}[{rate}]", rate)
            pairs[parsed] = _account(source, f"{key}[{rate}]", account)
        return tuple(sorted(pairs.items()))
    if key in _TEXT_MAPS:
        checked: dict[str, str] = {}
        for name, label in _mapping(source, key, value).items():
            if key == "labels":
                number = _account(source, f"{key}[{name}]", name)
            else:
                number = _journal(source, f"{key}[{name}]", name)
            checked[number] = _text(source, f"{key}[{name}]", label)
        return tuple(sorted(checked.items()))
    if key == "use_product_accounts":
        if not isinstance(value, bool):
            raise _fail(source, key, _("expected true or false"))
        return value
    if key == "customer_aux_prefix":
        text = "" if value is None else str(value)
        if not isinstance(value, str | type(None)) or not PREFIX_RE.match(text):
            raise _fail(source, key, _("up to 10 letters or digits"))
        return text
    if key in JOURNAL_FIELDS:
        return _journal(source, key, value)
    return _account(source, key, value)


def _journal(source: str, key: str, value: Any) -> str:
    text = str(value).strip() if isinstance(value, str) else ""
    if not JOURNAL_RE.match(text):
        raise _fail(
            source,
            key,
            _("“%(value)s” is not a journal code (1 to 10 letters or digits)") % {"value": value},
        )
    return text


def plan_from_mapping(
    data: Mapping[str, Any] | None, *, source: str, base: AccountPlan | None = None
) -> AccountPlan:
    """`base` (the defaults when None) with the keys of `data` replaced, every one checked."""
    plan = base or AccountPlan()
    if data is None:
        return plan
    if not isinstance(data, Mapping):
        raise AccountPlanError(
            _("%(source)s: expected a mapping of account plan keys") % {"source": source}
        )
    unknown = sorted(str(key) for key in data if key not in FIELD_NAMES)
    if unknown:
        raise AccountPlanError(
            _("%(source)s: unknown key(s) %(keys)s (known keys: %(known)s)")
            % {"source": source, "keys": ", ".join(unknown), "known": ", ".join(FIELD_NAMES)}
        )
    changes = {str(key): _value(source, str(key), value) for key, value in data.items()}
    plan = replace(plan, **changes)
    journals = [getattr(plan, name) for name in JOURNAL_FIELDS]
    if len(set(journals)) != len(journals):
        raise AccountPlanError(
            _("%(source)s: the four journals need four different codes (got %(codes)s)")
            % {"source": source, "codes": ", ".join(journals)}
        )
    return plan


def load_yaml_plan(path: Path, base: AccountPlan | None = None) -> AccountPlan:
    """The plan of a YAML file (same keys as the setting), over `base`."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AccountPlanError(_("%(path)s: no such file") % {"path": source}) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AccountPlanError(
            _("%(path)s: cannot be read (%(reason)s)") % {"path": source, "reason": exc}
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise AccountPlanError(
            _("%(path)s: not valid YAML %(where)s (%(reason)s)")
            % {"path": source, "where": where, "reason": getattr(exc, "problem", exc)}
        ) from None
    return plan_from_mapping(data, source=source, base=base)


def load_account_plan(path: Path | None = None) -> AccountPlan:
    """Defaults, then the `LEVIER_FEC_ACCOUNTS` setting, then the deployment's YAML file
    (`LEVIER_FEC_ACCOUNTS_FILE`, an environment variable), then the YAML file if given."""
    plan = plan_from_mapping(getattr(settings, SETTING_NAME, None), source=SETTING_NAME)
    deployed = getattr(settings, "LEVIER_FEC_ACCOUNTS_FILE", "")
    if deployed:
        plan = load_yaml_plan(Path(deployed), plan)
    if path is not None:
        plan = load_yaml_plan(path, plan)
    return plan
