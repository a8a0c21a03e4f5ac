from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from levier.customers.matching import Certainty, find_duplicates
from levier.customers.tests.factories import CustomerFactory
from levier.customers.tests.helpers import new_siren


def test_customer_with_same_siren_is_flagged_as_certain_duplicate(db: None) -> None:
    existing = CustomerFactory(postcode="75002")
    found = find_duplicates(
        {"name": "Tout autre chose", "siren": existing.siren, "postcode": "13001"}
    )
    assert [(c.customer, c.certainty) for c in found] == [(existing, Certainty.CERTAIN)]


def test_similar_name_in_same_postcode_is_a_probable_duplicate(db: None) -> None:
    existing = CustomerFactory(name="Transports Dupont et Fils SARL", postcode="69003")
    found = find_duplicates(
        {"name": "TRANSPORTS DUPONT & FILS", "siren": new_siren(), "postcode": "69003"}
    )
    assert [(c.customer, c.certainty) for c in found] == [(existing, Certainty.PROBABLE)]
    assert found[0].score >= 85


def test_similar_name_in_another_postcode_is_not_a_duplicate(db: None) -> None:
    CustomerFactory(name="Transports Dupont et Fils SARL", postcode="69003")
    assert find_duplicates({"name": "Transports Dupont et Fils", "postcode": "69007"}) == []


def test_different_name_in_same_postcode_is_not_a_duplicate(db: None) -> None:
    CustomerFactory(name="Boulangerie Martin", postcode="33000")
    assert find_duplicates({"name": "Garage Lefèvre", "postcode": "33000"}) == []


def test_merged_and_excluded_customers_are_not_candidates(db: None) -> None:
    keep = CustomerFactory()
    CustomerFactory(siren=keep.siren, is_active=False, merged_into=keep)
    assert find_duplicates({"siren": keep.siren}, exclude_pk=keep.pk) == []


def test_duplicate_check_makes_two_bounded_queries(db: None) -> None:
    CustomerFactory.create_batch(5, postcode="44000")
    with CaptureQueriesContext(connection) as queries:
        find_duplicates({"name": "Nantes Logistique", "siren": new_siren(), "postcode": "44000"})
    assert len(queries) == 2
    assert all("siren" in q["sql"] or "postcode" in q["sql"] for q in queries.captured_queries)


def test_names_are_compared_through_the_stored_search_name(db: None) -> None:
    # the stored search_name is what is compared: the legal name is not normalized again
    existing = CustomerFactory(
        name="Nom qui ne ressemble à rien", search_name="transports dupont fils", postcode="69003"
    )
    found = find_duplicates({"name": "Transports Dupont & Fils SARL", "postcode": "69003"})
    assert [c.customer for c in found] == [existing]


def test_stored_search_name_is_the_normalized_legal_name(db: None) -> None:
    from levier.customers.matching import normalize_name
    from levier.customers.validation import clean_customer

    values = clean_customer({"name": "S.A.R.L. Électricité Générale", "siren": new_siren()})
    assert values["search_name"] == normalize_name("S.A.R.L. Électricité Générale")
    assert values["search_name"] == "electricite generale"


def test_trade_name_still_counts_for_similarity(db: None) -> None:
    existing = CustomerFactory(
        name="Holding XJ SAS", trade_name="Garage du Centre", postcode="44000"
    )
    found = find_duplicates({"name": "Garage du Centre", "postcode": "44000"})
    assert [c.customer for c in found] == [existing]
