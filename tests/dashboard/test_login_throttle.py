"""Login throttling: after N failed logins for a username (or from an address) within the lockout
period, every attempt is refused, even with the right password, with a clear message and a 429,
until the period has passed. The admin's login is covered too (the refusal is an auth backend)."""

import time

import pytest
from django.test import Client

from tests.conftest import make_user

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
REFUSED = "Too many failed logins for this account or from this address."
WRONG = "Your username and password didn&#x27;t match."


@pytest.fixture(autouse=True)
def limits(settings):
    settings.CONVOSCOPE_LOGIN_FAILURES_PER_USER = 3
    settings.CONVOSCOPE_LOGIN_FAILURES_PER_IP = 10
    settings.CONVOSCOPE_LOGIN_LOCKOUT_SECONDS = 900
    return settings


@pytest.fixture
def vera(db):
    return make_user("vera", "viewer")


def log_in(client, username, password, address="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(client) -> bool:
    return client.get("/").status_code == 200


def fail(client, username, times, address="10.0.0.1"):
    for _ in range(times):
        log_in(client, username, "wrong", address)


def test_failures_below_the_limit_answer_the_usual_message(client, vera):
    for _ in range(2):
        response = log_in(client, "vera", "wrong")
        assert response.status_code == 200
        assert WRONG in response.content.decode()
    assert log_in(client, "vera", "pw-vera").status_code == 302
    assert logged_in(client)


def test_the_failure_that_reaches_the_limit_already_says_so(client, vera):
    fail(client, "vera", 2)
    response = log_in(client, "vera", "wrong")
    assert response.status_code == 429
    assert REFUSED in response.content.decode()
    assert "Try again in 15 minute(s)." in response.content.decode()
    assert 890 <= int(response["Retry-After"]) <= 900


def test_a_locked_out_username_is_refused_even_with_the_right_password(client, vera):
    fail(client, "vera", 3)
    response = log_in(client, "vera", "pw-vera")
    assert response.status_code == 429
    assert REFUSED in response.content.decode()
    assert not logged_in(client)


def test_the_lockout_is_per_username_and_ignores_case(client, vera):
    make_user("otto", "operator")
    fail(client, "VERA", 3, address="10.0.0.1")
    assert log_in(Client(), "vera", "pw-vera", address="10.0.0.2").status_code == 429  # any address
    other = Client()
    assert log_in(other, "otto", "pw-otto", address="10.0.0.1").status_code == 302
    assert logged_in(other)


def test_the_lockout_ends_after_the_lockout_period(client, vera, monkeypatch):
    fail(client, "vera", 3)
    assert log_in(client, "vera", "pw-vera").status_code == 429
    later = time.time() + 901
    monkeypatch.setattr(time, "time", lambda: later)  # the cache's expiry and the lock's end both read it
    assert log_in(client, "vera", "pw-vera").status_code == 302
    assert logged_in(client)


def test_attempts_during_a_lockout_do_not_prolong_it(client, vera, monkeypatch):
    fail(client, "vera", 3)
    start = time.time()
    monkeypatch.setattr(time, "time", lambda: start + 600)
    fail(client, "vera", 5)
    monkeypatch.setattr(time, "time", lambda: start + 901)
    assert log_in(client, "vera", "pw-vera").status_code == 302


def test_a_successful_login_clears_the_usernames_count(client, vera):
    fail(client, "vera", 2)
    assert log_in(client, "vera", "pw-vera").status_code == 302
    fail(Client(), "vera", 2)
    assert log_in(Client(), "vera", "pw-vera").status_code == 302


def test_failures_expire_with_the_window(client, vera, monkeypatch):
    fail(client, "vera", 2)
    later = time.time() + 901
    monkeypatch.setattr(time, "time", lambda: later)
    fail(client, "vera", 2)
    assert log_in(client, "vera", "pw-vera").status_code == 302


def test_one_address_trying_many_usernames_is_locked_out(client, limits, vera):
    limits.CONVOSCOPE_LOGIN_FAILURES_PER_IP = 4
    for name in ["alice", "bob", "carol", "dave"]:
        log_in(client, name, "guess", address="203.0.113.9")
    response = log_in(client, "vera", "pw-vera", address="203.0.113.9")
    assert response.status_code == 429
    assert log_in(Client(), "vera", "pw-vera", address="198.51.100.1").status_code == 302


def test_unknown_usernames_are_throttled_like_real_ones(client):
    fail(client, "nobody", 3)
    response = log_in(client, "nobody", "wrong")
    assert response.status_code == 429  # the answer does not tell whether the account exists


def test_limits_set_to_zero_turn_throttling_off(client, limits, vera):
    limits.CONVOSCOPE_LOGIN_FAILURES_PER_USER = 0
    limits.CONVOSCOPE_LOGIN_FAILURES_PER_IP = 0
    fail(client, "vera", 20)
    assert log_in(client, "vera", "pw-vera").status_code == 302


def test_the_admin_login_is_throttled_too(client):
    from django.contrib.auth.models import User

    User.objects.create_superuser("root", password="pw-root")
    for _ in range(3):
        client.post("/admin/login/", {"username": "root", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": "pw-root"},
                           REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 200  # the admin's form, refused as a wrong password
    assert client.get("/admin/").status_code == 302


def test_the_test_clients_login_goes_through_the_same_check(client, vera):
    fail(client, "vera", 3, address="127.0.0.1")
    assert client.login(username="vera", password="pw-vera") is False


def test_the_lockout_message_is_shown_on_the_login_page(client, vera):
    fail(client, "vera", 3)
    page = log_in(client, "vera", "pw-vera").content.decode()
    assert f'<p class="error" role="alert">{REFUSED} Try again in 15 minute(s).</p>' in page
