"""`make test` finds its servers or starts throwaway ones, and says what to install when it cannot."""

import os

import pytest

from tests import services


def test_the_configured_servers_answer():
    assert services.postgres_reachable(os.environ["DATABASE_URL"])
    assert services.redis_reachable(os.environ["REDIS_URL"])


def test_nothing_answers_on_an_unused_port():
    port = services._free_port()
    assert not services.redis_reachable(f"redis://127.0.0.1:{port}/0", timeout=0.5)
    assert not services.postgres_reachable(f"postgres://postgres@127.0.0.1:{port}/x", timeout=1)


def test_when_no_server_answers_throwaway_postgres_and_redis_are_started_and_removed_again():
    port = services._free_port()
    environ = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/x",
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
    }
    database_url, stop_postgres = services.start_throwaway_postgres()
    redis_url, stop_redis = services.start_throwaway_redis()
    try:
        assert services.postgres_reachable(database_url)
        assert services.redis_reachable(redis_url)
        assert database_url != environ["DATABASE_URL"]
    finally:
        stop_postgres()
        stop_redis()
    assert not services.postgres_reachable(database_url, timeout=1)
    assert not services.redis_reachable(redis_url, timeout=0.5)


def test_without_binaries_the_message_names_the_packages_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(services.ServiceUnavailable, match="apt-get install postgresql redis-server"):
        services.start_throwaway_redis()
