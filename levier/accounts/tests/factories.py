import factory

from levier.accounts.choices import Role
from levier.accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    first_name = factory.Faker("first_name", locale="fr_FR")
    last_name = factory.Faker("last_name", locale="fr_FR")
    role = Role.COMMERCIAL
    # MD5 would be faster but the suite must exercise the configured (argon2) hasher once;
    # the password is set only where a test logs in (see `with_password`).
    password = factory.django.Password("secret-Pa55word")
