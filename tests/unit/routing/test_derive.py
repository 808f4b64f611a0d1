"""Derived fields: domains, free mail, country, time zone and its bucket, record age."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pycountry
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.derive import (
    COUNTRY_MAIN_ZONES,
    FREE_MAIL_DOMAINS,
    STATE_ZONES,
    derive,
    is_free_mail_domain,
    record_age_days,
    time_zone_bucket,
    time_zone_for,
)

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
DERIVED_KEYS = {
    "email_domain",
    "website_domain",
    "is_free_mail",
    "country",
    "timezone",
    "timezone_bucket",
    "record_age_days",
}


@pytest.mark.parametrize(
    ("email", "domain", "free"),
    [
        ("jo@acme.com", "acme.com", False),
        ("Jo@Sales.ACME.co.uk", "acme.co.uk", False),
        ("jo@gmail.com", "gmail.com", True),
        ("jo@googlemail.com", "googlemail.com", True),
        ("jo@yahoo.co.jp", "yahoo.co.jp", True),
        ("jo@mail.yahoo.com", "yahoo.com", True),
        ("jo@hotmail.fr", "hotmail.fr", True),
        ("jo@outlook.com", "outlook.com", True),
        ("jo@live.co.uk", "live.co.uk", True),
        ("jo@icloud.com", "icloud.com", True),
        ("jo@me.com", "me.com", True),
        ("jo@gmx.net", "gmx.net", True),
        ("jo@web.de", "web.de", True),
        ("jo@mail.ru", "mail.ru", True),
        ("jo@yandex.ru", "yandex.ru", True),
        ("jo@proton.me", "proton.me", True),
        ("jo@qq.com", "qq.com", True),
        ("jo@163.com", "163.com", True),
        ("jo@zoho.com", "zoho.com", True),
        ("jo@aol.com", "aol.com", True),
        ("jo@gmail-partners.com", "gmail-partners.com", False),
        ("jo@yahoo-inc.example.org", "example.org", False),
        ("no-at-sign", None, None),
        ("", None, None),
        ("jo@", None, None),
    ],
)
def test_email_domain_and_free_mail(email: str, domain: str | None, free: bool | None) -> None:
    derived = derive({"Email": email}, NOW)
    assert derived["email_domain"] == domain
    assert derived["is_free_mail"] is free


@pytest.mark.parametrize(
    ("website", "domain"),
    [
        ("https://www.acme.com/about", "acme.com"),
        ("shop.acme.co.uk", "acme.co.uk"),
        ("HTTP://ACME.DE", "acme.de"),
        ("  ", None),
        ("not a site", None),
    ],
)
def test_website_domain(website: str, domain: str | None) -> None:
    assert derive({"Website": website}, NOW)["website_domain"] == domain


@pytest.mark.parametrize("domain", sorted(FREE_MAIL_DOMAINS))
def test_every_listed_free_mail_domain_is_detected_also_on_subdomains(domain: str) -> None:
    assert is_free_mail_domain(domain)
    assert is_free_mail_domain(f"mx1.{domain}")


@pytest.mark.parametrize(
    ("fields", "country"),
    [
        ({"Country": "US"}, "US"),
        ({"Country": "United States"}, "US"),
        ({"Country": "U.S.A."}, "US"),
        ({"Country": "Deutschland"}, "DE"),
        ({"Country": "united kingdom"}, "GB"),
        ({"Country": "  France "}, "FR"),
        ({"Country": "FRA"}, "FR"),
        ({"Country": "Atlantis", "BillingCountry": "Japan"}, "JP"),
        ({"CountryCode": "CA", "Country": "Canada"}, "CA"),
        ({"MailingCountry": "Brasil"}, "BR"),
        ({"Country": "Atlantis"}, None),
        ({"Country": 7}, None),
        ({}, None),
    ],
)
def test_country_from_names_and_codes(fields: dict[str, Any], country: str | None) -> None:
    assert derive(fields, NOW)["country"] == country


@pytest.mark.parametrize(
    ("fields", "zone", "bucket"),
    [
        ({"Country": "US", "State": "NY"}, "America/New_York", "Americas/Eastern"),
        ({"Country": "USA", "State": "new york"}, "America/New_York", "Americas/Eastern"),
        ({"Country": "US", "State": "US-TX"}, "America/Chicago", "Americas/Central"),
        ({"Country": "US", "State": "Arizona"}, "America/Phoenix", "Americas/Mountain"),
        ({"Country": "US", "State": "CA"}, "America/Los_Angeles", "Americas/Pacific"),
        ({"Country": "US", "State": "HI"}, "Pacific/Honolulu", "Americas/Hawaii"),
        ({"Country": "Canada", "State": "Newfoundland and Labrador"}, "America/St_Johns",
         "Americas/Newfoundland"),
        ({"Country": "Australia", "State": "WA"}, "Australia/Perth", "Oceania/Western"),
        ({"Country": "AU", "State": "South Australia"}, "Australia/Adelaide", "Oceania/Central"),
        ({"Country": "Brazil", "State": "Amazonas"}, "America/Manaus", "Americas/Atlantic"),
        ({"Country": "Germany"}, "Europe/Berlin", "Europe/Central"),
        ({"Country": "United Kingdom"}, "Europe/London", "Europe/Western"),
        ({"Country": "India"}, "Asia/Kolkata", "Asia/UTC+5:30"),
        ({"Country": "Nepal"}, "Asia/Kathmandu", "Asia/UTC+5:45"),
        ({"Country": "Japan", "Phone": "+1 415 555 0100"}, "Asia/Tokyo", "Asia/UTC+9"),
        ({"Country": "US", "Phone": "(415) 555-0100"}, "America/Los_Angeles", "Americas/Pacific"),
        ({"Phone": "+61 2 9374 4000"}, "Australia/Sydney", "Oceania/Eastern"),
        ({"Phone": "+44 20 7946 0958"}, "Europe/London", "Europe/Western"),
        ({"BillingCountry": "US", "BillingState": "MA"}, "America/New_York", "Americas/Eastern"),
        ({"Country": "Mexico", "State": "Jalisco"}, "America/Mexico_City", "Americas/Central"),
        ({"Country": "US"}, None, None),
        ({"Country": "US", "State": "Nowhere", "Phone": "not a phone"}, None, None),
        ({"Phone": "555-0100"}, None, None),
        ({}, None, None),
    ],
)
def test_time_zone_and_bucket(fields: dict[str, Any], zone: str | None, bucket: str | None) -> None:
    derived = derive(fields, NOW)
    assert (derived["timezone"], derived["timezone_bucket"]) == (zone, bucket)


def test_state_wins_over_a_phone_in_another_zone() -> None:
    assert time_zone_for("US", "NY", "+1 415 555 0100") == "America/New_York"


@pytest.mark.parametrize(
    ("country", "code"),
    [(country, code) for country, table in STATE_ZONES.items() for code in table],
)
def test_every_state_in_the_tables_is_a_real_subdivision_with_a_real_zone(
    country: str, code: str
) -> None:
    assert pycountry.subdivisions.get(code=f"{country}-{code}") is not None
    ZoneInfo(STATE_ZONES[country][code])


@pytest.mark.parametrize("zone", sorted(COUNTRY_MAIN_ZONES.values()))
def test_every_main_zone_exists(zone: str) -> None:
    ZoneInfo(zone)


@pytest.mark.parametrize(
    ("created", "age"),
    [
        ("2026-11-20T10:15:00.000+0000", 0),
        ("2026-11-20T09:00:00.000+0000", 1),
        ("2026-11-01", 20),
        (date(2026, 11, 20), 1),
        (datetime(2026, 11, 22, tzinfo=UTC), 0),
        ("garbage", None),
        (None, None),
    ],
)
def test_record_age_days(created: Any, age: int | None) -> None:
    assert derive({"CreatedDate": created}, NOW)["record_age_days"] == age


@settings(max_examples=100, deadline=None)
@given(
    created=st.datetimes(
        min_value=datetime(2024, 1, 1),
        max_value=datetime(2026, 12, 31),
        timezones=st.sampled_from([UTC, ZoneInfo("America/New_York"), ZoneInfo("Europe/Paris")]),
    ),
    elapsed_hours=st.integers(0, 24 * 400),
)
def test_record_age_counts_whole_elapsed_days_in_any_zone(
    created: datetime, elapsed_hours: int
) -> None:
    """Elapsed time, not wall-clock days: a DST change in between does not shift the age."""
    now = (created.astimezone(UTC) + timedelta(hours=elapsed_hours)).astimezone(created.tzinfo)
    assert record_age_days(created, now) == elapsed_hours // 24


record_values = st.one_of(st.none(), st.text(max_size=20), st.integers(), st.booleans())


@settings(max_examples=150, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["Email", "Website", "Country", "State", "BillingCountry", "Phone", "CreatedDate"]
        ),
        record_values,
    )
)
def test_derive_never_raises_and_always_gives_every_key(fields: dict[str, Any]) -> None:
    derived = derive(fields, NOW)
    assert set(derived) == DERIVED_KEYS
    assert (derived["is_free_mail"] is None) == (derived["email_domain"] is None)
    assert (derived["timezone_bucket"] is None) == (derived["timezone"] is None)


@settings(max_examples=60, deadline=None)
@given(country=st.sampled_from([country.alpha_2 for country in pycountry.countries]))
def test_country_name_and_code_agree(country: str) -> None:
    by_code = derive({"Country": country}, NOW)
    by_name = derive({"Country": pycountry.countries.get(alpha_2=country).name}, NOW)
    assert by_code["country"] == by_name["country"] == country
    assert by_code["timezone"] == by_name["timezone"]


def test_time_zone_bucket_names_offsets_without_a_name() -> None:
    assert time_zone_bucket("America/Sao_Paulo") == "Americas/UTC-3"
    assert time_zone_bucket("Pacific/Chatham") == "Oceania/UTC+12:45"
