"""deploy/salesforce, the Salesforce DX project an admin deploys, is in Salesforce's format and holds what Baton
relies on: the Salesforce CLI (``sf project convert source``) converts it into a metadata package, and the
converted files have every field the default write-back mapping writes, on each routed object, with a type the
mapping accepts, the Event fields booking upserts on and reads, the Booking_Request__e platform event with the
fields the listener reads, the permission set, the Canvas connected app (no secret in it) and the booking buttons.

Conversion proves the format, not that the project deploys to an org (no org here). The CLI is the one pinned in
deploy/salesforce/tooling (``.ci/run`` installs it into build/sf-cli); under CI=true a missing CLI fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

from adapters.salesforce.booking_requests import SIMPLE_FIELDS
from baton.settings import Settings
from kernel.ports.describes import FieldDescribe, ObjectDescribe
from routing.writeback import (
    DEFAULT,
    DEFAULT_FIELD_TYPES,
    DEFAULT_FIELDS,
    ObjectWriteback,
    mapping_problems,
    shape_problems,
)

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "deploy" / "salesforce"
INSTALLED_SF = ROOT / "build" / "sf-cli" / "node_modules" / ".bin" / "sf"
ROUTED_OBJECTS = ("Lead", "Contact", "Account", "Opportunity", "Case")
BOOKING_OBJECTS = ("Lead", "Contact", "Opportunity")  # the ones with a Book a meeting button
NS = {"md": "http://soap.sforce.com/2006/04/metadata"}
# Metadata API field type -> the describe type Salesforce reports for it
DESCRIBE_TYPES = {"Text": "string", "LongTextArea": "textarea", "Lookup": "reference", "DateTime": "datetime",
                  "Checkbox": "boolean"}
EVENT_FIELD_TYPES = {"Start__c": "DateTime", "Meet_Now__c": "Checkbox", "Invitees__c": "LongTextArea",
                     "Co_Hosts__c": "LongTextArea"}  # every other event field is Text
SETTINGS = Settings.model_fields
EVENT_BOOKING_FIELDS = {  # the Event fields booking uses, by their settings' defaults
    f"Activity.{SETTINGS['salesforce_event_external_id_field'].default}": "Text",
    f"Activity.{SETTINGS['salesforce_no_show_field'].default}": "Checkbox"}
QUIET_CLI = {"SF_DISABLE_TELEMETRY": "true", "SFDX_DISABLE_TELEMETRY": "true", "SF_AUTOUPDATE_DISABLE": "true",
             "SFDX_AUTOUPDATE_DISABLE": "true", "SF_SKIP_NEW_VERSION_CHECK": "true"}


@dataclass(frozen=True)
class Converted:
    app: Path
    layout: Path


def sf_cli() -> str:
    if INSTALLED_SF.exists():
        return str(INSTALLED_SF)
    found = shutil.which("sf")
    if found:
        return found
    message = (f"the Salesforce CLI is missing: neither {INSTALLED_SF.relative_to(ROOT)} nor `sf` on PATH "
               "(install it: cp deploy/salesforce/tooling/package*.json build/sf-cli/ && "
               "cd build/sf-cli && npm ci --no-audit --no-fund --ignore-scripts)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def project_files() -> dict[str, float]:
    return {str(path.relative_to(PROJECT)): path.stat().st_mtime for path in PROJECT.rglob("*")}


def convert(sf: str, root_dir: str, output: Path, home: Path) -> None:
    env = {**os.environ, **QUIET_CLI, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache"), "XDG_DATA_HOME": str(home / ".local" / "share")}
    result = subprocess.run([sf, "project", "convert", "source", "--root-dir", root_dir, "--output-dir",
                             str(output), "--json"], cwd=PROJECT, env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, f"sf project convert source --root-dir {root_dir} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Converted:
    sf = sf_cli()
    tmp = tmp_path_factory.mktemp("sfdx")
    before = project_files()
    convert(sf, "force-app", tmp / "app", tmp / "home")
    convert(sf, "optional/lead-layout", tmp / "layout", tmp / "home")
    assert project_files() == before, "converting wrote into deploy/salesforce"
    return Converted(tmp / "app", tmp / "layout")


def parse(path: Path) -> ET.Element:
    assert path.exists(), f"the conversion has no {path.name}"
    return ET.parse(path).getroot()


def text(element: ET.Element, name: str) -> str:
    return element.findtext(f"md:{name}", default="", namespaces=NS)


def texts(element: ET.Element, name: str) -> list[str]:
    return [child.text or "" for child in element.findall(f"md:{name}", NS)]


def package_members(package_xml: Path) -> dict[str, set[str]]:
    members: dict[str, set[str]] = {}
    for types in parse(package_xml).findall("md:types", NS):
        members.setdefault(text(types, "name"), set()).update(texts(types, "members"))
    return members


def object_fields(converted: Converted, object_type: str) -> dict[str, ET.Element]:
    root = parse(converted.app / "objects" / f"{object_type}.object")
    return {text(field, "fullName"): field for field in root.findall("md:fields", NS)}


def describe_of(object_type: str, fields: dict[str, ET.Element]) -> ObjectDescribe:
    """The describe Salesforce would give for the converted fields (custom fields are updateable)."""
    return ObjectDescribe(object_type, {
        name: FieldDescribe(name=name, type=DESCRIBE_TYPES.get(text(field, "type"), text(field, "type")),
                            updateable=True, length=int(text(field, "length") or 0),
                            reference_to=tuple(texts(field, "referenceTo")))
        for name, field in fields.items()}, datetime.now(UTC))


def test_the_package_lists_every_component(converted: Converted) -> None:
    members = package_members(converted.app / "package.xml")
    routing_fields = {f"{object_type}.{name}" for object_type in ROUTED_OBJECTS for name in DEFAULT_FIELDS.values()}
    assert routing_fields <= members["CustomField"], sorted(routing_fields - members["CustomField"])
    assert set(EVENT_BOOKING_FIELDS) <= members["CustomField"]
    assert "Booking_Request__e" in members["CustomObject"]
    assert members["PermissionSet"] == {"Baton_Routing"}
    assert members["ConnectedApp"] == {"Baton_Handoff"}
    assert members["WebLink"] == {f"{object_type}.Baton_Book_Meeting" for object_type in BOOKING_OBJECTS}
    assert members["ApexPage"] == {f"Baton_Handoff_{object_type}" for object_type in BOOKING_OBJECTS}
    assert package_members(converted.layout / "package.xml") == {"Layout": {"Lead-Lead Layout"}}


@pytest.mark.parametrize("object_type", ROUTED_OBJECTS)
def test_every_default_writeback_field_exists_with_its_type(converted: Converted, object_type: str) -> None:
    fields = object_fields(converted, object_type)
    for name, describe_type in DEFAULT_FIELD_TYPES.items():
        assert name in fields, f"{object_type} has no {name}"
        field = fields[name]
        assert DESCRIBE_TYPES.get(text(field, "type")) == describe_type, \
            f"{object_type}.{name} is a {text(field, 'type')} field; the default mapping expects {describe_type}"
        assert text(field, "required") != "true", f"{object_type}.{name} is required (no field permission possible)"
        if describe_type == "string":
            assert text(field, "length") == "255", f"{object_type}.{name}: Text(255)"
        if describe_type == "reference":
            assert texts(field, "referenceTo") == ["Account"], f"{object_type}.{name} must look up Account"
            assert text(field, "deleteConstraint") == "SetNull"
        if describe_type == "boolean":
            assert text(field, "defaultValue") == "false"
    # what `baton check` reports against the org's describes: nothing for `writeback: {Object: default}`
    assert mapping_problems({object_type: DEFAULT}, {object_type: describe_of(object_type, fields)}) == []


def test_the_account_lookups_have_distinct_relationship_names(converted: Converted) -> None:
    names = [text(object_fields(converted, object_type)[DEFAULT_FIELDS["matched_account"]], "relationshipName")
             for object_type in ROUTED_OBJECTS]
    assert all(names) and len(set(names)) == len(names), names


def test_the_booking_platform_event_has_the_fields_the_listener_reads(converted: Converted) -> None:
    root = parse(converted.app / "objects" / "Booking_Request__e.object")
    assert text(root, "publishBehavior") == "PublishAfterCommit"
    assert text(root, "eventType") == "HighVolume"
    fields = {text(field, "fullName"): text(field, "type") for field in root.findall("md:fields", NS)}
    read = set(SIMPLE_FIELDS) | {"Invitees__c", "Co_Hosts__c", "Host_Kind__c", "Host_User_Id__c", "Host_Team__c"}
    assert set(fields) == read
    for name, kind in fields.items():
        assert kind == EVENT_FIELD_TYPES.get(name, "Text"), f"Booking_Request__e.{name} is {kind}"


def test_events_have_the_booking_external_id_and_no_show_fields(converted: Converted) -> None:
    fields = object_fields(converted, "Activity")
    for qualified, kind in EVENT_BOOKING_FIELDS.items():
        field = fields[qualified.split(".")[1]]
        assert text(field, "type") == kind, f"{qualified} is a {text(field, 'type')} field"
    external_id = fields[next(iter(EVENT_BOOKING_FIELDS)).split(".")[1]]
    assert (text(external_id, "externalId"), text(external_id, "unique")) == ("true", "true")


def test_the_permission_set_grants_the_fields_the_event_and_the_pages(converted: Converted) -> None:
    root = parse(converted.app / "permissionsets" / "Baton_Routing.permissionset")
    granted = {text(grant, "field"): (text(grant, "readable"), text(grant, "editable"))
               for grant in root.findall("md:fieldPermissions", NS)}
    expected = {f"{object_type}.{name}" for object_type in ROUTED_OBJECTS for name in DEFAULT_FIELDS.values()}
    assert set(granted) == expected | set(EVENT_BOOKING_FIELDS)
    assert set(granted.values()) == {("true", "true")}
    objects = {text(grant, "object"): grant for grant in root.findall("md:objectPermissions", NS)}
    assert text(objects["Booking_Request__e"], "allowCreate") == "true"
    pages = {text(grant, "apexPage") for grant in root.findall("md:pageAccesses", NS)
             if text(grant, "enabled") == "true"}
    assert pages == {f"Baton_Handoff_{object_type}" for object_type in BOOKING_OBJECTS}


def test_the_connected_app_is_a_signed_request_canvas_app_without_secrets(converted: Converted) -> None:
    path = converted.app / "connectedApps" / "Baton_Handoff.connectedApp"
    root = parse(path)
    canvas = root.find("md:canvasConfig", NS)
    assert canvas is not None
    assert text(canvas, "accessMethod") == "Post"  # Signed Request (POST)
    assert text(canvas, "canvasUrl").endswith("/handoff/canvas")
    assert {"PageLayout", "Visualforce"} <= set(texts(canvas, "locations"))
    oauth = root.find("md:oauthConfig", NS)
    assert oauth is not None and text(oauth, "isAdminApproved") == "true"
    source = path.read_text()
    assert "consumerSecret" not in source and "consumerKey" not in source, "Salesforce generates these"
    assert texts(root, "permissionSetName") == ["Baton_Routing"]


@pytest.mark.parametrize("object_type", BOOKING_OBJECTS)
def test_the_booking_button_opens_the_handoff_page_of_its_object(converted: Converted, object_type: str) -> None:
    links = {text(link, "fullName"): link
             for link in parse(converted.app / "objects" / f"{object_type}.object").findall("md:webLinks", NS)}
    link = links["Baton_Book_Meeting"]
    assert (text(link, "displayType"), text(link, "linkType")) == ("button", "page")
    page = converted.app / "pages" / f"{text(link, 'page')}.page"
    markup = page.read_text()
    assert f'standardController="{object_type}"' in markup
    assert 'developerName="Baton_Handoff"' in markup


def test_the_optional_lead_layout_shows_the_button_the_canvas_and_the_fields(converted: Converted) -> None:
    root = parse(converted.layout / "layouts" / "Lead-Lead Layout.layout")
    assert texts(root, "customButtons") == ["Baton_Book_Meeting"]
    items = root.findall(".//md:layoutItems", NS)
    assert "Baton_Handoff" in {text(item, "canvas") for item in items}
    assert set(DEFAULT_FIELDS.values()) <= {text(item, "field") for item in items}


def test_the_guides_writeback_config_turns_on_the_default_fields_of_every_routed_object() -> None:
    blocks = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", (PROJECT / "README.md").read_text(),
                                                            re.DOTALL)]
    writeback = TypeAdapter(dict[str, ObjectWriteback]).validate_python(
        next(block["writeback"] for block in blocks if "writeback" in block))
    assert writeback == dict.fromkeys(ROUTED_OBJECTS, DEFAULT)
    assert shape_problems(writeback) == []
