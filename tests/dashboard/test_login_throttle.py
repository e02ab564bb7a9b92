"""Login throttling. Failed logins are counted three ways within the lockout period: per username
from one address, per address across usernames, and per username across every address (a ceiling
for distributed guessing that never shuts out a browser the user has logged in with before). Past
a limit, every attempt it covers is refused, even with the right password, with a message naming
it and a 429, until the period has passed. The admin's login is covered too (an auth backend)."""

import time

import pytest
from django.test import Client

from dashboard import login
from tests.factories import make_user

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
WRONG = "Your username and password didn&#x27;t match."
FROM_HERE = "Too many failed logins for this account from your address."
ADDRESS = "Too many failed logins from your address."
ACCOUNT = ("Too many failed logins for this account from new browsers. Log in from a browser you have "
           "logged in with before, or try again in")
A, B = "10.0.0.1", "10.0.0.2"  # the user's address, the attacker's


@pytest.fixture(autouse=True)
def limits(settings):
    settings.CONVOSCOPE_LOGIN_FAILURES_PER_USER_AND_IP = 3
    settings.CONVOSCOPE_LOGIN_FAILURES_PER_IP = 10
    settings.CONVOSCOPE_LOGIN_FAILURES_PER_USER = 6
    settings.CONVOSCOPE_LOGIN_LOCKOUT_SECONDS = 900
    settings.CONVOSCOPE_NUM_PROXIES = 0
    return settings


@pytest.fixture
def vera(db):
    return make_user("vera", "viewer")


def log_in(client, username, password, address=A, **headers):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def logged_in(client) -> bool:
    return client.get("/").status_code == 200


def fail(client, username, times, address=A, **headers):
    for _ in range(times):
        log_in(client, username, "wrong", address, **headers)


def refused(response, message: str) -> bool:
    return response.status_code == 429 and message in response.content.decode()


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
    assert refused(response, FROM_HERE)
    assert "Try again in 15 minute(s)." in response.content.decode()
    assert 890 <= int(response["Retry-After"]) <= 900


def test_a_locked_out_username_and_address_is_refused_even_with_the_right_password(client, vera):
    fail(client, "vera", 3)
    assert refused(log_in(client, "vera", "pw-vera"), FROM_HERE)
    assert not logged_in(client)


def test_failures_from_another_address_do_not_lock_the_real_user_out(vera):
    attacker = Client()
    fail(attacker, "vera", 5, address=B)
    assert refused(log_in(attacker, "vera", "pw-vera", address=B), FROM_HERE)  # B is refused, right password or not
    user = Client()
    assert log_in(user, "vera", "pw-vera", address=A).status_code == 302  # vera, at her address, is not
    assert logged_in(user)


def test_the_lockout_ignores_the_usernames_case_and_covers_only_that_username(client, vera):
    make_user("otto", "operator")
    fail(client, "VERA", 3, address=B)
    assert refused(log_in(Client(), "vera", "pw-vera", address=B), FROM_HERE)
    other = Client()
    assert log_in(other, "otto", "pw-otto", address=B).status_code == 302
    assert logged_in(other)


def test_one_address_trying_many_usernames_is_locked_out(client, limits, vera):
    limits.CONVOSCOPE_LOGIN_FAILURES_PER_IP = 4
    for name in ["alice", "bob", "carol", "dave"]:
        log_in(client, name, "guess", address=B)
    assert refused(log_in(client, "vera", "pw-vera", address=B), ADDRESS)
    assert log_in(Client(), "vera", "pw-vera", address=A).status_code == 302


def test_many_addresses_guessing_one_username_hit_its_ceiling_but_not_a_browser_it_logged_in_with(vera):
    usual = Client()
    assert log_in(usual, "vera", "pw-vera", address=A).status_code == 302  # vera's browser, some day before
    for n in range(3):  # three addresses, two guesses each: none reaches its own limit of 3
        fail(Client(), "vera", 2, address=f"198.51.100.{n}")
    response = log_in(Client(), "vera", "pw-vera", address="198.51.100.99")  # a new browser, a new address
    assert refused(response, f"{ACCOUNT} 15 minute(s).")
    usual.post("/accounts/logout/")
    assert log_in(usual, "vera", "pw-vera", address="192.0.2.50").status_code == 302  # her browser, anywhere
    assert logged_in(usual)


def test_failures_from_a_known_browser_during_the_ceiling_do_not_prolong_it(vera, monkeypatch):
    usual = Client()
    assert log_in(usual, "vera", "pw-vera", address=A).status_code == 302
    usual.post("/accounts/logout/")
    start = time.time()
    for n in range(3):
        fail(Client(), "vera", 2, address=f"198.51.100.{n}")
    monkeypatch.setattr(time, "time", lambda: start + 600)
    for n in range(3):  # vera mistypes, from three places, as often as her own limit allows
        fail(usual, "vera", 2, address=f"192.0.2.{n}")
    monkeypatch.setattr(time, "time", lambda: start + 901)
    assert log_in(Client(), "vera", "pw-vera", address="198.51.100.99").status_code == 302


def test_a_browser_that_logged_in_as_someone_else_gets_no_pass_for_this_username(vera):
    make_user("otto", "operator")
    browser = Client()
    assert log_in(browser, "otto", "pw-otto", address=A).status_code == 302
    browser.post("/accounts/logout/")
    for n in range(3):
        fail(Client(), "vera", 2, address=f"198.51.100.{n}")
    assert refused(log_in(browser, "vera", "pw-vera", address=A), ACCOUNT)


def test_a_forged_device_cookie_gets_no_pass(vera):
    for n in range(3):
        fail(Client(), "vera", 2, address=f"198.51.100.{n}")
    forger = Client()
    forger.cookies[login.DEVICE_COOKIE] = "vera"
    assert refused(log_in(forger, "vera", "pw-vera", address=A), ACCOUNT)


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


def test_a_successful_login_clears_the_count_for_its_username_and_address(client, vera):
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


def test_unknown_usernames_are_throttled_like_real_ones(client):
    fail(client, "nobody", 3)
    assert refused(log_in(client, "nobody", "wrong"), FROM_HERE)  # the answer does not tell whether it exists


def test_limits_set_to_zero_turn_throttling_off(client, limits, vera):
    limits.CONVOSCOPE_LOGIN_FAILURES_PER_USER_AND_IP = 0
    limits.CONVOSCOPE_LOGIN_FAILURES_PER_IP = 0
    limits.CONVOSCOPE_LOGIN_FAILURES_PER_USER = 0
    fail(client, "vera", 20)
    assert log_in(client, "vera", "pw-vera").status_code == 302


# --- the client's address ---------------------------------------------------------------------------


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_configured(vera):
    # Without CONVOSCOPE_NUM_PROXIES, a client cannot pass for vera's address by claiming it.
    fail(Client(), "vera", 3, address=B, HTTP_X_FORWARDED_FOR=A)
    assert log_in(Client(), "vera", "pw-vera", address=A).status_code == 302
    assert refused(log_in(Client(), "vera", "pw-vera", address=B, HTTP_X_FORWARDED_FOR="192.0.2.1"), FROM_HERE)


def test_behind_a_proxy_the_address_it_saw_is_counted_and_what_the_client_claims_is_not(limits, vera):
    limits.CONVOSCOPE_NUM_PROXIES = 1  # nginx appends the address it saw to X-Forwarded-For
    proxy = "127.0.0.1"
    for forged in ["1.1.1.1", "2.2.2.2", "3.3.3.3"]:  # the attacker forges a different first entry each time
        log_in(Client(), "vera", "wrong", address=proxy, HTTP_X_FORWARDED_FOR=f"{forged}, {B}")
    assert refused(log_in(Client(), "vera", "pw-vera", address=proxy, HTTP_X_FORWARDED_FOR=B), FROM_HERE)
    user = Client()  # vera, through the same proxy, from her own address
    assert log_in(user, "vera", "pw-vera", address=proxy, HTTP_X_FORWARDED_FOR=A).status_code == 302


def test_ipv6_addresses_are_counted_per_64_bit_prefix(vera):
    # One host is given a whole /64: changing the last 64 bits must not buy more guesses.
    for n in range(3):
        log_in(Client(), "vera", "wrong", address=f"2001:db8:1:2::{n + 1}")
    assert refused(log_in(Client(), "vera", "pw-vera", address="2001:db8:1:2:ffff::9"), FROM_HERE)
    assert log_in(Client(), "vera", "pw-vera", address="2001:db8:1:3::1").status_code == 302


# --- other ways in ----------------------------------------------------------------------------------


def test_the_admin_login_is_throttled_too(client):
    from django.contrib.auth.models import User

    User.objects.create_superuser("root", password="pw-root")
    for _ in range(3):
        client.post("/admin/login/", {"username": "root", "password": "wrong"}, REMOTE_ADDR=A)
    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": "pw-root"}, REMOTE_ADDR=A)
    assert response.status_code == 200  # the admin's form, refused as a wrong password
    assert client.get("/admin/").status_code == 302


def test_a_login_without_a_request_falls_under_the_usernames_ceiling(client, vera):
    # Django's test client's login() calls authenticate() with no request: no address, no cookie.
    for n in range(3):
        fail(Client(), "vera", 2, address=f"198.51.100.{n}")
    assert client.login(username="vera", password="pw-vera") is False


def test_the_lockout_message_is_shown_on_the_login_page(client, vera):
    fail(client, "vera", 3)
    page = log_in(client, "vera", "pw-vera").content.decode()
    assert f'<p class="error" role="alert">{FROM_HERE} Try again in 15 minute(s).</p>' in page
