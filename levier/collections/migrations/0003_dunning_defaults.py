"""A new installation starts with the French default dunning scenario and the ECB rates.

Both seeds leave alone what already exists (a scenario or a rate edited by accounting).
"""

from typing import Any

from django.db import migrations


def seed(apps: Any, schema_editor: Any) -> None:
    from levier.collections.dunning_defaults import seed_default_scenario, seed_interest_rates

    seed_interest_rates(apps)
    seed_default_scenario(apps)


class Migration(migrations.Migration):
    dependencies = [("collections", "0002_payments_disputes_dunning")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
