"""Salesforce outbound messages as Salesforce sends them (SOAP notifications() envelopes, published format),
and the web edge's path token."""

from __future__ import annotations

ORG = "00D000000000062EAA"
SESSION = "00D000000000062!AQ0AQH0dMHZfz972Szmpkb58urFRkgeBGsxL_QJWwYMfAbUeeG7c1E6LYUfiDUkWe6H34r1AAwOR8B8fLEz6n04NPGRrq0FM"
XML = {"content-type": "text/xml; charset=utf-8"}
TOKEN = "s3cret-path-token"
URL = f"/salesforce/outbound/{TOKEN}"


def envelope(notifications: str, org: str = ORG) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId>{SESSION}</SessionId>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/61.0/00D000000000062</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/61.0/00D000000000062</PartnerUrl>
{notifications}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>""".encode()


def notification(number: int, modified_by: str = "005000000000077AAA", *, record: int | None = None,
                 owner: str = "00G000000000001AAA", modified: str = "2026-11-20T09:00:00.000Z",
                 stamp: str | None = None) -> str:
    """Notification ``number`` about lead ``record`` (default the same number); a record modified after its
    creation is an update."""
    record = number if record is None else record
    return f"""   <Notification>
    <Id>04l{number:012d}AAA</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>00Q{record:012d}AAA</sf:Id>
     <sf:Company>Company {record}</sf:Company>
     <sf:CreatedDate>2026-11-20T09:00:00.000Z</sf:CreatedDate>
     <sf:Email xsi:nil="true"/>
     <sf:LastModifiedById>{modified_by}</sf:LastModifiedById>
     <sf:LastModifiedDate>{modified}</sf:LastModifiedDate>
     <sf:OwnerId>{owner}</sf:OwnerId>
     <sf:SystemModstamp>{stamp or f"2026-11-20T09:00:{number % 60:02d}.000Z"}</sf:SystemModstamp>
    </sObject>
   </Notification>"""
