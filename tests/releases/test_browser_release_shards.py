"""In Chromium: the release page of a sharded build counts the shards as workers write them, offers no
file before the end, then lists every shard and the zip."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotations.services.releases.builds import release_build, release_create
from annotations.services.releases.shards import release_shard_build, release_shards_finish
from tests.browser import screenshot_path
from tests.reading.test_browser_reader import log_in
from tests.releases.sharding import read_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_release_page_follows_the_shards_then_lists_every_file(
    live_server, page, ana, diego, tnmg, settings
):
    settings.RELEASE_SHARD_EXAMS = 3
    batch = read_study(7, reader=ana, coordinator=diego, taxonomy=tnmg)
    release = release_create(actor=diego, batches=[batch])
    release_build(release.pk)
    release_shard_build(release.pk, 0)
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/releases/{release.pk}/")
    expect(page.locator("#release-shards")).to_be_visible()
    expect(page.locator("#release-shards-done")).to_have_text("1")
    expect(page.locator("#release-shards-total")).to_have_text("3")
    assert page.locator("#release-zip").count() == 0
    release_shard_build(release.pk, 2)  # a worker writes another shard: the page's poll shows it
    expect(page.locator("#release-shards-done")).to_have_text("2", timeout=15_000)
    page.screenshot(path=screenshot_path("release-shards-progress"), full_page=True)
    release_shard_build(release.pk, 1)
    release_shards_finish(release.pk)
    expect(page.locator("#release")).to_have_attribute("data-finished", "1", timeout=15_000)
    expect(page.locator("#release-zip")).to_be_visible()
    for name in ("tracings-000.hdf5", "tracings-001.hdf5", "tracings-002.hdf5", "tracings-index.csv"):
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
