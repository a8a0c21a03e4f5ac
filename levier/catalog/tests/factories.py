from decimal import Decimal

import factory

from levier.catalog.models import Product


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"SRV-{n:03d}")
    label = factory.Sequence(lambda n: f"Prestation {n}")
    unit = "day"
    unit_price = Decimal("750.0000")
    vat_rate = Decimal("20.00")
