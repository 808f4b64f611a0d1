"""Lead-to-account matching and duplicate detection."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from rapidfuzz import fuzz

from routing.derive import FREE_MAIL_DOMAINS
from routing.matching import (
    AccountIndex,
    MatchSettings,
    PersonIndex,
    match_lead,
    match_lead_by_scan,
    match_lead_explained,
    name_block_keys,
    normalize_company,
)


def account(
    record_id: str, name: str, website: str | None = None, **fields: Any
) -> dict[str, Any]:
    owner = f"005{record_id}"
    return {"Id": record_id, "Name": name, "Website": website, "OwnerId": owner, **fields}


# --- company names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Acme, Inc.", "acme"),
        ("ACME INC", "acme"),
        ("Acme Incorporated", "acme"),
        ("Acme LLC", "acme"),
        ("Acme Ltd.", "acme"),
        ("Acme Limited", "acme"),
        ("Acme GmbH", "acme"),
        ("Acme AG", "acme"),
        ("Acme S.A.", "acme"),
        ("Acme S. A.", "acme"),
        ("Acme SA", "acme"),
        ("Acme SAS", "acme"),
        ("Acme S.p.A.", "acme"),
        ("Acme B.V.", "acme"),
        ("Acme BV", "acme"),
        ("Acme N.V.", "acme"),
        ("Acme Pty Ltd", "acme"),
        ("Acme PLC", "acme"),
        ("Acme Corp.", "acme"),
        ("Acme Corporation", "acme"),
        ("Acme Co.", "acme"),
        ("Acme KK", "acme"),
        ("Acme Oy", "acme"),
        ("Acme AB", "acme"),
        ("Acme Sp. z o.o.", "acme"),
        ("Acme S.A. de C.V.", "acme"),
        ("Acme Holding GmbH & Co. KG", "acme holding"),
        ("The Acme Company", "acme"),
        ("Société Générale", "societe generale"),
        ("Johnson & Johnson", "johnson johnson"),
        ("Johnson and Johnson", "johnson johnson"),
        ("J.P. Morgan", "jp morgan"),
        ("Macy's", "macys"),
        ("Inc.", "inc"),  # nothing but a legal form: kept
        ("", ""),
    ],
)
def test_company_names_are_normalised(raw: str, normalized: str) -> None:
    assert normalize_company(raw) == normalized


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_normalising_twice_changes_nothing(name: str) -> None:
    once = normalize_company(name)
    assert normalize_company(once) == once


# --- domain matching ------------------------------------------------------------------------------


def test_an_email_domain_matches_the_account_website() -> None:
    index = AccountIndex.build([account("001A", "Acme Corp", "https://www.acme.co.uk/about")])
    result = match_lead({"Email": "jo@mail.acme.co.uk", "Company": "Something else"}, index)
    assert result is not None
    assert (result.record_id, result.object_type, result.method, result.score) == (
        "001A",
        "Account",
        "domain",
        100.0,
    )
    assert result.owner_id == "005001A"
    assert "acme.co.uk" in result.reason


def test_extra_domain_fields_are_matched_too() -> None:
    accounts = [account("001A", "Acme", "acme.com", Domain__c="acme-group.com; acme.eu")]
    index = AccountIndex.build(accounts)
    result = match_lead({"Email": "jo@acme.eu"}, index)
    assert result is not None and result.record_id == "001A"


def test_the_derived_email_domain_is_used_when_present() -> None:
    index = AccountIndex.build([account("001A", "Acme", "acme.com")])
    result = match_lead({"derived.email_domain": "acme.com", "Email": None}, index)
    assert result is not None and result.method == "domain"


def test_the_lead_website_is_tried_after_a_free_mail_address() -> None:
    index = AccountIndex.build([account("001A", "Acme", "acme.com")])
    result, reasons = match_lead_explained(
        {"Email": "jo@gmail.com", "Website": "http://acme.com"}, index
    )
    assert result is not None and result.method == "domain"
    assert reasons[0] == "email domain gmail.com is free mail, never matched to an account"


@given(
    free_domain=st.sampled_from(sorted(FREE_MAIL_DOMAINS) + ["yahoo.co.uk", "hotmail.fr"]),
    user=st.from_regex(r"[a-z]{1,8}", fullmatch=True),
)
@settings(max_examples=60, deadline=None)
def test_free_mail_domains_never_match_an_account(free_domain: str, user: str) -> None:
    """Even an account whose website is the free-mail provider's is not matched by domain."""
    index = AccountIndex.build([account("001A", "Unrelated Name", f"https://{free_domain}")])
    assert match_lead({"Email": f"{user}@{free_domain}", "Company": "Zzyzx"}, index) is None


def test_extra_free_mail_domains_are_never_matched() -> None:
    index = AccountIndex.build([account("001A", "Acme", "local-isp.net")])
    settings_ = MatchSettings(extra_free_mail_domains=frozenset({"LOCAL-ISP.net"}))
    assert match_lead({"Email": "jo@local-isp.net"}, index, settings_) is None
    assert match_lead({"Email": "jo@local-isp.net"}, index) is not None


# --- name matching --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account_name", "company"),
    [
        ("Acme Corporation", "ACME, Inc."),
        ("Müller Maschinenbau GmbH", "Mueller Maschinenbau"),
        ("Globex Software", "Globex Sofware Ltd"),
        ("Initech Systems", "Systems Initech"),
    ],
)
def test_fuzzy_names_at_the_threshold_match_and_just_above_do_not(
    account_name: str, company: str
) -> None:
    index = AccountIndex.build([account("001A", account_name)])
    score = fuzz.token_sort_ratio(normalize_company(company), normalize_company(account_name))
    at_threshold = match_lead({"Company": company}, index, MatchSettings(name_threshold=score))
    assert at_threshold is not None
    assert (at_threshold.method, at_threshold.score) == ("name", pytest.approx(score))
    above = MatchSettings(name_threshold=min(100.0, score + 0.01))
    assert score == 100.0 or match_lead({"Company": company}, index, above) is None


def test_a_name_below_the_default_threshold_does_not_match() -> None:
    index = AccountIndex.build([account("001A", "Acme Widgets")])
    assert match_lead({"Company": "Acme Gadgets"}, index) is None


@pytest.mark.parametrize("company", ["[not provided]", "N/A", "None", "self-employed", "", None])
def test_placeholder_company_names_are_never_matched(company: str | None) -> None:
    index = AccountIndex.build([account("001A", "N/A"), account("001B", "Self Employed")])
    assert match_lead({"Company": company}, index) is None


def test_the_domain_match_comes_before_the_name_match() -> None:
    index = AccountIndex.build([account("001A", "Acme", "acme.com"), account("001B", "Globex")])
    result = match_lead({"Email": "jo@acme.com", "Company": "Globex"}, index)
    assert result is not None and result.record_id == "001A"


def test_matching_can_be_limited_to_one_method() -> None:
    index = AccountIndex.build([account("001A", "Acme", "acme.com")])
    lead = {"Email": "jo@acme.com", "Company": "Acme"}
    by_name = match_lead(lead, index, MatchSettings(match_by_domain=False))
    assert by_name is not None and by_name.method == "name"
    assert match_lead({"Company": "Acme"}, index, MatchSettings(match_by_name=False)) is None


# --- ties -----------------------------------------------------------------------------------------

TIED_ACCOUNTS = [
    account("001A", "Acme", "acme.com", OwnerIsActive=False, LastActivityDate="2024-06-01",
            NumberOfEmployees=10),
    account("001B", "Acme Inc", "acme.com", Owner={"IsActive": True},
            LastActivityDate="2024-01-01", NumberOfEmployees=50),
    account("001C", "ACME Ltd", "acme.com", LastActivityDate=None, NumberOfEmployees=5000),
]


@pytest.mark.parametrize(
    ("tie_break", "expected"),
    [
        ("owner_active", "001B"),
        ("most_recent_activity", "001A"),
        ("largest_account", "001C"),
        ([], "001A"),  # lowest id
    ],
)
@pytest.mark.parametrize(
    "lead", [{"Email": "x@acme.com"}, {"Company": "Acme"}], ids=["domain", "name"]
)
def test_ties_are_broken_by_the_configured_rule(
    tie_break: Any, expected: str, lead: dict[str, Any]
) -> None:
    index = AccountIndex.build(TIED_ACCOUNTS)
    result = match_lead(lead, index, MatchSettings(tie_break=tie_break))
    assert result is not None and result.record_id == expected
    assert "3 tied" in result.reason


def test_tie_rules_apply_in_order() -> None:
    accounts = [
        account("001A", "Acme", "acme.com", OwnerIsActive=True, NumberOfEmployees=10),
        account("001B", "Acme", "acme.com", OwnerIsActive=True, NumberOfEmployees=99),
        account("001C", "Acme", "acme.com", OwnerIsActive=False, NumberOfEmployees=5000),
    ]
    index = AccountIndex.build(accounts)
    rules = MatchSettings(tie_break=("owner_active", "largest_account"))
    result = match_lead({"Email": "x@acme.com"}, index, rules)
    assert result is not None and result.record_id == "001B"


def test_a_tie_margin_makes_close_scores_tie() -> None:
    accounts = [
        account("001A", "Acme Widget", NumberOfEmployees=5),
        account("001B", "Acme Widgets", NumberOfEmployees=500),
    ]
    index = AccountIndex.build(accounts)
    exact = MatchSettings(tie_break="largest_account", name_threshold=80)
    close = MatchSettings(tie_break="largest_account", name_threshold=80, tie_margin=10)
    lead = {"Company": "Acme Widget"}
    assert match_lead(lead, index, exact).record_id == "001A"  # type: ignore[union-attr]
    assert match_lead(lead, index, close).record_id == "001B"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("settings_input", "message"),
    [
        ({"name_threshold": 101}, "less than or equal to 100"),
        ({"tie_break": ["owner_active", "owner_active"]}, "more than once"),
        ({"tie_break": ["biggest"]}, "owner_active"),
        ({"scorer": "levenshtein"}, "token_sort_ratio"),
        ({"threshold": 90}, "Extra inputs"),
    ],
)
def test_bad_settings_are_rejected(settings_input: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MatchSettings.model_validate(settings_input)


def test_the_result_gives_the_match_facts() -> None:
    index = AccountIndex.build([account("001A", "Acme", "acme.com")])
    result = match_lead({"Email": "x@acme.com"}, index)
    assert result is not None
    facts = result.as_facts()
    assert facts["account_id"] == facts["record_id"] == "001A"
    assert (facts["object"], facts["method"], facts["owner_id"]) == ("Account", "domain", "005001A")


# --- blocking -------------------------------------------------------------------------------------


def test_a_crowded_block_key_is_skipped_when_the_lead_has_another() -> None:
    accounts = [account(f"001{n:03d}", f"Zorblax{n:03d} Systems") for n in range(10)]
    accounts.append(account("001X", "Quintox Systems"))
    index = AccountIndex.build(accounts, max_block_size=3)
    result, reasons = match_lead_explained({"Company": "Quintox Systems Inc"}, index)
    assert result is not None and result.record_id == "001X"
    assert "(1 names compared)" in reasons[-1]


def test_a_lead_with_only_crowded_keys_still_matches() -> None:
    accounts = [account(f"001{n:03d}", f"Systems {n:03d}") for n in range(10)]
    accounts.append(account("001X", "Systems"))
    index = AccountIndex.build(accounts, max_block_size=3)
    result = match_lead({"Company": "Systems, Inc."}, index)
    assert result is not None and result.record_id == "001X"


@pytest.mark.parametrize(
    ("account_name", "company"),
    [
        ("Cyberdynamics", "Cybxrdynamics"),  # first four letters changed: found by the last four
        ("Umbrellacorp Ltd", "Umbrellacorx"),  # last four letters changed: found by the first four
        ("Stark Industries", "Stark Industrxes"),
    ],
)
def test_one_typo_anywhere_still_finds_the_account(account_name: str, company: str) -> None:
    index = AccountIndex.build([account("001A", account_name), account("001B", "Unrelated")])
    result = match_lead({"Company": company}, index)
    assert result is not None and result.record_id == "001A"


WORDS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka", "tyrell",
         "cyberdynamics", "soylentgreen", "industries", "analytics", "logistics", "holdings")
SUFFIXES = ("Inc", "Ltd", "GmbH", "S.A.", "LLC", "")


@st.composite
def account_names(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
    return " ".join([*words, draw(st.sampled_from(SUFFIXES))]).strip()


@st.composite
def lead_company(draw: st.DrawFn, names: list[str]) -> str:
    """An account name, or a variant of it: case, legal form, or one character changed."""
    name = draw(st.sampled_from(names))
    kind = draw(st.sampled_from(("same", "upper", "suffix", "typo")))
    if kind == "upper":
        return name.upper()
    if kind == "suffix":
        return f"{normalize_company(name)} {draw(st.sampled_from(SUFFIXES))}"
    if kind == "typo":
        at = draw(st.integers(0, min(3, len(name) - 1)) | st.integers(0, len(name) - 1))
        return name[:at] + draw(st.sampled_from("xq")) + name[at + 1 :]
    return name


@given(st.data())
@settings(max_examples=150, deadline=None)
def test_blocking_finds_what_a_full_scan_finds(data: st.DataObject) -> None:
    """With at most one character changed, a name scoring >= 90 always shares a block key."""
    names = data.draw(st.lists(account_names(), min_size=1, max_size=25), label="names")
    accounts = [account(f"001{n:05d}", name) for n, name in enumerate(names)]
    index = AccountIndex.build(accounts)
    company = data.draw(lead_company(names), label="company")
    blocked = match_lead({"Company": company}, index)
    scanned = match_lead_by_scan({"Company": company}, index)
    assert (blocked and (blocked.record_id, blocked.score)) == (
        scanned and (scanned.record_id, scanned.score)
    )


@given(st.text(alphabet="abcdefgh ", min_size=1, max_size=30))
@settings(max_examples=100, deadline=None)
def test_a_name_shares_its_block_keys_with_itself_in_any_word_order(name: str) -> None:
    words = name.split()
    assume(words)
    assert name_block_keys(" ".join(words)) == name_block_keys(" ".join(reversed(words)))


# --- duplicates -----------------------------------------------------------------------------------

PEOPLE = PersonIndex.build(
    leads=[
        {"Id": "00Q000000000001AAA", "Email": "Jo.Smith@Acme.com", "FirstName": "Jo",
         "LastName": "Smith", "Company": "Acme", "OwnerId": "005L1"},
        {"Id": "00Q000000000002", "Email": "jose@other.com", "FirstName": "José",
         "LastName": "Núñez", "Company": "Globex GmbH", "OwnerId": "005L2",
         "LastActivityDate": "2024-01-01"},
    ],
    contacts=[
        {"Id": "003000000000001", "Email": "jo.smith@acme.com", "FirstName": "Jo",
         "LastName": "Smith", "Account": {"Name": "Acme Inc"}, "OwnerId": "005C1"},
        {"Id": "003000000000002", "Email": "jnunez@globex.com", "FirstName": "Jose",
         "LastName": "Nunez", "Account.Name": "GLOBEX", "OwnerId": "005C2"},
    ],
)


@pytest.mark.parametrize(
    ("lead", "expected"),
    [
        ({"Email": "JO.SMITH@acme.com"}, ("003000000000001", "email", "005C1")),
        ({"Email": "jose@other.com"}, ("00Q000000000002", "email", "005L2")),
        ({"FirstName": "jose", "LastName": "NUNEZ", "Company": "Globex, Inc."},
         ("003000000000002", "name", "005C2")),
        ({"Email": "new@x.com", "FirstName": "Jo", "LastName": "Smith", "Company": "Acme Ltd"},
         ("003000000000001", "name", "005C1")),
        ({"Id": "003000000000001", "Email": "jo.smith@acme.com"},
         ("00Q000000000001AAA", "email", "005L1")),
    ],
    ids=["email, contact preferred", "email, lead", "name and company", "name after email",
         "not itself"],
)
def test_duplicates_by_email_then_by_name_and_company(
    lead: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    result = PEOPLE.find_duplicate(lead)
    assert result is not None
    assert (result.record_id, result.method, result.owner_id) == expected


@pytest.mark.parametrize(
    "lead",
    [
        {"Email": "someone@else.com", "FirstName": "Jo", "LastName": "Smith", "Company": "Other"},
        {"FirstName": "Jo", "LastName": "Smith"},  # no company
        {"Id": "00Q000000000002AAA", "Email": "jose@other.com"},  # only itself
        {},
    ],
)
def test_no_duplicate_without_a_shared_email_or_name_and_company(lead: dict[str, Any]) -> None:
    assert PEOPLE.find_duplicate(lead) is None


def test_leads_can_be_preferred_over_contacts() -> None:
    result = PEOPLE.find_duplicate(
        {"Email": "jo.smith@acme.com"}, MatchSettings(prefer_duplicate_object="Lead")
    )
    assert result is not None and result.object_type == "Lead"
