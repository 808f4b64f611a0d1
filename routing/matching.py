"""Lead-to-account matching and duplicate detection, against Baton's synced reference data.

``AccountIndex.build(accounts)`` blocks accounts by registrable domain (website plus extra domain
fields) and by keys of their normalised name, so ``match_lead`` looks at a few blocks instead of
every account. ``match_lead`` tries the lead's email domain first (never a free-mail domain), then
its website domain, then a fuzzy company-name match (rapidfuzz) scored 0-100 against a threshold.
When several accounts tie, ``MatchSettings.tie_break`` decides, rule by rule, then the lowest Id.

``PersonIndex`` finds a lead's duplicates among leads and contacts: the same email first, then
the same normalised first name, last name and company.

Name blocking: every token of a normalised name gives the keys ``p:<first 4 chars>`` and, for
tokens longer than 4, ``s:<last 4 chars>``. A lead is scored against the accounts sharing one of
its keys, so one typo in a long token still finds its account. Keys shared by more than
``max_block_size`` names (``tech``, ``syst``) are skipped unless the lead has no other key.

Settings in the org YAML::

    matching:
      name_threshold: 90
      scorer: token_sort_ratio
      tie_break: [owner_active, most_recent_activity, largest_account]
      tie_margin: 0
      extra_free_mail_domains: [example-isp.net]
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, field_validator
from rapidfuzz import fuzz, process

from routing.base import Strict
from routing.derive import is_free_mail_domain
from routing.normalize import registered_domain

ObjectType = Literal["Account", "Lead", "Contact"]
MatchMethod = Literal["domain", "name", "email"]
TieRule = Literal["owner_active", "most_recent_activity", "largest_account"]
Scorer = Literal["token_sort_ratio", "token_set_ratio", "ratio", "WRatio"]

SCORERS: dict[str, Callable[..., float]] = {
    "token_sort_ratio": fuzz.token_sort_ratio,
    "token_set_ratio": fuzz.token_set_ratio,
    "ratio": fuzz.ratio,
    "WRatio": fuzz.WRatio,
}
DEFAULT_TIE_BREAK: tuple[TieRule, ...] = ("owner_active", "most_recent_activity", "largest_account")
PERFECT_SCORE = 100.0
DEFAULT_NAME_THRESHOLD = 90.0
DEFAULT_MAX_BLOCK_SIZE = 1_000
# rapidfuzz's cutoff drops scores exactly at it (float rounding): ask a little lower, then filter.
CUTOFF_SLACK = 0.01
SCORE_TOLERANCE = 1e-9
BLOCK_KEY_CHARS = 4
# Memory stays flat under a stream of new records: lead values are one-off (a small cache of recent ones serves
# the few look-ups of one record), while account names are the org's own, normalised again at every index rebuild.
RECENT_NAME_CACHE_SIZE = 4_096
ACCOUNT_NAME_CACHE_SIZE = 262_144
DOMAIN_CACHE_SIZE = 16_384
SALESFORCE_ID_LENGTH = 15
SALESFORCE_LONG_ID_LENGTH = 18

EMAIL_FIELDS = ("Email", "PersonEmail")
DERIVED_EMAIL_DOMAIN = "derived.email_domain"
DERIVED_WEBSITE_DOMAIN = "derived.website_domain"
WEBSITE_FIELD = "Website"
COMPANY_FIELD = "Company"
CONTACT_COMPANY_FIELDS = ("Account.Name", "AccountName", "Company")
DEFAULT_DOMAIN_FIELDS = ("Domain__c",)
OWNER_ACTIVE_FIELDS = ("Owner.IsActive", "OwnerIsActive", "Owner_Is_Active__c")
ACTIVITY_FIELD = "LastActivityDate"
EMPLOYEES_FIELD = "NumberOfEmployees"
REVENUE_FIELD = "AnnualRevenue"
DOMAIN_LIST_SEPARATORS = re.compile(r"[\s,;]+")
ISO_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")

# Company names that say nothing about the company (after normalisation); never fuzzy-matched.
DEFAULT_IGNORED_COMPANY_NAMES = (
    "not provided", "na", "none", "unknown", "self", "self employed", "individual", "private",
    "home", "personal", "test", "student", "retired", "freelance", "freelancer",
)

# Legal-form words, compared after normalisation (lower case, accents and dots removed, runs of
# single letters joined: "S. A." -> "sa"). Stripped from the end of a name, one after another.
LEGAL_SUFFIXES = frozenset(
    """
    inc incorporated llc llp lllp lp ltd limited plc corp corporation co company cos
    gmbh mbh ag kg kgaa ohg ug ev se eg
    sa sas sasu sarl sca scs snc eurl spa srl sapa sl slu sll sau
    bv nv vof cv bvba sprl scrl
    pty pte pvt kk gk yk oy oyj ab hb kb as asa aps hf ehf
    sro spol kft zrt nyrt doo dd ood eood ou uab sia
    ltda cia sac saa sab cv
    bhd sdn tbk jsc pjsc ojsc zao oao ooo pao
    """.split()
)
# Words that only count as a legal form together: "sp z oo" (Polish), "sa de cv" (Mexican).
LEGAL_SUFFIX_PHRASES = frozenset(
    {("sp", "z", "oo"), ("sa", "de", "cv"), ("s", "de", "rl"), ("private", "limited")}
)
LEADING_ARTICLES = frozenset({"the"})
CONJUNCTIONS = frozenset({"and"})

_JOINED_PUNCTUATION = re.compile(r"[.'’`´]")
_OTHER_PUNCTUATION = re.compile(r"[\W_]+")


# --- text normalisation ---------------------------------------------------------------------------


def fold_text(text: str) -> str:
    """Lower case, accents removed, punctuation turned to spaces, single spaces."""
    plain = _strip_accents(_strip_accents(text).casefold())
    plain = _JOINED_PUNCTUATION.sub("", plain)
    return " ".join(_OTHER_PUNCTUATION.sub(" ", plain).split())


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@lru_cache(maxsize=RECENT_NAME_CACHE_SIZE)
def normalize_company(name: str | None) -> str:
    """Company name reduced for comparison: ``The Acme Holding GmbH & Co. KG`` -> ``acme holding``.

    Lower case, accents and punctuation removed, ``&`` read as ``and`` and both dropped, runs of
    single letters joined (``S. A.`` -> ``sa``), a leading ``the`` and trailing legal forms
    (Inc, Ltd, GmbH, S.A., Pty Ltd, ...) removed; a name that is only a legal form keeps it.
    """
    if not name:
        return ""
    words = fold_text(name.replace("&", " and ")).split()
    tokens = _join_single_letters([word for word in words if word not in CONJUNCTIONS])
    while len(tokens) > 1 and tokens[0] in LEADING_ARTICLES:
        tokens = tokens[1:]
    return " ".join(_strip_legal_suffixes(tokens))


account_name_key = lru_cache(maxsize=ACCOUNT_NAME_CACHE_SIZE)(normalize_company.__wrapped__)


def _join_single_letters(tokens: list[str]) -> list[str]:
    joined: list[str] = []
    run: list[str] = []
    for token in tokens:
        if len(token) == 1 and token.isalpha():
            run.append(token)
            continue
        if run:
            joined.append("".join(run))
            run = []
        joined.append(token)
    if run:
        joined.append("".join(run))
    return joined


def _strip_legal_suffixes(tokens: list[str]) -> list[str]:
    while len(tokens) > 1:
        phrase_length = next(
            (
                length
                for length in (3, 2)
                if len(tokens) > length and tuple(tokens[-length:]) in LEGAL_SUFFIX_PHRASES
            ),
            0,
        )
        if phrase_length:
            tokens = tokens[:-phrase_length]
        elif tokens[-1] in LEGAL_SUFFIXES:
            tokens = tokens[:-1]
        else:
            break
    return tokens


def name_block_keys(normalized_name: str) -> frozenset[str]:
    """Blocking keys of a normalised name: first and last four characters of each token."""
    keys: set[str] = set()
    for token in normalized_name.split():
        keys.add("p:" + token[:BLOCK_KEY_CHARS])
        if len(token) > BLOCK_KEY_CHARS:
            keys.add("s:" + token[-BLOCK_KEY_CHARS:])
    return frozenset(keys)


def salesforce_id_key(record_id: str | None) -> str | None:
    """The case-sensitive 15-character form of a Salesforce id (18-character ids are shortened)."""
    if not record_id:
        return None
    text = str(record_id).strip()
    if len(text) == SALESFORCE_LONG_ID_LENGTH and text.isalnum():
        return text[:SALESFORCE_ID_LENGTH]
    return text or None


@lru_cache(maxsize=DOMAIN_CACHE_SIZE)
def _domain_of(host_or_url: str) -> str | None:
    return registered_domain(host_or_url)


def _email_domain(email: Any) -> str | None:
    if not isinstance(email, str) or "@" not in email:
        return None
    return _domain_of(email.rsplit("@", 1)[1].strip().lower())


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """A field by API name; ``Owner.IsActive`` also reads ``{"Owner": {"IsActive": ...}}``."""
    if path in record:
        return record[path]
    head, dot, rest = path.partition(".")
    if dot and isinstance(record.get(head), Mapping):
        return lookup(record[head], rest)
    return None


def _first(record: Mapping[str, Any], paths: Sequence[str]) -> Any:
    for path in paths:
        value = lookup(record, path)
        if value is not None and value != "":
            return value
    return None


# --- settings and results -------------------------------------------------------------------------


class MatchSettings(Strict):
    """How leads are matched to accounts and to duplicate people."""

    match_by_domain: bool = True
    match_by_name: bool = True
    name_threshold: float = Field(default=DEFAULT_NAME_THRESHOLD, ge=0, le=100)
    scorer: Scorer = "token_sort_ratio"
    tie_break: tuple[TieRule, ...] = DEFAULT_TIE_BREAK
    tie_margin: float = Field(default=0.0, ge=0, le=100, description="scores this close tie")
    extra_free_mail_domains: frozenset[str] = frozenset()
    ignored_company_names: frozenset[str] = frozenset(DEFAULT_IGNORED_COMPANY_NAMES)
    prefer_duplicate_object: Literal["Contact", "Lead"] = "Contact"

    @field_validator("tie_break", mode="before")
    @classmethod
    def _one_rule_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("tie_break")
    @classmethod
    def _rules_once(cls, value: tuple[TieRule, ...]) -> tuple[TieRule, ...]:
        repeated = sorted({rule for rule in value if value.count(rule) > 1})
        if repeated:
            raise ValueError(f"tie_break names {', '.join(repeated)} more than once")
        return value

    @field_validator("extra_free_mail_domains", mode="after")
    @classmethod
    def _lower_domains(cls, value: frozenset[str]) -> frozenset[str]:
        return frozenset(domain.strip().lower() for domain in value if domain.strip())

    @field_validator("ignored_company_names", mode="after")
    @classmethod
    def _normalise_ignored(cls, value: frozenset[str]) -> frozenset[str]:
        return frozenset(fold_text(name) for name in value)

    def is_free_mail(self, domain: str) -> bool:
        return domain in self.extra_free_mail_domains or is_free_mail_domain(domain)


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The record a lead matched: its id, object, owner, score 0-100, method and why."""

    object_type: ObjectType
    record_id: str
    owner_id: str | None
    score: float
    method: MatchMethod
    reason: str

    def as_facts(self) -> dict[str, Any]:
        """The ``match.<name>`` facts, without the prefix (``account_id`` only for accounts)."""
        facts: dict[str, Any] = {
            "object": self.object_type,
            "object_type": self.object_type,
            "record_id": self.record_id,
            "owner_id": self.owner_id,
            "score": self.score,
            "method": self.method,
            "reason": self.reason,
        }
        if self.object_type == "Account":
            facts["account_id"] = self.record_id
        return facts


# --- candidates and tie rules ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """What matching keeps of a reference record (account, lead or contact)."""

    record_id: str
    object_type: ObjectType
    name: str
    owner_id: str | None
    owner_active: bool | None
    activity_day: int | None
    employees: float | None
    revenue: float | None

    @classmethod
    def from_record(
        cls, record: Mapping[str, Any], object_type: ObjectType, name: str
    ) -> Candidate:
        record_id = _text(record.get("Id"))
        if record_id is None:
            raise ValueError(f"{object_type} record without an Id: {dict(record)!r:.200}")
        return cls(
            record_id=record_id,
            object_type=object_type,
            name=name,
            owner_id=_text(record.get("OwnerId")),
            owner_active=_as_bool(_first(record, OWNER_ACTIVE_FIELDS)),
            activity_day=_day_number(record.get(ACTIVITY_FIELD)),
            employees=_as_number(record.get(EMPLOYEES_FIELD)),
            revenue=_as_number(record.get(REVENUE_FIELD)),
        )


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    return None


def _as_number(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _day_number(value: Any) -> int | None:
    if isinstance(value, datetime):
        return value.date().toordinal()
    if isinstance(value, date):
        return value.toordinal()
    if isinstance(value, str) and ISO_DATE_PREFIX.match(value):
        try:
            return date.fromisoformat(value[:10]).toordinal()
        except ValueError:
            return None
    return None


def _missing_last(value: float | None) -> tuple[int, float]:
    """Sort key putting larger values first and unknown values last."""
    return (1, 0.0) if value is None else (0, -value)


TIE_KEYS: dict[str, Callable[[Candidate], tuple[Any, ...]]] = {
    "owner_active": lambda c: ({True: 0, None: 1, False: 2}[c.owner_active],),
    "most_recent_activity": lambda c: _missing_last(
        None if c.activity_day is None else float(c.activity_day)
    ),
    "largest_account": lambda c: (*_missing_last(c.employees), *_missing_last(c.revenue)),
}


def break_tie(candidates: Sequence[Candidate], rules: Sequence[TieRule]) -> Candidate:
    """The candidate the tie rules prefer, in order; the lowest record id decides the rest."""
    return min(
        candidates,
        key=lambda c: (*(part for rule in rules for part in TIE_KEYS[rule](c)), c.record_id),
    )


def _tie_note(candidates: Sequence[Candidate], rules: Sequence[TieRule]) -> str:
    if len(candidates) == 1:
        return ""
    return f"; {len(candidates)} tied, chosen by {', '.join(rules) or 'lowest id'}"


# --- accounts -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _NameGroup:
    """Accounts sharing one normalised name: fuzzy scoring sees each name once."""

    name: str
    members: tuple[Candidate, ...]


class AccountIndex:
    """Accounts blocked by registrable domain and by name keys (see the module docstring)."""

    def __init__(
        self,
        by_domain: dict[str, tuple[Candidate, ...]],
        groups: list[_NameGroup],
        by_key: dict[str, tuple[int, ...]],
        max_block_size: int,
    ) -> None:
        self._by_domain = by_domain
        self._groups = groups
        self._by_key = by_key
        self._max_block_size = max_block_size
        self._names = [group.name for group in groups]

    @classmethod
    def build(
        cls,
        accounts: Iterable[Mapping[str, Any]],
        domain_fields: Sequence[str] = DEFAULT_DOMAIN_FIELDS,
        max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
        free_mail: Callable[[str], bool] = is_free_mail_domain,
    ) -> AccountIndex:
        """Index accounts (``Id``, ``Name``, ``Website``, ``domain_fields``, ``OwnerId`` ...)."""
        by_domain: dict[str, list[Candidate]] = {}
        members_by_name: dict[str, list[Candidate]] = {}
        for record in accounts:
            name = _text(record.get("Name")) or ""
            candidate = Candidate.from_record(record, "Account", name)
            for domain in _account_domains(record, domain_fields):
                if not free_mail(domain):
                    by_domain.setdefault(domain, []).append(candidate)
            normalized = account_name_key(name)
            if normalized:
                members_by_name.setdefault(normalized, []).append(candidate)
        groups = [_NameGroup(name, tuple(members)) for name, members in members_by_name.items()]
        by_key: dict[str, list[int]] = {}
        for position, group in enumerate(groups):
            for key in name_block_keys(group.name):
                by_key.setdefault(key, []).append(position)
        return cls(
            {domain: tuple(found) for domain, found in by_domain.items()},
            groups,
            {key: tuple(positions) for key, positions in by_key.items()},
            max_block_size,
        )

    def __len__(self) -> int:
        return sum(len(group.members) for group in self._groups)

    def by_domain(self, domain: str) -> tuple[Candidate, ...]:
        return self._by_domain.get(domain, ())

    def name_candidates(self, normalized_name: str) -> list[int]:
        """Positions of the name groups sharing a block key with the name (stop keys skipped)."""
        blocks = [self._by_key.get(key, ()) for key in name_block_keys(normalized_name)]
        blocks = [block for block in blocks if block]
        if not blocks:
            return []
        usable = [block for block in blocks if len(block) <= self._max_block_size]
        if not usable:
            usable = [min(blocks, key=len)]
        if len(usable) == 1:
            return list(usable[0])
        return sorted({position for block in usable for position in block})

    def every_name(self) -> list[int]:
        """Every name group: what a brute-force scan would score."""
        return list(range(len(self._groups)))

    def score_names(
        self, normalized_name: str, positions: Sequence[int], settings: MatchSettings
    ) -> list[tuple[float, _NameGroup]]:
        """Groups at ``positions`` scoring at least the threshold, best first."""
        choices = [self._names[position] for position in positions]
        threshold = settings.name_threshold
        found = process.extract(
            normalized_name,
            choices,
            scorer=SCORERS[settings.scorer],
            score_cutoff=max(0.0, threshold - CUTOFF_SLACK),
            limit=None,
        )
        return sorted(
            (
                (float(score), self._groups[positions[at]])
                for _, score, at in found
                if score + SCORE_TOLERANCE >= threshold
            ),
            key=lambda pair: (-pair[0], pair[1].name),
        )


def _account_domains(record: Mapping[str, Any], domain_fields: Sequence[str]) -> set[str]:
    domains: set[str] = set()
    website = _text(record.get(WEBSITE_FIELD))
    values = [website] if website else []
    for field in domain_fields:
        extra = _text(lookup(record, field))
        if extra:
            values.extend(DOMAIN_LIST_SEPARATORS.split(extra))
    for value in values:
        domain = _domain_of(value.lower()) if value else None
        if domain:
            domains.add(domain)
    return domains


def match_lead(
    lead_fields: Mapping[str, Any], index: AccountIndex, settings: MatchSettings | None = None
) -> MatchResult | None:
    """The account a lead belongs to, or None; see ``match_lead_explained`` for the reasons."""
    return match_lead_explained(lead_fields, index, settings)[0]


def match_lead_by_scan(
    lead_fields: Mapping[str, Any], index: AccountIndex, settings: MatchSettings | None = None
) -> MatchResult | None:
    """Like ``match_lead`` but scoring every account name (no blocking); for tests and audits."""
    return match_lead_explained(lead_fields, index, settings, scan_all_names=True)[0]


def match_lead_explained(
    lead_fields: Mapping[str, Any],
    index: AccountIndex,
    settings: MatchSettings | None = None,
    scan_all_names: bool = False,
) -> tuple[MatchResult | None, list[str]]:
    """The matched account (or None) and the reasons, step by step.

    ``lead_fields`` are the lead's fields or its facts (``derived.email_domain`` and
    ``derived.website_domain`` are used when present).
    """
    settings = settings or MatchSettings()
    reasons: list[str] = []
    if settings.match_by_domain:
        for label, domain in _lead_domains(lead_fields):
            if settings.is_free_mail(domain):
                reasons.append(f"{label} {domain} is free mail, never matched to an account")
                continue
            found = index.by_domain(domain)
            if not found:
                reasons.append(f"no account has the {label} {domain}")
                continue
            chosen = break_tie(found, settings.tie_break)
            reason = (
                f"{label} {domain} matches account {chosen.name!r}"
                f"{_tie_note(found, settings.tie_break)}"
            )
            return _result(chosen, PERFECT_SCORE, "domain", reason), [*reasons, reason]
    if not settings.match_by_name:
        return None, [*reasons, "name matching is off"]
    company = _text(lead_fields.get(COMPANY_FIELD))
    normalized = normalize_company(company)
    if not normalized or normalized in settings.ignored_company_names:
        return None, [*reasons, f"company {company!r} is not matchable by name"]
    positions = index.every_name() if scan_all_names else index.name_candidates(normalized)
    scored = index.score_names(normalized, positions, settings)
    if not scored:
        reasons.append(
            f"no account name scores {settings.name_threshold:g} or more against {normalized!r}"
            f" ({len(positions)} names compared)"
        )
        return None, reasons
    best_score = scored[0][0]
    tied = [
        member
        for score, group in scored
        if score >= best_score - settings.tie_margin
        for member in group.members
    ]
    chosen = break_tie(tied, settings.tie_break)
    reason = (
        f"company {normalized!r} matches account {chosen.name!r} with score {best_score:.1f}"
        f" >= {settings.name_threshold:g} ({len(positions)} names compared"
        f"{_tie_note(tied, settings.tie_break)})"
    )
    return _result(chosen, best_score, "name", reason), [*reasons, reason]


def _lead_domains(lead_fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    email_domain = _text(lead_fields.get(DERIVED_EMAIL_DOMAIN)) or _email_domain(
        _first(lead_fields, EMAIL_FIELDS)
    )
    website = _text(lead_fields.get(WEBSITE_FIELD))
    website_domain = _text(lead_fields.get(DERIVED_WEBSITE_DOMAIN)) or (
        _domain_of(website.lower()) if website else None
    )
    domains = [("email domain", email_domain), ("website domain", website_domain)]
    unique: list[tuple[str, str]] = []
    for label, domain in domains:
        if domain and all(domain != seen for _, seen in unique):
            unique.append((label, domain.lower()))
    return unique


def _result(chosen: Candidate, score: float, method: MatchMethod, reason: str) -> MatchResult:
    return MatchResult(chosen.object_type, chosen.record_id, chosen.owner_id, score, method, reason)


# --- people (duplicates) --------------------------------------------------------------------------


def _email_key(value: Any) -> str | None:
    text = _text(value)
    return text.casefold() if text and "@" in text else None


def person_name_key(
    first_name: Any, last_name: Any, company: Any
) -> tuple[str, str, str] | None:
    """Normalised (first, last, company); None without a last name or a company."""
    last = fold_text(_text(last_name) or "")
    company_key = normalize_company(_text(company))
    if not last or not company_key:
        return None
    return (fold_text(_text(first_name) or ""), last, company_key)


PersonEntry = tuple["Candidate", str | None, tuple[str, str, str] | None]


def person_entry(record: Mapping[str, Any], object_type: ObjectType) -> PersonEntry:
    """A lead's or contact's candidate with its email key and name key (either may be None)."""
    company_fields = (COMPANY_FIELD,) if object_type == "Lead" else CONTACT_COMPANY_FIELDS
    full_name = " ".join(
        part for part in (_text(record.get("FirstName")), _text(record.get("LastName"))) if part
    )
    candidate = Candidate.from_record(record, object_type, full_name)
    email = _email_key(_first(record, EMAIL_FIELDS))
    name_key = person_name_key(record.get("FirstName"), record.get("LastName"), _first(record, company_fields))
    return candidate, email or None, name_key or None


class PersonIndex:
    """Leads and contacts by email and by normalised first + last name + company."""

    def __init__(
        self,
        by_email: dict[str, tuple[Candidate, ...]],
        by_name: dict[tuple[str, str, str], tuple[Candidate, ...]],
    ) -> None:
        self._by_email = by_email
        self._by_name = by_name

    @classmethod
    def build(
        cls,
        leads: Iterable[Mapping[str, Any]] = (),
        contacts: Iterable[Mapping[str, Any]] = (),
    ) -> PersonIndex:
        by_email: dict[str, list[Candidate]] = {}
        by_name: dict[tuple[str, str, str], list[Candidate]] = {}
        sources: tuple[tuple[ObjectType, Iterable[Mapping[str, Any]], Sequence[str]], ...] = (
            ("Lead", leads, (COMPANY_FIELD,)),
            ("Contact", contacts, CONTACT_COMPANY_FIELDS),
        )
        for object_type, records, _ in sources:
            for record in records:
                candidate, email, name_key = person_entry(record, object_type)
                if email:
                    by_email.setdefault(email, []).append(candidate)
                if name_key:
                    by_name.setdefault(name_key, []).append(candidate)
        return cls(
            {key: tuple(found) for key, found in by_email.items()},
            {key: tuple(found) for key, found in by_name.items()},
        )

    def find_duplicate(
        self, lead_fields: Mapping[str, Any], settings: MatchSettings | None = None
    ) -> MatchResult | None:
        """The lead's best duplicate among other leads and contacts: same email, else same name."""
        settings = settings or MatchSettings()
        own_id = salesforce_id_key(_text(lead_fields.get("Id")))
        email = _email_key(_first(lead_fields, EMAIL_FIELDS))
        name_key = person_name_key(
            lead_fields.get("FirstName"),
            lead_fields.get("LastName"),
            lead_fields.get(COMPANY_FIELD),
        )
        steps: list[tuple[MatchMethod, tuple[Candidate, ...], str]] = [
            ("email", self._by_email.get(email, ()) if email else (), f"email {email}"),
            (
                "name",
                self._by_name.get(name_key, ()) if name_key else (),
                f"name and company {' / '.join(name_key) if name_key else ''}",
            ),
        ]
        for method, found, what in steps:
            others = [c for c in found if salesforce_id_key(c.record_id) != own_id]
            if not others:
                continue
            chosen = min(
                others,
                key=lambda c: (
                    c.object_type != settings.prefer_duplicate_object,
                    *TIE_KEYS["most_recent_activity"](c),
                    c.record_id,
                ),
            )
            reason = (
                f"same {what} as {chosen.object_type} {chosen.record_id} ({chosen.name})"
                + (f"; {len(others)} found, preferring {settings.prefer_duplicate_object}s"
                   " then the most recent activity" if len(others) > 1 else "")
            )
            return _result(chosen, PERFECT_SCORE, method, reason)
        return None
