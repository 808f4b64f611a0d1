"""May this scheduler book these hosts on this record? The org config's ``booking.schedulers`` says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from routing.booking.config import SchedulerGrant

EVERYONE = "*"
ID_LENGTH = 15  # an 18-character id is the 15-character one plus a case checksum


def _same_user(a: str, b: str) -> bool:
    return a[:ID_LENGTH] == b[:ID_LENGTH]


def _names(user_ids: Sequence[str], user_id: str) -> bool:
    return any(entry == EVERYONE or _same_user(entry, user_id) for entry in user_ids)


def _allows_host(grant: SchedulerGrant, host_id: str, pool_members: Mapping[str, Sequence[str]]) -> bool:
    if grant.any_host or _names(grant.hosts, host_id):
        return True
    return any(_names(pool_members.get(pool, ()), host_id) for pool in grant.pools)


def scheduler_refusal(
    grants: Sequence[SchedulerGrant],
    pool_members: Mapping[str, Sequence[str]],
    *,
    scheduler_user_id: str,
    object_type: str,
    host_ids: Sequence[str],
    co_host_ids: Sequence[str] = (),
) -> str | None:
    """Why the scheduler may not make this booking (a 403's reason), or None when a grant allows it.

    No grants at all: anyone may book anything (the config has not restricted booking). ``host_ids`` are
    every candidate main host (a pool's members): each must be allowed, as must each co-host.
    """
    if not grants:
        return None
    mine = [grant for grant in grants if _names(grant.users, scheduler_user_id)]
    if not mine:
        return f"scheduler {scheduler_user_id} is named in no booking.schedulers grant"
    names = ", ".join(grant.name for grant in mine)
    for_object = [grant for grant in mine if not grant.objects or object_type in grant.objects]
    if not for_object:
        return f"scheduler {scheduler_user_id} may not book on {object_type} records (grants: {names})"
    names = ", ".join(grant.name for grant in for_object)
    for role, hosts in (("host", host_ids), ("co-host", co_host_ids)):
        for host_id in hosts:
            if not any(_allows_host(grant, host_id, pool_members) for grant in for_object):
                return f"scheduler {scheduler_user_id} may not book {host_id} as {role} (grants: {names})"
    return None
