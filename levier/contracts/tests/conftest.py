import pytest

from levier.billing.tests.factories import complete_company_profile


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    """Contract tests issue invoices as a seller whose legal identity is complete."""
    complete_company_profile()
