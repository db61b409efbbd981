"""Placeholder filled by the work on this capability."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("annotations", "0038_independence")]

    operations: list = []
