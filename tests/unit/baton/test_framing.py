"""Who may frame the handoff page: derived from the org's My Domain, never a wildcard unless written out; the web
process refuses to start with Canvas on and nobody allowed to frame it."""

from __future__ import annotations

import pytest

from baton.framing import NO_FRAMING, check_framing, frame_ancestors, my_domain_hosts
from baton.settings import Settings
from kernel.errors import ConfigError


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_a_production_my_domain_gives_its_salesforce_lightning_and_visualforce_hosts() -> None:
    assert my_domain_hosts("Acme") == ["https://acme.my.salesforce.com", "https://acme.lightning.force.com",
                                       "https://acme--c.vf.force.com"]


def test_a_sandbox_my_domain_gives_the_sandbox_forms() -> None:
    assert my_domain_hosts("acme--uat") == ["https://acme--uat.sandbox.my.salesforce.com",
                                            "https://acme--uat.sandbox.lightning.force.com",
                                            "https://acme--uat--c.sandbox.vf.force.com"]


@pytest.mark.parametrize("name", ["*", "acme.my.salesforce.com", "https://acme", "acme--*", "-acme", "acme--",
                                  "a--b--c", "ac me", ""])
def test_what_is_not_a_my_domain_name_is_refused_naming_the_setting(name: str) -> None:
    with pytest.raises(ConfigError, match="BATON_SALESFORCE_MY_DOMAIN"):
        my_domain_hosts(name)


def test_the_default_is_self_and_the_my_domain_hosts_and_nothing_else() -> None:
    value = frame_ancestors(settings(salesforce_my_domain="acme"))
    assert value == ("'self' https://acme.my.salesforce.com https://acme.lightning.force.com "
                     "https://acme--c.vf.force.com")
    assert "*" not in value


def test_an_explicit_setting_wins_even_a_wildcard() -> None:
    explicit = "'self' https://*.my.salesforce.com"
    assert frame_ancestors(settings(salesforce_my_domain="acme", handoff_frame_ancestors=explicit)) == explicit
    assert check_framing(settings(canvas_consumer_secret="s", handoff_frame_ancestors=explicit)) == explicit


def test_without_canvas_or_my_domain_nothing_may_frame_the_page_and_the_process_starts() -> None:
    assert check_framing(settings()) == NO_FRAMING == "'none'"


def test_canvas_without_my_domain_or_frame_ancestors_refuses_to_start_naming_the_settings() -> None:
    with pytest.raises(ConfigError) as refused:
        check_framing(settings(canvas_consumer_secret="secret"))
    message = str(refused.value)
    assert "BATON_SALESFORCE_MY_DOMAIN" in message and "BATON_HANDOFF_FRAME_ANCESTORS" in message
    assert "BATON_CANVAS_CONSUMER_SECRET" in message


def test_a_wildcard_my_domain_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="BATON_SALESFORCE_MY_DOMAIN"):
        check_framing(settings(canvas_consumer_secret="secret", salesforce_my_domain="*"))


def test_the_web_process_refuses_to_start_with_canvas_and_no_framing(monkeypatch: pytest.MonkeyPatch) -> None:
    from entrypoints.http.app import create_app_from_env

    monkeypatch.setenv("BATON_CANVAS_CONSUMER_SECRET", "secret")
    monkeypatch.delenv("BATON_SALESFORCE_MY_DOMAIN", raising=False)
    monkeypatch.delenv("BATON_HANDOFF_FRAME_ANCESTORS", raising=False)
    with pytest.raises(ConfigError, match="BATON_SALESFORCE_MY_DOMAIN"):
        create_app_from_env()
