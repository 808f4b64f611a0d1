"""``select_owner``: which member of a team gets a record now, and why the others did not.

Order of business for one record:
1. sticky owner (the team's ``sticky`` rule and the caller's previous owner for the same key);
2. lookup owner or related owner when that is the method, with the rule's fallback;
3. the distribution method: walk the turn order lazily and stop at the first member who fits the
   record (skills, member filters), is available (toggle, out of office, holiday, shift, team
   hours) and is under every cap. Members walked past because they are away or capped lose that
   turn (and, with backfill on, earn a bounded catch-up credit); members who do not fit the record
   keep their place.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from routing import availability as avail
from routing.availability import Unavailable
from routing.methods import METHODS, Method, ordering
from routing.selection.caps import (
    CriteriaLimits,
    cap_reached,
    counted,
    criteria_matching,
    pruned,
    window_ends,
)
from routing.selection.explain import (
    TIME_BOUND_REASONS,
    Explanation,
    Selection,
    Skip,
    SkipReason,
)
from routing.selection.meetings import with_meetings
from routing.selection.order import TurnOrder, calibrated, period_order, turn_order, uses_weights
from routing.selection.period import (
    LEAD_THRESHOLD,
    LeadExcess,
    counts_in_period,
    entered_period,
    lead_bound,
    lead_excess,
    period_key,
)
from routing.selection.roster import Roster, normalised, roster_of
from routing.selection.state import DEFAULT_MEMBER_STATE, MemberState, TeamState
from routing.teams import DirectOwnerRule, StickyRule, Team, aware

HOLD = "hold"
TEAM_METHOD = "team_method"
STICKY = "sticky"
NOT_A_MEMBER = "not a member of the team"
MISSING_SKILL = SkipReason.MISSING_SKILL.value
MEMBER_FILTER = SkipReason.MEMBER_FILTER.value
INACTIVE = Unavailable.INACTIVE.value
CAP_REACHED = SkipReason.CAP_REACHED.value
TOGGLED = Unavailable.TOGGLED.value
REJECTED = "rejected this record"


@dataclass(frozen=True, slots=True)
class PreviousOwner:
    """Who last received a record with the same sticky key (account or email domain), and when."""

    owner_id: str
    assigned_at: datetime


class _Decision:
    """One record's selection: the inputs resolved once, the checks, and the state change."""

    def __init__(
        self,
        team: Team,
        state: TeamState,
        facts: Mapping[str, Any],
        now: datetime,
        unavailable: Collection[str],
        required_skills: Iterable[str] | None,
        meetings: Mapping[str, int] | None = None,
        rejected: Mapping[str, str] | None = None,
    ):
        self.team = team
        self.rejected: Mapping[str, str] = rejected or {}
        self.roster: Roster = roster_of(team)
        self.state = state
        self.now = aware(now)
        self.now_ts = now.timestamp()
        self.unavailable = unavailable
        skills = _skills_from(team, facts) if required_skills is None else required_skills
        self.required = frozenset(normalised(skill) for skill in skills)
        self.required_mask = self.roster.required_mask(self.required) if self.required else 0
        self.filters = self.roster.filter_checks(facts)
        self.criteria: list[CriteriaLimits] = criteria_matching(team.criteria_caps, facts)
        self.team_snapshot = self.roster.team_snapshot(self.now, self.now_ts)
        self.fair = team.fairness.active
        self.loads_records = self.fair and not team.fairness.meetings  # records move period counts and loads
        self.counted = self.loads_records
        if self.fair:
            key = period_key(team.fairness, team.timezone, self.now)
            self.state = entered_period(self.roster, state, key)
            if self.loads_records:
                self.counted = counts_in_period(team.fairness, team.timezone, key, facts)
            elif meetings is not None:
                self.state = with_meetings(self.roster, self.state, meetings)

    # -- checks -------------------------------------------------------------------------------

    def misfit(self, index: int) -> Skip | None:
        """Why the record does not suit this member (skills, member filters), or None."""
        mask = self.required_mask
        if mask and (mask & self.roster.skill_masks[index]) != mask:
            return (index, MISSING_SKILL, None)
        for check in self.filters:
            if check.values[index] not in check.accepted:
                return (index, MEMBER_FILTER, check)
        return None

    def blocked(self, index: int, *, availability: bool = True, caps: bool = True) -> Skip | None:
        """Why this member cannot take a record now (toggle, availability, caps), or None."""
        roster = self.roster
        member_id = roster.ids[index]
        if member_id in self.rejected:
            return (index, REJECTED, self.rejected[member_id])
        if not roster.members[index].active:
            return (index, INACTIVE, INACTIVE)
        if member_id in self.unavailable:
            return (index, TOGGLED, TOGGLED)
        snapshot = roster.snapshot(index, self.now, self.now_ts)
        if availability:
            if self.team_snapshot.reason is not None:
                team_block = self.team_snapshot
                return (index, team_block.reason, team_block.detail)
            if snapshot.reason is not None:
                return (index, snapshot.reason, snapshot.detail)
        if caps and (roster.limits[index] or self.criteria):
            counts = self.state.members.get(member_id, DEFAULT_MEMBER_STATE).counts
            hit = cap_reached(counts, snapshot.keys, roster.limits[index], self.criteria)
            if hit is not None:
                return (index, CAP_REACHED, hit)
        return None

    def why_not(self, index: int) -> Skip | None:
        return self.misfit(index) or self.blocked(index)

    # -- state changes -------------------------------------------------------------------------

    def _received(self, index: int, current: MemberState, **changes: Any) -> MemberState:
        snapshot = self.roster.snapshot(index, self.now, self.now_ts)
        counts = current.counts
        if self.roster.limits[index] or self.criteria or counts:
            counts = counted(counts, snapshot.keys, self.roster.limits[index], self.criteria)
        if self.loads_records:
            changes.setdefault("period_load", current.period_load + self.roster.fair_strides[index])
            if self.counted:  # a record created in an earlier period still moves the load on, uncounted
                changes["period_count"] = current.period_count + 1
        return current.model_copy(
            update={
                "assigned_total": current.assigned_total + 1,
                "open_records": current.open_records + 1,
                "counts": counts,
                **changes,
            }
        )

    def commit_turn(
        self,
        owner: int,
        passed_over: list[Skip],
        *,
        backfilled: bool,
        weighted: bool,
        calibrate: bool = False,
    ) -> TeamState:
        """The owner takes this turn; members passed over while away or capped lose theirs.
        Weighted methods also advance stride passes (strides are 0 otherwise). A backfilled
        owner takes an extra turn: it spends a credit and keeps its place in the rotation.
        Calibrating, members passed over are credited up to the owner's load before this pick, plus
        the turn they lose (counting meetings, a record adds to no load: up to the owner's load)."""
        roster, state = self.roster, self.state
        level = state.member(roster.ids[owner]).period_load if calibrate else None
        turn = state.turn
        owner_id = roster.ids[owner]
        owner_state = state.member(owner_id)
        virtual_time = state.virtual_time
        strides = roster.strides if weighted else [0] * len(roster.ids)
        if weighted:
            virtual_time = max(virtual_time, owner_state.virtual_pass)
        backfill = self.team.backfill
        changes: dict[str, MemberState] = {}
        for index, code, _ in passed_over:
            member_id = roster.ids[index]
            current = state.member(member_id)
            missed = current.missed_turns
            if backfill.enabled and code in backfill.credit_reasons:
                missed = min(missed + 1, backfill.max_catch_up_turns)
            update: dict[str, Any] = {
                "last_turn": turn,
                "virtual_pass": _advanced(current.virtual_pass, virtual_time, strides[index]),
                "missed_turns": missed,
            }
            if level is not None and current.period_load <= level:
                # credited their share up to the owner's load, plus this turn (they lose it, as in round
                # robin): they wait behind the owner instead of being walked past at every record
                update["period_load"] = level + (roster.fair_strides[index] if self.loads_records else 0)
            changes[member_id] = current.model_copy(update=update)
        if backfilled:
            owner_update = {"missed_turns": owner_state.missed_turns - 1}
        else:
            owner_update = {
                "last_turn": turn,
                "virtual_pass": _advanced(owner_state.virtual_pass, virtual_time, strides[owner]),
            }
        changes[owner_id] = self._received(owner, owner_state, **owner_update)
        if level is not None:
            level = max(level, state.level)
        return state.changed(changes, turn=turn + 1, virtual_time=virtual_time, level=level)

    def commit_direct(self, owner: int, *, count_as_turn: bool) -> TeamState:
        if count_as_turn:
            weighted = uses_weights(self.team, self.team.method)
            return self.commit_turn(owner, [], backfilled=False, weighted=weighted)
        owner_id = self.roster.ids[owner]
        return self.state.changed({owner_id: self._received(owner, self.state.member(owner_id))})

    # -- outcomes ------------------------------------------------------------------------------

    def selection(
        self,
        method: str,
        owner: int | None,
        reasons: list[str],
        explanation: Explanation | None = None,
    ) -> Selection:
        owner_id = self.roster.ids[owner] if owner is not None else None
        return Selection(self.team.name, method, owner_id, reasons, explanation)

    def explanation(
        self,
        walked: list[Skip],
        *,
        order: TurnOrder | None = None,
        owner: int | None = None,
        held: bool = False,
        excluded: Iterable[tuple[int, str]] = (),
    ) -> Explanation:
        static = [(index, code, code) for index, code in excluded]
        skipped = static + walked

        def not_next() -> Iterator[int]:
            seen = {skip[0] for skip in walked}
            seen.add(owner)
            return (key[-1] for key in order.keys if key[-1] not in seen)

        with_order = order is not None and owner is not None
        return Explanation(
            self.roster,
            skipped,
            not_next=not_next if with_order else None,
            not_next_count=len(order.keys) - len(walked) - 1 if with_order else 0,
            required_skills=self.required,
            next_available=(lambda: self.next_available_at(walked)) if held else None,
        )

    def next_available_at(self, skipped: list[Skip]) -> datetime | None:
        """The earliest instant one of the held-up members may be free again (a re-check time)."""
        best: datetime | None = None
        for index, code, detail in skipped:
            if code not in TIME_BOUND_REASONS:
                continue
            member = self.roster.members[index]
            moment = avail.next_available_at(member, self.now, team=self.team)
            if moment is not None and code == SkipReason.CAP_REACHED:
                zone = self.roster.zones[index]
                local_day = self.now.astimezone(zone).date()
                moment = max(moment, window_ends(zone, local_day)[detail.window])
            if moment is not None and (best is None or moment < best):
                best = moment
        return best.astimezone(UTC) if best is not None else None


def _standing(decision: _Decision, owner: int) -> str:
    """The owner's period count and credit before this record, for the decision's reasons."""
    current = decision.state.member(decision.roster.ids[owner])
    stride = decision.roster.fair_strides[owner]
    credit = current.period_load / stride - current.period_count if stride else 0.0
    return (
        f"least loaded for their weight this period ({current.period_count} {decision.team.fairness.counts}"
        f" + {credit:.4g} credited)"
    )


def _advanced(virtual_pass: int, virtual_time: int, stride: int) -> int:
    """Stride scheduling: a turn moves a member one stride past the later of its pass and now."""
    return max(virtual_pass, virtual_time) + stride if stride else virtual_pass


def _skills_from(team: Team, facts: Mapping[str, Any]) -> list[str]:
    skills: list[str] = []
    for key in team.skills_from:
        value = facts.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, str):
            skills.append(value)
        else:
            skills.extend(str(item) for item in value)
    return skills


class _LeadFloor:
    """The period load of the least-loaded member who may take the record now (the lead threshold's
    floor), looked for only as far as needed: the period order is least loaded first, so the first
    member in it who may take the record is the floor, and a member at ``load`` can only be too far
    ahead of a floor below ``lead_bound``; keys from there on need no check."""

    def __init__(self, decision: _Decision, threshold: int, counted: str = "records"):
        self.decision = decision
        self.threshold = threshold
        self.counted = counted
        self.floor: int | None = None

    def excess(self, load: int, stride: int) -> LeadExcess | None:
        """How far a member at ``load`` is ahead of the floor, when more than the threshold allows."""
        bound = lead_bound(load, stride, self.threshold)
        if bound is None:
            return None
        floor = self.floor if self.floor is not None else self._find_below(bound)
        return lead_excess(load, floor, stride, self.threshold, self.counted) if floor is not None else None

    def _find_below(self, bound: int) -> int | None:
        decision = self.decision
        required, masks, why_not = decision.required_mask, decision.roster.skill_masks, decision.why_not
        snapshots, now_ts = decision.roster.snapshots, decision.now_ts
        for key in period_order(decision.roster, decision.state).keys:
            if key[0] >= bound:
                return None
            index = key[-1]
            if required and (required & masks[index]) != required:
                continue
            away = snapshots[index]  # the common case first: away now by a snapshot still current
            if away is not None and away.reason is not None and away.start <= now_ts < away.end:
                continue
            if why_not(index) is None:
                self.floor = key[0]
                return self.floor
        return None


def _walk(
    decision: _Decision, order: TurnOrder, lead: _LeadFloor | None = None
) -> tuple[int, list[Skip], list[Skip]]:
    """Position of the first member in turn order who may take the record (-1: nobody), the
    members walked past, and which of those lose their turn. Hot path: checks are inlined.
    ``lead`` (the lead threshold's floor) skips members too far ahead; they keep their place."""
    roster = decision.roster
    ids, masks, limits = roster.ids, roster.skill_masks, roster.limits
    snapshot, snapshots = roster.snapshot, roster.snapshots
    members_state = decision.state.members
    required = decision.required_mask
    filters = decision.filters
    criteria = decision.criteria
    unavailable = decision.unavailable
    rejected = decision.rejected
    now, now_ts = decision.now, decision.now_ts
    walked: list[Skip] = []
    loses_turn: list[Skip] = []
    for position, key in enumerate(order.keys):
        index = key[-1]
        if required and (required & masks[index]) != required:
            walked.append((index, MISSING_SKILL, None))
            continue
        if filters:
            misfit = decision.misfit(index)
            if misfit is not None:
                walked.append(misfit)
                continue
        member_id = ids[index]
        if rejected and member_id in rejected:  # keeps their turn: the record is not theirs to take
            walked.append((index, REJECTED, rejected[member_id]))
            continue
        if member_id in unavailable:
            skip: Skip = (index, TOGGLED, TOGGLED)
            walked.append(skip)
            loses_turn.append(skip)
            continue
        member_snapshot = snapshots[index]
        if member_snapshot is None or not member_snapshot.start <= now_ts < member_snapshot.end:
            member_snapshot = snapshot(index, now, now_ts)
        if member_snapshot.reason is not None:
            skip = (index, member_snapshot.reason, member_snapshot.detail)
            walked.append(skip)
            loses_turn.append(skip)
            continue
        if limits[index] or criteria:
            counts = members_state.get(member_id, DEFAULT_MEMBER_STATE).counts
            hit = cap_reached(counts, member_snapshot.keys, limits[index], criteria)
            if hit is not None:
                skip = (index, CAP_REACHED, hit)
                walked.append(skip)
                loses_turn.append(skip)
                continue
        if lead is not None:
            load = members_state.get(member_id, DEFAULT_MEMBER_STATE).period_load
            excess = lead.excess(load, roster.fair_strides[index])
            if excess is not None:
                walked.append((index, LEAD_THRESHOLD, excess))
                continue
        return position, walked, loses_turn
    return -1, walked, loses_turn


def _backfill_owner(decision: _Decision, order: TurnOrder, position: int) -> int | None:
    """A member owed catch-up turns, after the member next in turn in the same group (tier)
    and free now, or None."""
    if not decision.team.backfill.enabled or not order.backlog:
        return None
    chosen_key = order.keys[position]
    group = order.group_of(chosen_key)
    state = decision.state
    owed = sorted(
        order.key_of(index, state.member(decision.roster.ids[index])) for index in order.backlog
    )
    for key in owed:
        if key <= chosen_key or order.group_of(key) != group:
            continue
        if decision.why_not(key[-1]) is None:
            return key[-1]
    return None


def _distribute(
    decision: _Decision, method: Method, notes: list[str]
) -> tuple[Selection, TeamState]:
    roster, team = decision.roster, decision.team
    order = turn_order(roster, method, decision.state)
    weighted = uses_weights(team, method)
    excluded = roster.excluded(weighted=weighted)
    if decision.team_snapshot.reason is not None:
        closed = decision.team_snapshot
        walked = [(key[-1], closed.reason, closed.detail) for key in order.keys]
        reasons = [*notes, f"held: {closed.detail}"]
        explanation = decision.explanation(walked, held=True, excluded=excluded)
        return decision.selection(method.value, None, reasons, explanation), decision.state
    calibrate = calibrated(team, method)
    threshold = team.fairness.lead_threshold
    lead = _LeadFloor(decision, threshold, team.fairness.counts) if threshold is not None and not calibrate else None
    position, walked, loses_turn = _walk(decision, order, lead)
    if position < 0:
        explanation = decision.explanation(walked, held=True, excluded=excluded)
        counts: dict[str, int] = {}
        for _, code, _ in walked:
            counts[code] = counts.get(code, 0) + 1
        listed = ", ".join(f"{count} {code}" for code, count in counts.items()) or "no candidates"
        reasons = [*notes, f"held: no eligible member ({listed})"]
        return decision.selection(method.value, None, reasons, explanation), decision.state
    owner = order.keys[position][-1]
    backfill_owner = _backfill_owner(decision, order, position)
    backfilled = backfill_owner is not None
    if backfill_owner is not None:
        owner = backfill_owner
    if not ordering(team, method).turn_based:
        loses_turn = []  # load balancing: fewest open records decide, no turns to lose
    new_state = decision.commit_turn(
        owner, loses_turn, backfilled=backfilled, weighted=weighted, calibrate=calibrate
    )
    reason = f"{method.value}: next in turn (turn {decision.state.turn})"
    if team.fairness.meetings and ordering(team, method).balanced_by_period:
        hosted = decision.state.member(roster.ids[owner]).period_count
        reason = f"{method.value}: fewest meetings for their weight this period ({hosted} hosted)"
    if calibrate:
        reason = f"{method.value}: calibrated, {_standing(decision, owner)}"
    if backfilled:
        owed = decision.state.member(roster.ids[owner]).missed_turns
        reason = f"{method.value}: backfill, catching up a missed turn ({owed - 1} still owed)"
    explanation = decision.explanation(walked, order=order, owner=owner, excluded=excluded)
    return decision.selection(method.value, owner, [*notes, reason], explanation), new_state


@dataclass(frozen=True, slots=True)
class _Verdict:
    """Whether a named user (sticky, lookup or related owner) may take the record."""

    index: int | None = None
    why: str | None = None
    skip: Skip | None = None
    outside_team: bool = False


def _direct_check(
    decision: _Decision, user_id: Any, *, check_availability: bool, check_caps: bool
) -> _Verdict:
    if not user_id:
        return _Verdict(why="no user given")
    index = decision.roster.find(str(user_id))
    if index is None:
        return _Verdict(why=NOT_A_MEMBER, outside_team=True)
    blocked = decision.blocked(index, availability=check_availability, caps=check_caps)
    if blocked is not None:
        return _Verdict(why=decision.explanation([blocked]).describe(blocked), skip=blocked)
    return _Verdict(index=index)


def _sticky(
    decision: _Decision, rule: StickyRule, previous: PreviousOwner, notes: list[str]
) -> tuple[Selection, TeamState] | None:
    age = decision.now - aware(previous.assigned_at)
    if age > timedelta(days=rule.window_days):
        notes.append(
            f"sticky: previous owner {previous.owner_id} was assigned {age.days} days ago, "
            f"outside the {rule.window_days:g}-day window"
        )
        return None
    verdict = _direct_check(
        decision,
        previous.owner_id,
        check_availability=rule.check_availability,
        check_caps=rule.check_caps,
    )
    if verdict.index is None:
        notes.append(f"sticky: previous owner {previous.owner_id} skipped: {verdict.why}")
        return None
    reason = f"sticky: same owner as the last record for this {rule.key.replace('_', ' ')}"
    new_state = decision.commit_direct(verdict.index, count_as_turn=rule.count_as_turn)
    return decision.selection(STICKY, verdict.index, [*notes, reason]), new_state


def _direct(
    decision: _Decision,
    method: Method,
    rule: DirectOwnerRule,
    user_id: Any,
    notes: list[str],
) -> tuple[Selection, TeamState] | Method:
    """Assign to the looked-up or related owner, or say which method to fall back to."""
    label = method.value.replace("_", " ")
    verdict = _direct_check(
        decision,
        user_id,
        check_availability=rule.check_availability,
        check_caps=rule.check_caps,
    )
    if verdict.index is not None:
        new_state = decision.commit_direct(verdict.index, count_as_turn=rule.count_as_turn)
        reason = f"{label}: {rule.field} names {user_id}"
        return decision.selection(method.value, verdict.index, [*notes, reason]), new_state
    why = verdict.why
    if verdict.outside_team and not rule.require_member:
        if str(user_id) not in decision.unavailable and str(user_id) not in decision.rejected:
            reason = f"{label}: {rule.field} names {user_id} (outside the team)"
            selection = Selection(decision.team.name, method.value, str(user_id), [*notes, reason])
            return selection, decision.state
        why = TOGGLED
    if user_id:
        notes.append(f"{label}: {user_id} ({rule.field}) skipped: {why}")
    else:
        notes.append(f"{label}: {rule.field} is empty")
    if rule.fallback == HOLD:
        walked = [verdict.skip] if verdict.skip is not None else []
        explanation = decision.explanation(walked, held=True)
        reasons = [*notes, "held: the rule says hold"]
        return decision.selection(method.value, None, reasons, explanation), decision.state
    fallback = Method(rule.fallback) if rule.fallback != TEAM_METHOD else decision.team.method
    if METHODS[fallback].direct:
        fallback = Method.ROUND_ROBIN
    notes.append(f"falling back to {fallback.value}")
    return fallback


def select_owner(
    team: Team,
    state: TeamState,
    facts: Mapping[str, Any],
    now: datetime,
    *,
    method: Method | str | None = None,
    required_skills: Iterable[str] | None = None,
    unavailable: Collection[str] = frozenset(),
    sticky_owner: PreviousOwner | None = None,
    candidate_owner: str | None = None,
    meetings: Mapping[str, int] | None = None,
    puller: str | None = None,
    rejected: Mapping[str, str] | None = None,
) -> tuple[Selection, TeamState]:
    """Pick the member of ``team`` who gets the record described by ``facts`` at ``now``.

    ``method`` overrides the team's method (the router graph names one); ``required_skills``
    overrides the skills read from ``team.skills_from``; ``unavailable`` holds the member ids
    toggled unavailable; ``sticky_owner`` is the previous owner for the record's sticky key;
    ``candidate_owner`` is the related owner (e.g. the matched account's owner); ``meetings``, for a
    team counting meetings, the meetings each member hosted in the period of ``now`` (absent: none;
    None keeps the counts the state has); ``puller``, under the pull method, the member asking for the
    record (without one a pull team's record waits in its queue); ``rejected``, the members who rejected
    the record this period, each with the reason shown (never offered it, however the method picks). Returns the selection and the new state
    (``state`` itself when nothing changed, e.g. when held).
    """
    decision = _Decision(team, state, facts, now, unavailable, required_skills, meetings, rejected)
    chosen = Method(method) if method is not None else team.method
    notes: list[str] = []
    if team.sticky is not None and sticky_owner is not None:
        sticky = _sticky(decision, team.sticky, sticky_owner, notes)
        if sticky is not None:
            return sticky
    spec = METHODS[chosen]
    if spec.direct:
        rule = team.direct_rule(chosen)
        if rule is None:
            raise ValueError(f"team {team.name!r} has no {spec.direct_rule} rule")
        given = candidate_owner if spec.candidate_owner else None
        user_id = given if given is not None else facts.get(rule.field)
        outcome = _direct(decision, chosen, rule, user_id, notes)
        if not isinstance(outcome, Method):
            return outcome
        chosen = outcome
    if METHODS[chosen].queued:
        return _pulled(decision, chosen, puller, notes)
    return _distribute(decision, chosen, notes)


def _pulled(
    decision: _Decision, method: Method, puller: str | None, notes: list[str]
) -> tuple[Selection, TeamState]:
    """The pull method: without a puller the record waits in the team's queue; with one, the puller gets
    it if the record suits them (skills, member filters) and they may take it (active, not toggled off,
    under their caps). Working hours do not apply: a member asking for work is at work."""
    team_name = decision.team.name
    if puller is None:
        reason = f"pull: waiting in team {team_name}'s queue until a member pulls it"
        return decision.selection(method.value, None, [*notes, reason]), decision.state
    index = decision.roster.find(puller)
    if index is None:
        return decision.selection(method.value, None, [*notes, f"pull: {puller} is {NOT_A_MEMBER}"]), decision.state
    skip = decision.misfit(index) or decision.blocked(index, availability=False)
    if skip is not None:
        why = decision.explanation([skip]).describe(skip)
        return decision.selection(method.value, None, [*notes, f"pull: {puller} cannot take it: {why}"]), \
            decision.state
    new_state = decision.commit_direct(index, count_as_turn=False)
    return decision.selection(method.value, index, [*notes, f"pull: {puller} pulled it from the queue"]), new_state



def drop_past_windows(team: Team, state: TeamState, now: datetime) -> TeamState:
    """The state without cap counts of windows that have ended on each member's own clock
    (a periodic tidy-up; a member's counts are also tidied whenever they receive a record)."""
    roster = roster_of(team)
    now_ts = aware(now).timestamp()
    changes: dict[str, MemberState] = {}
    for member_id, current in state.members.items():
        if not current.counts:
            continue
        index = roster.find(member_id)
        if index is None:
            kept: dict[str, int] = {}  # no longer a member: nothing to cap
        else:
            kept = pruned(current.counts, roster.snapshot(index, now, now_ts).keys)
        if kept != current.counts:
            changes[member_id] = current.model_copy(update={"counts": kept})
    return state.changed(changes) if changes else state


def received_manually(
    team: Team, state: TeamState, member_id: str, facts: Mapping[str, Any], now: datetime
) -> TeamState:
    """A record given to ``member_id`` by hand in Salesforce counts against their caps (criteria caps
    too) and their period counts, as if Baton had assigned it (open records are counted elsewhere)."""
    decision = _Decision(team, state, facts, now, frozenset(), ())
    index = decision.roster.find(member_id)
    if index is None:
        return state
    member_id = decision.roster.ids[index]
    current = decision.state.member(member_id)
    received = decision._received(index, current, open_records=current.open_records)
    return decision.state.changed({member_id: received.model_copy(update={"assigned_total": current.assigned_total})})


def taken_back(team: Team, state: TeamState, member_id: str, facts: Mapping[str, Any], now: datetime) -> TeamState:
    """A record reassigned away from ``member_id``: credited back one record in the current cap windows and
    the period (never below zero)."""
    decision = _Decision(team, state, facts, now, frozenset(), ())
    roster = decision.roster
    index = roster.find(member_id)
    if index is None:
        return state
    member_id = roster.ids[index]
    current = decision.state.member(member_id)
    keys = roster.snapshot(index, decision.now, decision.now_ts).keys
    counted_keys = [keys[window] for window, _ in roster.limits[index]] + [
        f"{cap.name}:{keys[window]}" for cap in decision.criteria for window, _ in cap.limits
    ]
    counts = dict(current.counts)
    for key in counted_keys:
        if counts.get(key):
            counts[key] -= 1
    update: dict[str, Any] = {"counts": counts}
    if decision.counted and current.period_count:
        update["period_count"] = current.period_count - 1
        update["period_load"] = max(0, current.period_load - roster.fair_strides[index])
    return decision.state.changed({member_id: current.model_copy(update=update)})
