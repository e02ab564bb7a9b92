import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Console tests log in many users; the production hasher would spend most of the run hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
