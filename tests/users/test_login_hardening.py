"""Login lockout that holds against respelled names, works behind the TLS proxy, and audits every try."""

import pytest

from annotations.models import AuditEvent
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.1"
FULLWIDTH_HUGO = "\uff48\uff55\uff47\uff4f"  # NFKC folds it to "hugo"


def login(client, username, password="wrong", **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


@pytest.mark.parametrize("spelling", [FULLWIDTH_HUGO, "hugo ", " hugo", "HUGO", "Hugo"])
def test_respelling_the_name_does_not_escape_the_accounts_lockout(client, settings, spelling):
    from tests.factories import UserFactory

    UserFactory(username="hugo", roles=[])
    settings.LOGIN_FAILURE_LIMIT = 5
    for _ in range(5):
        login(client, "hugo")
    # Another address, so only the account's own count can refuse it.
    response = login(client, spelling, PASSWORD, REMOTE_ADDR="192.0.2.99")
    assert response.status_code == 429
    assert client.get("/").status_code == 302


PADDED_HUGO = " " * 149 + "hugo"  # the form trims it to "hugo"; the view once cut it to 150 first


def test_a_name_padded_past_150_characters_neither_escapes_nor_dodges_the_lockout(client, settings):
    from tests.factories import UserFactory

    UserFactory(username="hugo", roles=[])
    settings.LOGIN_FAILURE_LIMIT = 3
    for index in range(3):  # wrong guesses made padded count against the account
        login(client, PADDED_HUGO, REMOTE_ADDR=f"192.0.2.{index + 1}")
    assert login(client, "hugo", PASSWORD, REMOTE_ADDR="192.0.2.60").status_code == 429
    # and the padded name does not sign into the account it locked
    assert login(client, PADDED_HUGO, PASSWORD, REMOTE_ADDR="192.0.2.61").status_code == 429
    assert client.get("/").status_code == 302
    typed = set(
        AuditEvent.objects.filter(action="auth.login_failed").values_list("actor_username", flat=True)
    )
    assert typed == {"hugo"}


def test_failures_spread_over_spellings_and_addresses_lock_the_account(client, settings):
    from tests.factories import UserFactory

    UserFactory(username="hugo", roles=[])
    settings.LOGIN_FAILURE_LIMIT = 5
    spellings = ["hugo", FULLWIDTH_HUGO, "hugo ", " hugo", "HUGO"]
    for index, spelling in enumerate(spellings):
        login(client, spelling, REMOTE_ADDR=f"192.0.2.{index + 1}")
    assert login(client, "hugo", PASSWORD, REMOTE_ADDR="192.0.2.50").status_code == 429


def test_behind_a_trusted_proxy_one_client_guessing_locks_out_that_client_only(client, ana, diego, settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.TRUSTED_PROXIES = [PROXY]
    attacker = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "203.0.113.5"}
    for index in range(5):
        login(client, f"made-up-{index}", **attacker)
    # The attacker's own address is locked, even with a right password ...
    assert login(client, "ana", PASSWORD, **attacker).status_code == 429
    # ... but everybody else behind the same proxy signs in.
    for user, address in (("ana", "198.51.100.7"), ("diego", "198.51.100.8")):
        response = login(client, user, PASSWORD, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=address)
        assert response.status_code == 302, user
        client.post("/accounts/logout/")
    failed = AuditEvent.objects.filter(action="auth.login_failed")
    assert set(failed.values_list("ip_address", flat=True)) == {"203.0.113.5"}
    assert AuditEvent.objects.get(action="auth.login", actor=ana).ip_address == "198.51.100.7"


def test_the_real_client_is_the_rightmost_address_no_trusted_proxy_added(client, ana, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    # The client forged the first entry; the two proxies (both trusted) appended the rest.
    forwarded = "1.2.3.4, 198.51.100.7, 10.0.0.2"
    login(client, "ana", PASSWORD, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)
    assert AuditEvent.objects.get(action="auth.login").ip_address == "198.51.100.7"


def test_forwarded_for_from_an_untrusted_peer_is_ignored(client, ana, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXIES = [PROXY]
    # A client connecting directly cannot choose its address by sending the header.
    for index in range(3):
        login(client, f"x{index}", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"192.0.2.{index}")
    assert set(AuditEvent.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}
    response = login(client, "ana", PASSWORD, REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="192.0.2.9")
    assert response.status_code == 429


def test_a_proxy_that_forwards_no_client_address_never_locks_out_everybody(client, ana, settings):
    """Misconfigured proxy (no X-Forwarded-For): its address stands for everybody, so it is never
    address-locked; the accounts guessed at are still locked each on their own count."""
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXIES = [PROXY]
    for index in range(3):
        login(client, f"x{index}", REMOTE_ADDR=PROXY)
    assert login(client, "ana", PASSWORD, REMOTE_ADDR=PROXY).status_code == 302


def test_with_a_hop_count_the_client_is_that_many_entries_from_the_right(client, ana, settings):
    """A cloud load balancer has no fixed address to list: TRUSTED_PROXY_HOPS=2 says two proxies
    append to X-Forwarded-For, so the second entry from the right is the client, whatever was forged
    to its left."""
    settings.TRUSTED_PROXY_HOPS = 2
    forwarded = "1.2.3.4, 198.51.100.7, 10.9.8.7"
    login(client, "ana", PASSWORD, REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert AuditEvent.objects.get(action="auth.login").ip_address == "198.51.100.7"


def test_with_a_hop_count_a_short_chain_leaves_the_peer_as_the_client(client, ana, settings):
    """Fewer entries than hops: the request did not come through the proxies (a direct connection),
    so the header is not believed and the peer is the client."""
    settings.TRUSTED_PROXY_HOPS = 2
    login(client, "ana", PASSWORD, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert AuditEvent.objects.get(action="auth.login").ip_address == "203.0.113.9"


def test_with_a_hop_count_one_guesser_locks_out_only_themselves(client, ana, diego, settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.TRUSTED_PROXY_HOPS = 1
    attacker = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "203.0.113.5"}
    for index in range(5):
        login(client, f"made-up-{index}", **attacker)
    assert login(client, "ana", PASSWORD, **attacker).status_code == 429
    response = login(client, "diego", PASSWORD, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert response.status_code == 302


def test_a_name_with_a_nul_byte_is_refused_and_still_audited(client, settings):
    response = login(client, "x\x00y")
    assert response.status_code == 400
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor is None and event.actor_username == "x\ufffdy"
    assert event.ip_address == "127.0.0.1"


def test_a_nul_byte_in_the_password_is_refused_and_audited(client, ana):
    response = login(client, "ana", "pass\x00word")
    assert response.status_code == 400
    assert AuditEvent.objects.get(action="auth.login_failed").actor_username == "ana"


def test_the_admin_login_is_no_way_around_the_lockout(client, diego, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        login(client, "diego")
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "diego", "password": PASSWORD}, REMOTE_ADDR="192.0.2.9"
    )
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/admin/").status_code == 302
    assert login(client, "diego", PASSWORD, REMOTE_ADDR="192.0.2.9").status_code == 429


def test_a_signed_in_reader_who_opens_the_admin_is_told_no_not_sent_round_in_circles(client_for, ana):
    """The admin sent a signed-in non-coordinator to its login, which sent a signed-in user back to the
    admin: ERR_TOO_MANY_REDIRECTS in the browser."""
    client = client_for(ana)
    answer = client.get("/admin/", follow=True)
    assert len(answer.redirect_chain) <= 2
    assert answer.status_code == 403


def test_a_signed_in_coordinator_at_the_admins_login_goes_to_the_admin(client_for, diego):
    answer = client_for(diego).get("/admin/login/")
    assert answer.status_code == 302 and answer["Location"] == "/admin/"
