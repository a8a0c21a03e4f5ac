"""Parsing and pricing of quote/order lines (pure, apart from the product lookup)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from levier.catalog.choices import VAT_RATES, Unit
from levier.catalog.models import Product
from levier.lib.errors import ValidationFailed
from levier.lib.money import MoneyError, Totals, document_totals, line_net, to_decimal

MAX_LINES = 500
MAX_QUANTITY = Decimal("9999999.999")
MAX_UNIT_PRICE = Decimal("9999999999.9999")
# Amounts are DECIMAL(14, 2): a line or document total must stay below 10^12 €.
MAX_AMOUNT = Decimal("1000000000000")
MAX_ID_DIGITS = 18  # a BIGINT primary key; longer "ids" would overflow the database driver


@dataclass(frozen=True)
class LineData:
    product_id: int | None
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    discount_percent: Decimal
    vat_rate: Decimal
    net_amount: Decimal


FIELD_LABELS = {
    "product": pgettext_lazy("line field", "product"),
    "description": pgettext_lazy("line field", "description"),
    "quantity": pgettext_lazy("line field", "quantity"),
    "unit": pgettext_lazy("line field", "unit"),
    "unit_price": pgettext_lazy("line field", "unit price"),
    "discount_percent": pgettext_lazy("line field", "discount"),
    "vat_rate": pgettext_lazy("line field", "VAT rate"),
}


def line_error(n: int, field: str, problem: str) -> str:
    """ "line 2, quantity: must be greater than 0…": the line and field the user must fix."""
    return _("line %(line)s, %(field)s: %(problem)s") % {
        "line": n,
        "field": FIELD_LABELS[field],
        "problem": problem,
    }


def _decimal(raw: Any, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    try:
        return to_decimal(raw)
    except MoneyError:
        _lines, n, name = field.split(".")
        problem = _("“%(value)s” is not a number") % {"value": raw}
        errors.setdefault(field, []).append(line_error(int(n), name, problem))
        return None


def _product_id(raw: Mapping[str, Any]) -> int | None:
    """The product id a line names, if it can be one (ASCII digits, fits a BIGINT)."""
    text = str(raw.get("product_id") or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS:
        return int(text)
    return None


def parse_lines(
    raw_lines: Sequence[Mapping[str, Any]],
    products: Mapping[int, Product] | None = None,
    *,
    allow_inactive: bool = False,
) -> list[LineData]:
    """Validate raw line dicts; product defaults fill what the line leaves blank.

    Errors are keyed `lines.<n>.<field>` (1-based), all collected before raising, so the
    user fixes every line in one go. A batch passes the `products` it loaded once. A
    product no longer sold is refused on new quotes and orders, not on invoices
    (`allow_inactive`): what a contract still runs must still be billed.
    """
    if not raw_lines:
        message = _("A document needs at least one line")
        raise ValidationFailed(message, errors={"lines": [message]})
    if len(raw_lines) > MAX_LINES:
        message = _("At most %(max)s lines") % {"max": MAX_LINES}
        raise ValidationFailed(message, errors={"lines": [message]})
    if products is None:
        product_ids = {pid for pid in (_product_id(r) for r in raw_lines) if pid is not None}
        products = Product.objects.in_bulk(product_ids) if product_ids else {}
    errors: dict[str, list[str]] = {}
    result: list[LineData] = []
    for n, raw in enumerate(raw_lines, start=1):
        key = f"lines.{n}"
        line_errors: dict[str, list[str]] = {}
        product: Product | None = None
        raw_product = str(raw.get("product_id") or "")
        if raw_product:
            if _product_id(raw) not in products:
                line_errors.setdefault(f"{key}.product", []).append(
                    line_error(
                        n, "product", _("unknown product “%(value)s”") % {"value": raw_product}
                    )
                )
            else:
                product = products[int(raw_product.strip())]
                if not product.is_active and not allow_inactive:
                    line_errors.setdefault(f"{key}.product", []).append(
                        line_error(
                            n, "product", _("%(code)s is no longer sold") % {"code": product.code}
                        )
                    )

        def pick(name: str, default: Any, raw: Mapping[str, Any] = raw) -> Any:
            value = raw.get(name)
            return default if value in (None, "") else value

        description = str(pick("description", product.label if product else "")).strip()
        if not description:
            line_errors.setdefault(f"{key}.description", []).append(
                line_error(n, "description", _("required"))
            )
        quantity = _decimal(pick("quantity", ""), f"{key}.quantity", line_errors)
        unit_price = _decimal(
            pick("unit_price", product.unit_price if product else ""),
            f"{key}.unit_price",
            line_errors,
        )
        discount = _decimal(pick("discount_percent", "0"), f"{key}.discount_percent", line_errors)
        vat_rate = _decimal(
            pick("vat_rate", product.vat_rate if product else "20"), f"{key}.vat_rate", line_errors
        )
        unit = str(pick("unit", product.unit if product else Unit.DAY))
        if unit not in Unit.values:
            line_errors.setdefault(f"{key}.unit", []).append(
                line_error(n, "unit", _("unknown unit “%(value)s”") % {"value": unit})
            )
        if quantity is not None and not (Decimal("0") < quantity <= MAX_QUANTITY):
            line_errors.setdefault(f"{key}.quantity", []).append(
                line_error(
                    n,
                    "quantity",
                    _("must be greater than 0 and at most %(max)s") % {"max": MAX_QUANTITY},
                )
            )
        if (
            quantity is not None
            and Decimal("0") < quantity <= MAX_QUANTITY
            and quantity != quantity.quantize(Decimal("0.001"))
        ):
            line_errors.setdefault(f"{key}.quantity", []).append(
                line_error(n, "quantity", _("at most %(n)s decimals") % {"n": 3})
            )
        if unit_price is not None and not (Decimal("0") <= unit_price <= MAX_UNIT_PRICE):
            line_errors.setdefault(f"{key}.unit_price", []).append(
                line_error(
                    n, "unit_price", _("must be between 0 and %(max)s") % {"max": MAX_UNIT_PRICE}
                )
            )
        if (
            unit_price is not None
            and Decimal("0") <= unit_price <= MAX_UNIT_PRICE
            and unit_price != unit_price.quantize(Decimal("0.0001"))
        ):
            line_errors.setdefault(f"{key}.unit_price", []).append(
                line_error(n, "unit_price", _("at most %(n)s decimals") % {"n": 4})
            )
        if discount is not None and not (Decimal("0") <= discount <= Decimal("100")):
            line_errors.setdefault(f"{key}.discount_percent", []).append(
                line_error(
                    n, "discount_percent", _("must be between 0 and %(max)s %%") % {"max": 100}
                )
            )
        if (
            discount is not None
            and Decimal("0") <= discount <= Decimal("100")
            and discount != discount.quantize(Decimal("0.01"))
        ):
            line_errors.setdefault(f"{key}.discount_percent", []).append(
                line_error(n, "discount_percent", _("at most %(n)s decimals") % {"n": 2})
            )
        if vat_rate is not None and vat_rate not in VAT_RATES:
            line_errors.setdefault(f"{key}.vat_rate", []).append(
                line_error(
                    n,
                    "vat_rate",
                    _("%(rate)s %% is not a French VAT rate (20, 10, 5.5, 2.1, 0)")
                    % {"rate": vat_rate},
                )
            )
        if line_errors:
            errors.update(line_errors)
            continue
        assert quantity is not None and unit_price is not None
        assert discount is not None and vat_rate is not None
        net_amount = line_net(quantity, unit_price, discount)
        if net_amount >= MAX_AMOUNT:
            errors[f"{key}.quantity"] = [
                line_error(
                    n,
                    "quantity",
                    _("the line amount %(amount)s is over the %(max)s maximum")
                    % {"amount": net_amount, "max": MAX_AMOUNT},
                )
            ]
            continue
        result.append(
            LineData(
                product_id=product.pk if product else None,
                description=description[:500],
                quantity=quantity,
                unit=unit,
                unit_price=unit_price,
                discount_percent=discount,
                vat_rate=vat_rate.quantize(Decimal("0.01")),
                net_amount=net_amount,
            )
        )
    if not errors and totals_of(result).gross >= MAX_AMOUNT:
        errors["lines"] = [
            _("the document total is over the %(max)s maximum") % {"max": MAX_AMOUNT}
        ]
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(first, errors=errors)
    return result


class PricedLine(Protocol):
    """What order, quote and invoice lines (and LineData) have in common."""

    @property
    def product_id(self) -> int | None: ...
    @property
    def description(self) -> str: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def unit(self) -> str: ...
    @property
    def unit_price(self) -> Decimal: ...
    @property
    def discount_percent(self) -> Decimal: ...
    @property
    def vat_rate(self) -> Decimal: ...
    @property
    def net_amount(self) -> Decimal: ...


def raw_lines_of(lines: Iterable[PricedLine]) -> list[dict[str, Any]]:
    """Stored lines back into the raw form `parse_lines` takes (to copy them to a new
    document: quote → order, order → invoice, invoice → credit note)."""
    return [
        {
            "product_id": line.product_id,
            "description": line.description,
            "quantity": line.quantity,
            "unit": line.unit,
            "unit_price": line.unit_price,
            "discount_percent": line.discount_percent,
            "vat_rate": line.vat_rate,
        }
        for line in lines
    ]


def describe_lines(lines: Iterable[PricedLine]) -> list[str]:
    """One readable line per document line, for the audit trail."""
    return [
        f"{line.description} × {line.quantity} @ {line.unit_price} -{line.discount_percent}% "
        f"TVA {line.vat_rate}% = {line.net_amount}"
        for line in lines
    ]


def totals_of(lines: Sequence[LineData]) -> Totals:
    return document_totals((line.net_amount, line.vat_rate) for line in lines)
