"""Helpers for tests of data migrations: the database moved to a migration, and rows of its models."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def apps_at(targets: list[tuple[str, str]]):
    """The database migrated (forwards or back) to `targets`, and the models as they stood there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def apps_at_latest() -> None:
    """The database back at the newest migrations, as the rest of the suite expects it."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def historical_exam(apps, name: str, digit: int, dataset: str = "d"):
    """A minimal exam of the historical models, its waveform hash made of one repeated digit."""
    return apps.get_model("annotations", "Exam").objects.create(
        dataset=apps.get_model("annotations", "Dataset").objects.get_or_create(name=dataset)[0],
        external_id=name,
        sampling_rate=500,
        n_samples=10,
        gain_uv=1,
        waveform_key=name,
        waveform_sha256=f"{digit}" * 64,
        source_format="synthetic",
    )
