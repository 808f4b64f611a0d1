"""Lead matching and territory matching speed, on one core.

Lead matching: 100,000 synthetic accounts (made-up brand names with an industry word and a legal
form, websites on several suffixes, some extra domains) and 10,000 leads: about a third write
from their account's domain, a quarter from free mail with a variant of the account's name, some
with a typo in it, the rest from companies that are not accounts.

Territory matching: 10,000 territories (3,000 US ZIP ranges, 2,000 US ZIP prefixes, 1,000 US
state x industry, 2,000 UK outward codes, 1,500 German postal ranges, a fifth of all countries,
country x industry, named accounts, one fallback), overlapping across families as real ones do,
and 10,000 records over the same countries (some fall to the fallback).

    python bench/matching.py [--accounts 100000] [--leads 10000] [--territories 10000]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pycountry

from routing.matching import AccountIndex, MatchSettings, match_lead
from routing.territories import Territory, TerritoryIndex

SEED = 20240611
SYLLABLES = (
    "ac", "al", "an", "ar", "ba", "be", "bo", "ca", "ce", "co", "da", "de", "di", "el", "en",
    "fa", "fi", "ga", "ge", "ha", "in", "ka", "ki", "la", "le", "lo", "ma", "me", "mi", "na",
    "ne", "no", "or", "pa", "pe", "ra", "re", "ri", "sa", "se", "ta", "te", "ti", "to", "va",
    "ve", "xa", "za", "zen", "tron", "lux", "vox", "nex", "dyn", "quan", "syn",
)
INDUSTRY_WORDS = (
    "Systems", "Solutions", "Labs", "Analytics", "Foods", "Logistics", "Health", "Capital",
    "Software", "Energy", "Motors", "Media", "Partners", "Consulting", "Robotics", "Retail",
    "Pharma", "Bank", "Insurance", "Telecom", "", "", "", "",
)
LEGAL_FORMS = (
    "Inc", "Inc.", "LLC", "Ltd", "Limited", "GmbH", "AG", "S.A.", "SAS", "S.p.A.", "B.V.",
    "Pty Ltd", "PLC", "Corp", "Corporation", "Co.", "KK", "Oy", "AB", "",
)
SUFFIXES = ("com", "com", "com", "io", "net", "co.uk", "de", "fr", "com.au", "co")
FREE_MAIL = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "gmx.de", "icloud.com")
FIRST_NAMES = ("Ana", "Ben", "Chloé", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jon")
LAST_NAMES = ("Smith", "Müller", "Garcia", "Khan", "Rossi", "Tanaka", "Dubois", "Novak")
INDUSTRIES = tuple(word for word in INDUSTRY_WORDS if word)
US_STATES = tuple(sorted(s.code[3:] for s in pycountry.subdivisions.get(country_code="US")))
UK_AREAS = tuple(
    """AB AL B BA BB BD BH BL BN BR BS CA CB CF CH CM CO CR CT CV CW DA DD DE DH DL DN DT DY E EC
    EH EN EX FK FY G GL GU HA HD HG HP HR HS HU HX IG IP IV KA KT KW KY L LA LD LE LL LN LS LU M
    ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO SP SR
    SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV YO ZE""".split()
)
ISO_COUNTRIES = tuple(sorted(country.alpha_2 for country in pycountry.countries))


def _brand(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3, 4)))).capitalize()


def _account_name(rng: random.Random, brand: str) -> str:
    parts = (brand, rng.choice(INDUSTRY_WORDS), rng.choice(LEGAL_FORMS))
    return " ".join(part for part in parts if part)


def make_accounts(rng: random.Random, count: int) -> list[dict[str, Any]]:
    accounts = []
    for number in range(count):
        brand = _brand(rng)
        domain = f"{brand.lower()}{rng.randrange(100) if rng.random() < 0.3 else ''}"
        account = {
            "Id": f"001{number:012d}",
            "Name": _account_name(rng, brand),
            "Website": f"https://www.{domain}.{rng.choice(SUFFIXES)}",
            "OwnerId": f"005{rng.randrange(500):012d}",
            "Owner": {"IsActive": rng.random() > 0.1},
            "NumberOfEmployees": rng.randrange(1, 50_000),
            "AnnualRevenue": rng.randrange(10_000, 10**9),
            "LastActivityDate": f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        }
        if rng.random() < 0.05:
            account["Domain__c"] = f"{domain}-group.com; {domain}.eu"
        accounts.append(account)
    return accounts


def _typo(rng: random.Random, text: str) -> str:
    at = rng.randrange(1, len(text))
    return text[:at] + rng.choice(string.ascii_lowercase) + text[at + 1 :]


def make_leads(
    rng: random.Random, accounts: list[dict[str, Any]], count: int
) -> list[dict[str, Any]]:
    leads = []
    for number in range(count):
        account = rng.choice(accounts)
        person = f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}".lower()
        roll = rng.random()
        if roll < 0.35:
            domain = account["Website"].split("www.", 1)[1]
            email, company = f"{person}@{domain}", account["Name"].upper()
        elif roll < 0.60:
            brand = account["Name"].split()[0]
            company = f"{brand} {rng.choice(LEGAL_FORMS)}"
            email = f"{person}@{rng.choice(FREE_MAIL)}"
        elif roll < 0.75:
            email, company = f"{person}@{rng.choice(FREE_MAIL)}", _typo(rng, account["Name"])
        else:
            brand = _brand(rng) + "x"
            email, company = f"{person}@{brand.lower()}.com", _account_name(rng, brand)
        leads.append({"Id": f"00Q{number:012d}", "Email": email, "Company": company})
    return leads


def _zip(rng: random.Random) -> str:
    return f"{rng.randrange(100_000):05d}"


def _outward(rng: random.Random) -> str:
    area = rng.choice(UK_AREAS)
    return f"{area}{rng.randrange(1, 30)}{rng.choice(('', 'A', 'B', 'R'))}"


def _thirds(block: str) -> list[str]:
    """A 3-digit block split in three ranges: ``94100-94132``, ``94133-94165``, ``94166-94199``."""
    return [f"{block}{low:02d}-{block}{high:02d}" for low, high in ((0, 32), (33, 65), (66, 99))]


def _territory_rules(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Rule sets in the shares of the module docstring; each family partitions its own space."""
    us_blocks = [f"{block:03d}" for block in range(1000)]
    uk_outwards = sorted({_outward(rng) for _ in range(count)})
    de_blocks = [f"{block:03d}" for block in rng.sample(range(1000), 500)]
    families: list[list[dict[str, Any]]] = [
        [{"countries": ["US"], "postal_codes": [r]} for b in us_blocks for r in _thirds(b)],
        [
            {"countries": ["United States"], "postal_codes": [f"{p:04d}*"]}
            for p in rng.sample(range(10_000), 2000)
        ],
        [
            {"countries": ["US"], "states": [state], "fields": {"Industry": [industry]}}
            for state in US_STATES[:50]
            for industry in INDUSTRIES[:20]
        ],
        [{"postal_codes": [code]} for code in rng.sample(uk_outwards, 2000)],
        [{"countries": ["Germany"], "postal_codes": [r]} for b in de_blocks for r in _thirds(b)],
        [{"countries": [country]} for country in ISO_COUNTRIES[::5]],
        [
            {"countries": [rng.choice(ISO_COUNTRIES)], "fields": {"Industry": [industry]}}
            for industry in INDUSTRIES
            for _ in range(20)
        ],
        [{"accounts": [f"001{rng.randrange(100_000):012d}"]} for _ in range(100)],
    ]
    rules = [rule for family in families for rule in family]
    rng.shuffle(rules)
    return rules[: count - 1]


def make_territories(rng: random.Random, count: int) -> list[Territory]:
    territories = [Territory(name="Rest of world", team="Inbound", fallback=True)]
    for number, rules in enumerate(_territory_rules(rng, count)):
        territories.append(
            Territory(
                name=f"T{number:05d}",
                team=f"Team {number % 200}",
                priority=rng.choice((0, 0, 0, 1)),
                **rules,
            )
        )
    return territories


def make_records(rng: random.Random, count: int) -> list[dict[str, Any]]:
    records = []
    for number in range(count):
        roll = rng.random()
        if roll < 0.45:
            record = {
                "Country": rng.choice(("US", "USA", "United States")),
                "State": rng.choice(US_STATES),
                "PostalCode": _zip(rng),
            }
        elif roll < 0.65:
            record = {
                "Country": rng.choice(("UK", "GB", "United Kingdom")),
                "PostalCode": f"{_outward(rng)} {rng.randrange(10)}AB",
            }
        elif roll < 0.80:
            record = {"BillingCountry": "Germany", "BillingPostalCode": _zip(rng)}
        else:
            record = {"Country": rng.choice(ISO_COUNTRIES)}
        record.update({"Id": f"00Q{number:012d}", "Industry": rng.choice(INDUSTRIES)})
        records.append(record)
    return records


def _timed(label: str, action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    print(f"{label}: {seconds:.2f} s")
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--territories", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(SEED)

    accounts = make_accounts(rng, args.accounts)
    leads = make_leads(rng, accounts, args.leads)
    index, account_build_s = _timed(
        f"account index build ({len(accounts)} accounts)", lambda: AccountIndex.build(accounts)
    )
    settings = MatchSettings()
    results, match_s = _timed(
        f"{len(leads)} leads matched", lambda: [match_lead(lead, index, settings) for lead in leads]
    )
    methods = Counter(result.method if result else "none" for result in results)
    print(f"lead matches by method: {dict(methods)}")

    territories = make_territories(rng, args.territories)
    records = make_records(rng, args.records)
    territory_index, territory_build_s = _timed(
        f"territory index build ({len(territories)} territories)",
        lambda: TerritoryIndex.build(territories),
    )
    decisions, territory_s = _timed(
        f"{len(records)} records through territories",
        lambda: [territory_index.match(record) for record in records],
    )
    fallen = sum(decision.territory == "Rest of world" for decision in decisions)
    checked = sum(decision.candidates for decision in decisions) / len(decisions)
    print(f"records to the fallback: {fallen}; territories checked per record: {checked:.1f}")

    leads_per_s = len(leads) / match_s
    records_per_s = len(records) / territory_s
    print(f"leads/s: {leads_per_s:,.0f}; territory records/s: {records_per_s:,.0f}")
    print(
        json.dumps(
            {
                "leads_per_s": round(leads_per_s),
                "territory_records_per_s": round(records_per_s),
                "accounts": len(accounts),
                "territories": len(territories),
                "account_index_build_s": round(account_build_s, 2),
                "territory_index_build_s": round(territory_build_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
