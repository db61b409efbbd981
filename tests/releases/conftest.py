"""Fixtures of the release tests."""

import pytest

from tests.releases.sharding import read_study


@pytest.fixture
def seven(ana, diego, tnmg):
    """Seven exams, each read once (NORM) by ana."""
    return read_study(7, reader=ana, coordinator=diego, taxonomy=tnmg)
