"""Change Data Capture and platform event payloads in Salesforce's published CometD JSON format."""

from __future__ import annotations

from typing import Any

LEAD_CHANNEL = "/data/LeadChangeEvent"
BOOKING_CHANNEL = "/event/Booking_Request__e"
SCHEMA = "IeRuaY6cbI_HsV8Rv1Mc5g"
USER_ORIGIN = "com/salesforce/api/soap/61.0;client=SfdcInternalAPI/"
BATON_ORIGIN = "com/salesforce/api/rest/61.0;client=baton"
COMMIT_MS = 1763629200000  # 2025-11-20T09:00:00Z
REP = "005000000000077AAA"


def lead_id(number: int) -> str:
    return f"00Q{number:012d}AAA"


def header(change_type: str, record_ids: list[str], tx: str, *, entity: str = "Lead", seq: int = 1,
           origin: str = USER_ORIGIN, commit_ms: int = COMMIT_MS, changed: list[str] | None = None) -> dict[str, Any]:
    return {
        "entityName": entity,
        "recordIds": record_ids,
        "changeType": change_type,
        "changeOrigin": origin,
        "transactionKey": tx,
        "sequenceNumber": seq,
        "commitTimestamp": commit_ms,
        "commitNumber": 10816880300863,
        "commitUser": REP,
        "nulledFields": [],
        "diffFields": [],
        "changedFields": changed or [],
    }


def lead_created(record_ids: list[str], tx: str = "0002343d-9d90-e395-ed20-cf416ba652ad", *,
                 origin: str = USER_ORIGIN, commit_ms: int = COMMIT_MS) -> dict[str, Any]:
    """A LeadChangeEvent CREATE payload: compound Name and Address nested, every field present."""
    return {
        "ChangeEventHeader": header("CREATE", record_ids, tx, origin=origin, commit_ms=commit_ms),
        "Name": {"Salutation": "Ms.", "FirstName": "Ada", "LastName": "Lovelace"},
        "Company": "Analytical Engines Ltd",
        "Address": {"Street": "12 St James's Square", "City": "London", "State": None, "PostalCode": "SW1Y 4JH",
                    "Country": "United Kingdom", "StateCode": None, "CountryCode": "GB", "Latitude": None,
                    "Longitude": None, "GeocodeAccuracy": None},
        "Email": "ada@analytical.example",
        "Phone": None,
        "LeadSource": "Web",
        "Status": "Open - Not Contacted",
        "OwnerId": "00G000000000001AAA",
        "CreatedDate": "2025-11-20T09:00:00.000Z",
        "CreatedById": REP,
        "LastModifiedDate": "2025-11-20T09:00:00.000Z",
        "LastModifiedById": REP,
    }


def lead_updated(record_id: str, tx: str = "0005e192-9e62-2554-3880-3c3718bd6308", *,
                 origin: str = USER_ORIGIN) -> dict[str, Any]:
    """A LeadChangeEvent UPDATE payload (CometD carries the changed fields only)."""
    return {
        "LastModifiedDate": "2025-11-20T10:15:42.000Z",
        "Address": {"City": "Cambridge"},
        "OwnerId": "00G000000000002AAA",
        "ChangeEventHeader": header("UPDATE", [record_id], tx, origin=origin, commit_ms=COMMIT_MS + 4_542_000,
                                    changed=["LastModifiedDate", "Address.City", "OwnerId"]),
    }


def gap_event(change_type: str, record_ids: list[str], tx: str = "0003d8c5-77a2-4be9-a1f0-1f4d02b7e5c1",
              entity: str = "Lead") -> dict[str, Any]:
    """A gap (or, with GAP_OVERFLOW and no ids, overflow) event: header only, changeOrigin empty."""
    return {"ChangeEventHeader": header(change_type, record_ids, tx, entity=entity, origin="")}


def booking_request(object_type: str, record_id: str, **extra: Any) -> dict[str, Any]:
    """A Booking_Request__e platform event payload naming a record."""
    return {"CreatedDate": "2025-11-20T09:30:00.000Z", "CreatedById": REP, "Object__c": object_type,
            "Record_Id__c": record_id, **extra}


def message(channel: str, payload: dict[str, Any], replay_id: int, **event: Any) -> dict[str, Any]:
    """A whole Bayeux event message, as a CometD client receives it."""
    return {"channel": channel, "data": {"schema": SCHEMA, "payload": payload, "event": {**event, "replayId": replay_id}}}


def rest_lead(number: int, modstamp: str = "2025-11-20T09:00:00.000+0000", **fields: Any) -> dict[str, Any]:
    """A Lead as the REST API returns it from a query (flat fields, REST date-time format)."""
    return {"Id": lead_id(number), "FirstName": "Grace", "LastName": f"Hopper {number}", "Company": f"Company {number}",
            "Country": "United States", "Email": f"grace{number}@navy.example", "OwnerId": "00G000000000001AAA",
            "CreatedDate": "2025-11-19T08:00:00.000+0000", "LastModifiedDate": modstamp,
            "LastModifiedById": REP, "SystemModstamp": modstamp, **fields}
