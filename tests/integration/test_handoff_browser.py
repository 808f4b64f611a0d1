"""The handoff page in a real browser (Debian's chromium driven by playwright) against Baton served by uvicorn,
with the store on PostgreSQL, the booking chain on the in-process broker, the real Google client against the
fake Calendar server and simple-salesforce against the fake Salesforce org.

Screenshots of the main states go to ``artifacts/screenshots/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.store import make_engine
from baton import runtime
from baton.chains import BOOKING_STEPS
from baton.configs import apply_config
from entrypoints.demo.handoff import SECOND_SCHEDULER, Fakes, fake_services, handoff_config, serving
from entrypoints.http.app import create_app
from tests.support.booking import install_booking_ports
from tests.support.handoff import NOW, link_url, page_settings, signed
from tests.support.pipeline import running_pipeline
from tests.support.services import REPO_ROOT

playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("BATON_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    playwright_sync.expect.set_options(timeout=TIMEOUT_MS)  # a loaded CI machine is slow, never wrong
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-background-networking"])
        yield browser
        browser.close()


@dataclass
class Site:
    app: runtime.Runtime
    base_url: str
    fakes: Fakes

    def link(self, scheduler_id: str, name: str) -> str:
        return link_url(self.app, self.base_url, scheduler_id, name)


@pytest.fixture
def site(stub_runtime: runtime.Runtime, postgres_url: str, pg_schema: str, tmp_path: Path) -> Iterator[Site]:
    engine = make_engine(postgres_url, pg_schema)
    with running_pipeline(stub_runtime, engine, pg_schema) as pipeline, \
            fake_services(tmp_path, NOW.date()) as fakes:
        install_booking_ports(pipeline.app, pipeline.store, fakes.calendar, fakes.events, mode="manual", **page_settings())
        apply_config(pipeline.store.administration, handoff_config(), NOW)
        with serving(create_app(stub_runtime, salesforce_login=lambda: fakes.salesforce)) as base_url:
            yield Site(stub_runtime, base_url, fakes)
        for stage in BOOKING_STEPS:
            pipeline.broker.join(pipeline.broker.get_actor(stage.name).queue_name, timeout=30_000, fail_fast=False)


def open_page(browser: object, url: str) -> object:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    return page


def shot(page: object, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def pick_host(page: object, name: str) -> None:
    """Choose a host in the panel and wait for the week to be redrawn for them."""
    radio = page.get_by_label(name, exact=False).first  # type: ignore[attr-defined]
    radio.check()
    value = radio.get_attribute("value")
    page.locator(f"#availability .week[data-host='{value}']").wait_for()  # type: ignore[attr-defined]


def slot_starts(page: object) -> list[str]:
    return page.locator("#availability button.slot").evaluate_all(  # type: ignore[attr-defined]
        "buttons => buttons.map(b => b.dataset.start)")


def test_a_rep_books_a_pool_host_for_a_lead_and_a_second_scheduler_no_longer_sees_that_slot(
    browser: object, site: Site,
) -> None:
    page = open_page(browser, site.link("005000000000201AAA", "Sam Scheduler"))
    expect = playwright_sync.expect
    expect(page.locator("h1")).to_contain_text("Pat Prospect")
    expect(page.get_by_test_id("company")).to_have_text("Prospect Ltd")
    expect(page.get_by_test_id("owner")).to_have_text("Ana Alvarez")
    expect(page.locator(".record")).to_contain_text("Web")  # a configured page field (LeadSource)
    expect(page.get_by_label("Booking type")).to_have_value("Intro")
    expect(page.get_by_label("Guest email")).to_have_value("pat@prospect.example.org")
    expect(page.locator(".day.greyed").first).to_contain_text("not a working day")
    shot(page, "01-opened")

    pick_host(page, "Ben Brooks")
    chosen = page.locator("#availability button.slot").first
    start = chosen.get_attribute("data-start")
    chosen.focus()
    page.keyboard.press("Enter")  # the slot buttons work from the keyboard
    expect(page.get_by_test_id("picked")).to_be_visible()
    expect(page.locator("#selection")).to_contain_text("Ben Brooks")
    expect(page.locator("#selection")).to_contain_text("America/New_York")

    invitee = page.get_by_label("Add an invitee", exact=False)
    invitee.fill("not-an-address")
    invitee.press("Enter")
    expect(page.locator("#invitee-list [role=alert]")).to_contain_text("not-an-address")
    invitee.fill("lee@prospect.example.org")
    invitee.press("Enter")
    expect(page.locator("#invitee-list .chip")).to_contain_text("lee@prospect.example.org")
    expect(invitee).to_have_value("")
    page.locator("#invitee-list [role=alert]").evaluate("node => node.remove()")
    shot(page, "02-slot-picked")

    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.locator("#result [data-status=confirmed]")).to_be_visible()
    expect(page.locator("#result")).to_contain_text("Ben Brooks hosts")
    shot(page, "03-confirmed")

    events = site.fakes.calendar_fake.live_events("ben@example.com")
    assert len(events) == 1
    attendees = {attendee["email"] for attendee in events[0]["attendees"]}
    assert {"pat@prospect.example.org", "lee@prospect.example.org"} <= attendees
    assert "not-an-address" not in attendees

    second = open_page(browser, site.link(SECOND_SCHEDULER, "Sasha Second"))
    pick_host(second, "Ben Brooks")
    offered = slot_starts(second)
    assert offered and start not in offered


def test_a_slot_lost_to_another_booking_shows_the_nearest_free_alternatives(browser: object, site: Site) -> None:
    expect = playwright_sync.expect
    first = open_page(browser, site.link("005000000000201AAA", "Sam Scheduler"))
    late = open_page(browser, site.link(SECOND_SCHEDULER, "Sasha Second"))
    for page in (first, late):
        pick_host(page, "Chen Cho")
    start = first.locator("#availability button.slot").first.get_attribute("data-start")
    late.locator(f"#availability button.slot[data-start='{start}']").click()  # seen before it was taken
    expect(late.get_by_test_id("picked")).to_be_visible()

    first.locator(f"#availability button.slot[data-start='{start}']").click()
    expect(first.get_by_test_id("picked")).to_be_visible()
    first.get_by_role("button", name="Book", exact=True).click()
    expect(first.locator("#result [data-status=confirmed]")).to_be_visible()

    late.get_by_role("button", name="Book", exact=True).click()
    expect(late.get_by_test_id("taken")).to_contain_text("just taken")
    alternatives = late.locator("#result button.slot").evaluate_all("buttons => buttons.map(b => b.dataset.start)")
    assert alternatives and start not in alternatives
    shot(late, "04-slot-taken-alternatives")

    late.locator("#result button.slot").first.click()
    late.locator(f"#selection input[name=start][value='{alternatives[0]}']").wait_for(state="attached")
    late.get_by_role("button", name="Book", exact=True).click()
    expect(late.locator("#result [data-status=confirmed]")).to_be_visible()
    assert len(site.fakes.calendar_fake.live_events("chen@example.com")) == 2


def test_meet_now_names_who_in_the_pool_is_free_for_the_whole_meeting_now(browser: object, site: Site) -> None:
    """At 08:00 UTC on Monday only Chen (Berlin, 09:00 there) is working and free until 09:00 UTC."""
    expect = playwright_sync.expect
    page = open_page(browser, site.link("005000000000201AAA", "Sam Scheduler"))
    page.get_by_role("button", name="Meet now").click()
    expect(page.locator("#meet-now-panel")).to_contain_text("Chen Cho")
    expect(page.locator("#meet-now-panel")).not_to_contain_text("Ben Brooks")
    shot(page, "05-meet-now")
    page.get_by_role("button", name="Book now with Chen Cho").click()
    expect(page.locator("#result [data-status=confirmed]")).to_be_visible()
    assert site.fakes.calendar_fake.live_events("chen@example.com")


def test_opened_from_canvas_the_page_works_from_its_header_token_without_cookies(browser: object, site: Site) -> None:
    """Salesforce's Canvas frame POSTs the signed request; every later call carries the page token header."""
    expect = playwright_sync.expect
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.set_content(f'<form method="post" action="{site.base_url}/handoff/canvas">'
                     f'<input type="hidden" name="signed_request" value="{signed()}"><button>Open</button></form>')
    page.get_by_role("button", name="Open").click()
    expect(page.locator("h1")).to_contain_text("Pat Prospect")
    expect(page.locator(".record")).to_contain_text("Sam Scheduler (Europe/London)")

    pick_host(page, "Ana Alvarez")
    assert slot_starts(page)
    assert context.cookies() == []
