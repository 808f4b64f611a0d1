"""One request's view of the handoff page: its inputs (``Form``), what cannot be shown (``PageError``) and the
booking decisions for the chosen host (``Page``)."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs

from fastapi import Request

from baton.booking.directory import UnknownHost, host_info
from baton.booking.handoff.hosts import BadHostChoice, encode, parse_host
from baton.booking.handoff.week import first_week
from baton.booking.planning import BookingPlan, BookingProblems, plan_booking, plan_slots
from baton.booking.ports import BookingPorts
from baton.booking.records import booking_suggestion
from baton.runtime import Runtime
from entrypoints.http.page_tokens import PageClaims
from routing.booking.config import HostOption
from routing.booking.slots import Interval, Slot, zone


def fields_of(raw: bytes) -> dict[str, list[str]]:
    return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)


class Form:
    """The page's inputs, from the query string (GET) or the urlencoded body (POST)."""

    def __init__(self, values: Mapping[str, list[str]]):
        self.values = values

    def one(self, name: str, default: str = "") -> str:
        found = self.values.get(name) or [default]
        return found[-1].strip()

    def many(self, name: str) -> list[str]:
        return [value.strip() for value in self.values.get(name, []) if value.strip()]

    @classmethod
    async def of(cls, request: Request) -> "Form":
        if request.method == "GET":
            return cls({key: request.query_params.getlist(key) for key in request.query_params})
        return cls(fields_of(await request.body()))


class PageError(Exception):
    """What the scheduler asked cannot be shown or booked; ``problems`` name the fields."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))



def local(moment: datetime, time_zone: str) -> datetime:
    return moment.astimezone(zone(time_zone))


class Page:
    """One request's view of the page: the claims, the config and the plan for the chosen host."""

    def __init__(self, state: Runtime, claims: PageClaims, form: Form):
        self.state = state
        self.claims = claims
        self.form = form
        self.ports = BookingPorts.of(state.ports)
        self.now = self.ports.clock()
        self.bookings = self.ports.bookings
        self.version, self.config = self.ports.configs.current()
        try:
            self.settings = self.config.booking.for_object(claims.object_type)
        except KeyError:
            raise PageError([("object_type", f"{claims.object_type} has no booking settings")]) from None
        self.suggestion = booking_suggestion(self.config, self.ports.decisions, claims.object_type, claims.record_id,
                                             claims.record_fields, self.now)

    # choices ------------------------------------------------------------------------------------
    def host_value(self) -> str:
        return self.form.one("host") or encode(self.suggestion.host)

    def chosen_host(self) -> tuple[HostOption, str | None]:
        try:
            return parse_host(self.form.one("slot_host") or self.host_value())
        except BadHostChoice as exc:
            raise PageError([("host", str(exc))]) from None

    def meeting_type(self) -> str:
        return self.form.one("meeting_type") or self.suggestion.meeting_type

    def types(self) -> list[str]:
        if self.suggestion.meeting_type_locked:
            return [self.suggestion.meeting_type]
        return self.settings.allowed_types or [booking_type.name for booking_type in self.config.booking.types]

    def plan(self, option: HostOption | None = None) -> BookingPlan:
        host, _ = self.chosen_host() if option is None else (option, None)
        try:
            return plan_booking(self.version, self.config, self.ports.decisions, self.ports.reference_sync,
                                self.bookings,
                                object_type=self.claims.object_type, record_id=self.claims.record_id,
                                record_fields=self.claims.record_fields, host=host,
                                meeting_type=self.meeting_type(), co_hosts=self.form.many("co_hosts"), now=self.now)
        except BookingProblems as exc:
            raise PageError(exc.problems) from None

    def show_all(self) -> bool:
        return self.form.one("show_all") in ("1", "on", "true") or self.settings.show_all_availability

    def availability_option(self) -> tuple[HostOption, str | None]:
        """With "show all availability", a pool member's whole pool is asked (every host's times at once)."""
        try:
            option, member = parse_host(self.host_value())
        except BadHostChoice as exc:
            raise PageError([("host", str(exc))]) from None
        if self.show_all() and option.kind == "user":
            team = next((team.name for team in self.config.teams if team.member(option.user_id or "")
                         and team.name in [pool.team for pool in self.config.booking.pools]), None)
            if team is not None and not self.suggestion.host_locked:
                return HostOption(kind="pool", team=team), None
        if self.show_all() and member is not None:
            return option, None
        return option, member

    def week_slots(self, plan: BookingPlan, member: str | None, window: Interval) -> list[Slot]:
        slots = plan_slots(plan, window, self.now, self.ports.calendar, self.bookings)
        if member is None:
            return slots
        return [replace(slot, host_ids=(member,)) for slot in slots if member in slot.host_ids]

    def monday(self) -> date:
        current = first_week(self.now, self.claims.time_zone)
        try:
            asked = date.fromisoformat(self.form.one("week")) if self.form.one("week") else current
        except ValueError:
            raise PageError([("week", "is not a date")]) from None
        return max(asked - timedelta(days=asked.weekday()), current)

    def names(self, plan: BookingPlan) -> dict[str, str]:
        return {host_id: info.name for host_id, info in plan.directory.items()}

    def owner_name(self, user_id: str) -> str:
        if not user_id:
            return ""
        try:
            return host_info(self.config, self.ports.reference_sync, user_id).name
        except UnknownHost:
            return user_id

