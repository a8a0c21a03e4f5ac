"""Read queries on the catalog, shared by the web pages and the order screens."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from levier.catalog.models import Product


def search_products(
    query: str = "", *, active_only: bool = True, limit: int = 200
) -> QuerySet[Product]:
    """Products whose code starts with, or label contains, `query` (code order)."""
    products = Product.objects.filter(is_active=True) if active_only else Product.objects.all()
    text = (query or "").strip()
    if text:
        products = products.filter(Q(code__istartswith=text) | Q(label__icontains=text))
    return products.order_by("code")[:limit]


def sellable_products() -> QuerySet[Product]:
    """What a quote or order line may pick from: active products only."""
    return Product.objects.filter(is_active=True).order_by("code")
