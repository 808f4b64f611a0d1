"""Normalising values that routing compares: domains and countries. Pure, no network."""

from __future__ import annotations

import re
from functools import lru_cache

import pycountry
import tldextract

_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

COUNTRY_ALIASES: dict[str, str] = {
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u.k.": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "great britain": "GB",
    "britain": "GB",
    "deutschland": "DE",
    "holland": "NL",
    "the netherlands": "NL",
    "south korea": "KR",
    "korea": "KR",
    "russia": "RU",
    "czech republic": "CZ",
    "czechia": "CZ",
    "vietnam": "VN",
    "iran": "IR",
    "taiwan": "TW",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "syria": "SY",
    "laos": "LA",
    "moldova": "MD",
    "uae": "AE",
    "españa": "ES",
    "espana": "ES",
    "brasil": "BR",
    "schweiz": "CH",
    "suisse": "CH",
    "österreich": "AT",
    "osterreich": "AT",
    "italia": "IT",
    "nippon": "JP",
}

_SPACES = re.compile(r"\s+")


def registered_domain(host_or_url: str | None) -> str | None:
    """The registrable domain of a host name or URL (``www.shop.acme.co.uk`` -> ``acme.co.uk``)."""
    if not host_or_url:
        return None
    text = host_or_url.strip().lower()
    if not text:
        return None
    parts = _EXTRACT(text)
    if not parts.domain:
        return None
    if not parts.suffix:
        return parts.domain if "." in text else None
    return f"{parts.domain}.{parts.suffix}"


def email_domain(email: str | None) -> str | None:
    """The registrable domain of an email address, or None when it has no usable domain."""
    if not email or "@" not in email:
        return None
    return registered_domain(email.rsplit("@", 1)[1])


@lru_cache(maxsize=4096)
def country_code(value: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code for a country written as a code or a name, else None."""
    if not value:
        return None
    text = _SPACES.sub(" ", value.strip())
    if not text:
        return None
    key = text.lower()
    if key in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[key]
    if len(text) == 2:
        country = pycountry.countries.get(alpha_2=text.upper())
        return country.alpha_2 if country else None
    if len(text) == 3:
        country = pycountry.countries.get(alpha_3=text.upper())
        if country:
            return country.alpha_2
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        pass
    try:
        matches = pycountry.countries.search_fuzzy(text)
    except LookupError:
        return None
    return matches[0].alpha_2 if len(matches) == 1 else None
