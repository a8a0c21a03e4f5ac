import pytest

from levier.billing.tests.factories import complete_company_profile


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    """Collections tests issue the invoices they match, as a complete seller."""
    complete_company_profile()
