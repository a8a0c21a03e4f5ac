import random

import factory

from levier.customers.matching import normalize_name
from levier.customers.models import Contact, Customer, DeliveryAddress
from levier.lib.identifiers import fake_siren, fake_siret, vat_from_siren

_rng = random.Random(20261127)


class CustomerFactory(factory.django.DjangoModelFactory):
    """A complete French customer: valid SIREN/SIRET/VAT, billing and purchasing contacts."""

    class Meta:
        model = Customer
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Société Exemple {n} SAS")
    search_name = factory.LazyAttribute(lambda c: normalize_name(c.name))
    siren = factory.LazyFunction(lambda: fake_siren(_rng))
    siret = factory.LazyAttribute(lambda c: fake_siret(_rng, c.siren))
    vat_number = factory.LazyAttribute(lambda c: vat_from_siren(c.siren))
    address_line1 = "12 rue de la Paix"
    postcode = "75002"
    city = "Paris"
    payment_terms_days = 30

    @factory.post_generation
    def with_contacts(
        obj: Customer, create: bool, extracted: bool | None, **kwargs: object
    ) -> None:
        if create and extracted is not False:
            ContactFactory(customer=obj, is_purchasing=True, is_accounts_payable=True)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory, with_contacts=False)
    first_name = factory.Faker("first_name", locale="fr_FR")
    last_name = factory.Faker("last_name", locale="fr_FR")
    email = factory.Sequence(lambda n: f"contact{n}@client.example")


class DeliveryAddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryAddress

    customer = factory.SubFactory(CustomerFactory)
    label = "Siège"
    line1 = "1 avenue des Champs"
    postcode = "69001"
    city = "Lyon"
    is_default = True
