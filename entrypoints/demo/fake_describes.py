"""The fake org's sObject describes (``GET /services/data/vXX.X/sobjects/{object}/describe``), in Salesforce's
JSON shape: per field ``name``, ``type``, ``updateable``, ``calculated``, ``length``, ``referenceTo``,
``picklistValues`` (``value``, ``active``) and ``restrictedPicklist``, and the object's ``name``.

Lead, Contact, Account, Opportunity and Case carry a few standard fields, every default write-back field
Baton's ``deploy/salesforce`` project creates (``routing.writeback.DEFAULT_FIELD_TYPES``), and for tests a
formula field (``Routing_Summary__c``: calculated, not updateable) and a restricted picklist (``Region__c``).
A test changes ``org.describes[object]`` to describe an org without some field.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from routing.writeback import DEFAULT_FIELD_TYPES

DESCRIBE_PATH = re.compile(r"^/services/data/v[0-9.]+/sobjects/(?P<object>[A-Za-z][A-Za-z0-9_]*)/describe/?$")
DESCRIBED_OBJECTS = ("Lead", "Contact", "Account", "Opportunity", "Case")
FORMULA_FIELD = "Routing_Summary__c"
PICKLIST_FIELD = "Region__c"
LENGTHS = {"string": 255, "textarea": 32768, "email": 80, "url": 255, "phone": 40, "picklist": 255,
           "multipicklist": 4099, "id": 18, "reference": 18}


def field(name: str, type_: str, *, updateable: bool = True, calculated: bool = False,
          reference_to: tuple[str, ...] = (), picklist: tuple[str, ...] = (), restricted: bool = False
          ) -> dict[str, Any]:
    """One entry of a describe's ``fields``, as Salesforce writes it."""
    return {"name": name, "type": type_, "updateable": updateable and not calculated, "calculated": calculated,
            "length": LENGTHS.get(type_, 0), "referenceTo": list(reference_to), "nillable": type_ != "id",
            "picklistValues": [{"value": value, "label": value, "active": True, "defaultValue": False}
                               for value in picklist],
            "restrictedPicklist": restricted}


def _common() -> list[dict[str, Any]]:
    return [
        field("Id", "id", updateable=False),
        field("OwnerId", "reference", reference_to=("Group", "User")),
        field("CreatedDate", "datetime", updateable=False),
        field("LastModifiedDate", "datetime", updateable=False),
        field("SystemModstamp", "datetime", updateable=False),
        field(FORMULA_FIELD, "string", calculated=True),
        field(PICKLIST_FIELD, "picklist", picklist=("EMEA", "AMER", "APAC"), restricted=True),
    ]


def _baton_fields() -> list[dict[str, Any]]:
    return [field(name, type_, reference_to=("Account",) if type_ == "reference" else ())
            for name, type_ in DEFAULT_FIELD_TYPES.items()]


OWN_FIELDS: dict[str, list[dict[str, Any]]] = {
    "Lead": [field("FirstName", "string"), field("LastName", "string"), field("Company", "string"),
             field("Email", "email"), field("Country", "string"), field("Address", "address", updateable=False),
             field("Status", "picklist", picklist=("Open - Not Contacted", "Working - Contacted", "Closed")),
             field("IsConverted", "boolean", updateable=False)],
    "Contact": [field("FirstName", "string"), field("LastName", "string"), field("Email", "email"),
                field("AccountId", "reference", reference_to=("Account",)),
                field("MailingAddress", "address", updateable=False)],
    "Account": [field("Name", "string"), field("Website", "url"), field("NumberOfEmployees", "int"),
                field("BillingCountry", "string"), field("BillingAddress", "address", updateable=False)],
    "Opportunity": [field("Name", "string"), field("AccountId", "reference", reference_to=("Account",)),
                    field("StageName", "picklist", picklist=("Prospecting", "Closed Won", "Closed Lost")),
                    field("Amount", "currency"), field("IsClosed", "boolean", updateable=False)],
    "Case": [field("Subject", "string"), field("AccountId", "reference", reference_to=("Account",)),
             field("Status", "picklist", picklist=("New", "Working", "Closed")),
             field("Priority", "picklist", picklist=("High", "Medium", "Low"))],
}


def standard_describes() -> dict[str, dict[str, Any]]:
    """A describe per object of ``DESCRIBED_OBJECTS`` (fresh copies: a test may change its own)."""
    return {name: {"name": name, "label": name, "queryable": True, "updateable": True,
                   "fields": copy.deepcopy([*_common(), *OWN_FIELDS[name], *_baton_fields()])}
            for name in DESCRIBED_OBJECTS}


def answer_describe(describes: dict[str, dict[str, Any]], path: str) -> tuple[int, Any] | None:
    """The answer to a describe request, None when ``path`` is not one (Salesforce's 404 for an unknown object)."""
    matched = DESCRIBE_PATH.match(path)
    if matched is None:
        return None
    found = describes.get(matched["object"])
    if found is None:
        return 404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
    return 200, found
