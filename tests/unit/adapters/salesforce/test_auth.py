"""The connected app's login flows, chosen from settings, against the fake org's OAuth token endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.salesforce.auth import ClientCredentials, JwtBearer, UsernamePassword, connect
from baton.bootstrap import salesforce_credentials
from baton.settings import Settings
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from kernel.errors import ConfigError


def _key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def _trusting(fake: FakeOrg) -> requests.Session:
    session = requests.Session()
    session.trust_env, session.verify = False, fake.ca_file
    return session


def test_no_connected_app_means_no_login() -> None:
    assert salesforce_credentials(Settings(salesforce_client_id=None)) is None


def test_a_private_key_and_username_log_in_with_a_signed_jwt(tmp_path: Path) -> None:
    private, public = _key_pair()
    key_file = tmp_path / "baton.key"
    key_file.write_text(private)
    with fake_salesforce() as (fake, _):
        fake.jwt_public_key = public
        credentials = salesforce_credentials(Settings(
            salesforce_login_url=fake.url, salesforce_client_id="consumer-key",
            salesforce_username=fake.username, salesforce_private_key_file=key_file))
        assert isinstance(credentials, JwtBearer)
        client = connect(credentials, _trusting(fake))

        other_private, _ = _key_pair()
        forged = JwtBearer(fake.url, "consumer-key", fake.username, other_private, fake.url)
        with pytest.raises(ConfigError, match="invalid assertion: Signature verification failed"):
            connect(forged, _trusting(fake))

    assert client.session_id == "00Dfake!token"


def test_username_and_password_use_the_password_flow() -> None:
    with fake_salesforce() as (fake, _):
        credentials = salesforce_credentials(Settings(
            salesforce_login_url=fake.url, salesforce_client_id="consumer-key",
            salesforce_client_secret=fake.client_secret, salesforce_username=fake.username,
            salesforce_password=fake.password))
        assert isinstance(credentials, UsernamePassword)
        connect(credentials, _trusting(fake))
        wrong = UsernamePassword(fake.url, "consumer-key", fake.client_secret, fake.username, "guess")
        with pytest.raises(ConfigError, match="BATON_SALESFORCE_USERNAME: login refused: authentication failure"):
            connect(wrong, _trusting(fake))


def test_client_id_and_secret_alone_use_client_credentials() -> None:
    credentials = salesforce_credentials(Settings(salesforce_client_id="k", salesforce_client_secret="s"))
    assert isinstance(credentials, ClientCredentials)


def test_an_unreadable_private_key_file_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BATON_SALESFORCE_PRIVATE_KEY_FILE"):
        salesforce_credentials(Settings(salesforce_client_id="k", salesforce_username="u",
                                        salesforce_private_key_file=tmp_path / "missing.key"))
