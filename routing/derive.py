"""Derived fields that admins otherwise write as formulas, computed from a record.

``derive(fields, now)`` gives ``email_domain``, ``website_domain``, ``is_free_mail``, ``country``
(ISO 3166 alpha-2), ``timezone`` (IANA name), ``timezone_bucket`` (e.g. ``Americas/Eastern``) and
``record_age_days``; each is None when the record does not tell. Pure: the time-zone tables come
from the bundled tzdata and phonenumbers data, never from the network or the clock.
"""

from __future__ import annotations

import importlib.resources
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pycountry
from phonenumbers import timezone as phone_timezone

from routing.conditions import as_temporal
from routing.normalize import country_code, registered_domain

EMAIL_FIELDS = ("Email", "PersonEmail")
WEBSITE_FIELDS = ("Website",)
PHONE_FIELDS = ("Phone", "MobilePhone", "PersonMobilePhone")
CREATED_FIELD = "CreatedDate"
# (country field, country code field, state field, state code field), most specific first
ADDRESS_FIELDS = (
    ("Country", "CountryCode", "State", "StateCode"),
    ("BillingCountry", "BillingCountryCode", "BillingState", "BillingStateCode"),
    ("MailingCountry", "MailingCountryCode", "MailingState", "MailingStateCode"),
)
SECONDS_PER_DAY = 86_400
DOMAIN_CACHE_SIZE = 16_384
UNKNOWN_ZONE = "Etc/Unknown"
# Offsets are sampled on these days to find a zone's standard (smallest) offset.
OFFSET_SAMPLE_DAYS = (datetime(2025, 1, 15, tzinfo=UTC), datetime(2025, 7, 15, tzinfo=UTC))

# Registrable domains of free-mail providers.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "ymail.com", "rocketmail.com", "msn.com",
        "windowslive.com", "passport.com", "icloud.com", "me.com", "mac.com", "web.de",
        "mail.ru", "bk.ru", "inbox.ru", "list.ru", "rambler.ru", "ya.ru", "proton.me",
        "protonmail.com", "protonmail.ch", "pm.me", "tutanota.com", "tutanota.de", "tuta.io",
        "qq.com", "foxmail.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn",
        "sohu.com", "aliyun.com", "zoho.com", "zohomail.com", "mail.com", "email.com",
        "usa.com", "fastmail.com", "fastmail.fm", "hey.com", "hushmail.com", "inbox.com",
        "t-online.de", "freenet.de", "orange.fr", "wanadoo.fr", "free.fr", "laposte.net",
        "sfr.fr", "libero.it", "virgilio.it", "tiscali.it", "alice.it", "btinternet.com",
        "sky.com", "virginmedia.com", "ntlworld.com", "talktalk.net", "comcast.net",
        "verizon.net", "att.net", "sbcglobal.net", "bellsouth.net", "cox.net", "charter.net",
        "earthlink.net", "optonline.net", "shaw.ca", "rogers.com", "sympatico.ca",
        "bigpond.com", "bigpond.net.au", "optusnet.com.au", "naver.com", "hanmail.net",
        "daum.net", "rediffmail.com", "seznam.cz", "wp.pl", "o2.pl", "onet.pl", "interia.pl",
        "ukr.net", "uol.com.br", "bol.com.br", "terra.com.br", "mailinator.com",
    }
)
# Providers whose every country domain is free mail (yahoo.co.uk, hotmail.fr, gmx.net ...).
FREE_MAIL_LABELS = frozenset({"yahoo", "hotmail", "outlook", "live", "aol", "gmx", "yandex"})

# State or province (ISO 3166-2 code suffix) to IANA zone, for countries spanning several zones.
STATE_ZONES: dict[str, dict[str, str]] = {
    "US": {
        **dict.fromkeys(
            "CT DE DC FL GA KY ME MD MA NH NJ NY NC OH PA RI SC VT VA WV".split(),
            "America/New_York",
        ),
        "MI": "America/Detroit",
        "IN": "America/Indiana/Indianapolis",
        **dict.fromkeys(
            "AL AR IL IA KS LA MN MS MO NE ND OK SD TN TX WI".split(), "America/Chicago"
        ),
        **dict.fromkeys("CO MT NM UT WY".split(), "America/Denver"),
        "ID": "America/Boise",
        "AZ": "America/Phoenix",
        **dict.fromkeys("CA NV OR WA".split(), "America/Los_Angeles"),
        "AK": "America/Anchorage",
        "HI": "Pacific/Honolulu",
        "PR": "America/Puerto_Rico",
        "VI": "America/St_Thomas",
        "GU": "Pacific/Guam",
        "MP": "Pacific/Saipan",
        "AS": "Pacific/Pago_Pago",
    },
    "CA": {
        "NL": "America/St_Johns",
        "NS": "America/Halifax",
        "PE": "America/Halifax",
        "NB": "America/Moncton",
        "QC": "America/Toronto",
        "ON": "America/Toronto",
        "NU": "America/Iqaluit",
        "MB": "America/Winnipeg",
        "SK": "America/Regina",
        "AB": "America/Edmonton",
        "NT": "America/Edmonton",
        "BC": "America/Vancouver",
        "YT": "America/Whitehorse",
    },
    "AU": {
        "NSW": "Australia/Sydney",
        "ACT": "Australia/Sydney",
        "VIC": "Australia/Melbourne",
        "QLD": "Australia/Brisbane",
        "SA": "Australia/Adelaide",
        "WA": "Australia/Perth",
        "TAS": "Australia/Hobart",
        "NT": "Australia/Darwin",
    },
    "BR": {
        **dict.fromkeys("SP RJ MG ES PR SC RS GO DF".split(), "America/Sao_Paulo"),
        "BA": "America/Bahia",
        "PE": "America/Recife",
        **dict.fromkeys("CE PB RN PI MA".split(), "America/Fortaleza"),
        **dict.fromkeys("AL SE".split(), "America/Maceio"),
        **dict.fromkeys("PA AP".split(), "America/Belem"),
        "TO": "America/Araguaina",
        "AM": "America/Manaus",
        "RR": "America/Boa_Vista",
        "RO": "America/Porto_Velho",
        "AC": "America/Rio_Branco",
        "MT": "America/Cuiaba",
        "MS": "America/Campo_Grande",
    },
    "MX": {
        "BCN": "America/Tijuana",
        **dict.fromkeys("BCS SIN NAY".split(), "America/Mazatlan"),
        "SON": "America/Hermosillo",
        "CHH": "America/Chihuahua",
        "ROO": "America/Cancun",
    },
}
# Zone of a country whose zones differ in offset, when neither state nor phone tells.
COUNTRY_MAIN_ZONES = {
    "MX": "America/Mexico_City",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "RU": "Europe/Moscow",
    "CN": "Asia/Shanghai",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
    "NZ": "Pacific/Auckland",
    "CL": "America/Santiago",
    "EC": "America/Guayaquil",
    "UA": "Europe/Kyiv",
    "CD": "Africa/Kinshasa",
    "MN": "Asia/Ulaanbaatar",
    "PG": "Pacific/Port_Moresby",
    "GL": "America/Nuuk",
}

ZONE_REGIONS = {
    "America": "Americas",
    "Europe": "Europe",
    "Africa": "Africa",
    "Asia": "Asia",
    "Australia": "Oceania",
    "Pacific": "Oceania",
    "Atlantic": "Atlantic",
    "Indian": "Indian",
    "Antarctica": "Antarctica",
}
ZONE_REGION_EXCEPTIONS = {"Pacific/Honolulu": "Americas", "Atlantic/Bermuda": "Americas"}
# Named buckets by region and standard UTC offset in hours; other offsets read "UTC+5:30".
BUCKET_NAMES: dict[str, dict[float, str]] = {
    "Americas": {
        -3.5: "Newfoundland",
        -4: "Atlantic",
        -5: "Eastern",
        -6: "Central",
        -7: "Mountain",
        -8: "Pacific",
        -9: "Alaska",
        -10: "Hawaii",
    },
    "Europe": {0: "Western", 1: "Central", 2: "Eastern", 3: "Moscow"},
    "Oceania": {8: "Western", 9.5: "Central", 10: "Eastern"},
}


def derive(fields: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """All derived values of a record; a value is None when the record does not tell."""
    mail_domain = _email_domain(_first_text(fields, EMAIL_FIELDS))
    country, state = _country_and_state(fields)
    zone = time_zone_for(country, state, _first_text(fields, PHONE_FIELDS))
    return {
        "email_domain": mail_domain,
        "website_domain": _website_domain(_first_text(fields, WEBSITE_FIELDS)),
        "is_free_mail": None if mail_domain is None else is_free_mail_domain(mail_domain),
        "country": country,
        "timezone": zone,
        "timezone_bucket": None if zone is None else time_zone_bucket(zone),
        "record_age_days": record_age_days(fields.get(CREATED_FIELD), now),
    }


# --- domains --------------------------------------------------------------------------------------


def is_free_mail_domain(domain: str | None) -> bool:
    """Whether a domain (or any host under it) belongs to a free-mail provider."""
    registrable = _host_domain(domain.strip().lower()) if domain else None
    if registrable is None:
        return False
    return registrable in FREE_MAIL_DOMAINS or registrable.split(".", 1)[0] in FREE_MAIL_LABELS


def _email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return _host_domain(email.rsplit("@", 1)[1].strip().lower())


def _website_domain(website: str | None) -> str | None:
    return _host_domain(website.strip().lower()) if website else None


@lru_cache(maxsize=DOMAIN_CACHE_SIZE)
def _host_domain(host_or_url: str) -> str | None:
    return registered_domain(host_or_url)


# --- country, state, time zone ----------------------------------------------------------------------


def _country_and_state(fields: Mapping[str, Any]) -> tuple[str | None, str | None]:
    for country_field, code_field, state_field, state_code_field in ADDRESS_FIELDS:
        country = country_code(_text(fields.get(code_field))) or country_code(
            _text(fields.get(country_field))
        )
        if country is not None:
            state = _text(fields.get(state_code_field)) or _text(fields.get(state_field))
            return country, state
    return None, None


def time_zone_for(country: str | None, state: str | None, phone: str | None) -> str | None:
    """IANA zone from the country (and state), else from the phone number, else None."""
    if country is not None:
        uniform_zone = _uniform_zone(country)
        if uniform_zone is not None:
            return uniform_zone
        if state:
            zone = STATE_ZONES.get(country, {}).get(_state_code(country, state) or "")
            if zone is not None:
                return zone
    if phone:
        zone = _phone_zone(phone, country)
        if zone is not None:
            return zone
    return COUNTRY_MAIN_ZONES.get(country or "")


@lru_cache(maxsize=1)
def _country_zones() -> dict[str, tuple[str, ...]]:
    """Country code -> its IANA zones, from the bundled tzdata ``zone.tab``."""
    table = importlib.resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text()
    zones: dict[str, list[str]] = {}
    for line in table.splitlines():
        if line and not line.startswith("#"):
            code, _coordinates, zone, *_comment = line.split("\t")
            zones.setdefault(code, []).append(zone)
    return {code: tuple(names) for code, names in zones.items()}


@lru_cache(maxsize=512)
def _uniform_zone(country: str) -> str | None:
    """The country's zone when it has one, or several sharing one standard offset."""
    zones = _country_zones().get(country, ())
    if zones and len({_standard_offset_hours(zone) for zone in zones}) == 1:
        return zones[0]
    return None


@lru_cache(maxsize=4096)
def _state_code(country: str, state: str) -> str | None:
    text = " ".join(state.split())
    upper = text.upper().removeprefix(f"{country}-")
    if upper in STATE_ZONES.get(country, {}):
        return upper
    return _subdivision_names(country).get(text.casefold())


@lru_cache(maxsize=64)
def _subdivision_names(country: str) -> dict[str, str]:
    subdivisions = pycountry.subdivisions.get(country_code=country) or ()
    return {sub.name.casefold(): sub.code.split("-", 1)[1] for sub in subdivisions}


@lru_cache(maxsize=4096)
def _phone_zone(phone: str, country: str | None) -> str | None:
    try:
        number = phonenumbers.parse(phone, country)
    except phonenumbers.NumberParseException:
        return None
    zones = [zone for zone in phone_timezone.time_zones_for_number(number) if zone != UNKNOWN_ZONE]
    return zones[0] if len(zones) == 1 else None


@lru_cache(maxsize=1024)
def time_zone_bucket(zone: str) -> str:
    """A coarse bucket such as ``Americas/Eastern``, ``Europe/Central`` or ``Asia/UTC+5:30``."""
    region = ZONE_REGION_EXCEPTIONS.get(zone) or ZONE_REGIONS.get(zone.split("/", 1)[0], "Other")
    hours = _standard_offset_hours(zone)
    name = BUCKET_NAMES.get(region, {}).get(hours)
    return f"{region}/{name or _offset_label(hours)}"


@lru_cache(maxsize=1024)
def _standard_offset_hours(zone: str) -> float:
    info = ZoneInfo(zone)
    offsets = [moment.astimezone(info).utcoffset() for moment in OFFSET_SAMPLE_DAYS]
    return min(offset.total_seconds() for offset in offsets if offset is not None) / 3600


def _offset_label(hours: float) -> str:
    sign = "-" if hours < 0 else "+"
    whole, minutes = divmod(round(abs(hours) * 60), 60)
    return f"UTC{sign}{whole}" + (f":{minutes:02d}" if minutes else "")


# --- age ----------------------------------------------------------------------------------------------


def record_age_days(created: Any, now: datetime) -> int | None:
    """Whole days since ``created`` (a date, datetime or ISO string); never negative."""
    moment = as_temporal(created)
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    elapsed_s = (now.astimezone(UTC) - moment).total_seconds()
    return max(0, math.floor(elapsed_s / SECONDS_PER_DAY))


# --- small helpers --------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def _first_text(fields: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        text = _text(fields.get(name))
        if text is not None:
            return text
    return None
