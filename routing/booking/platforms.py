"""The meeting platforms a booking type or a booking request can name, each once: what the calendar event of a
booking on it carries. A new platform is one entry here plus its name in ``PlatformName``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

PlatformName = Literal["google_meet", "none"]


@dataclass(frozen=True)
class MeetingPlatform:
    name: PlatformName
    calendar_adds_video_link: bool  # the calendar service makes the video meeting with the event (Google Meet)


PLATFORMS: dict[str, MeetingPlatform] = {
    platform.name: platform
    for platform in (
        MeetingPlatform("google_meet", calendar_adds_video_link=True),
        MeetingPlatform("none", calendar_adds_video_link=False),
    )
}
if set(PLATFORMS) != set(get_args(PlatformName)):
    raise RuntimeError(f"meeting platforms {sorted(PLATFORMS)} and PlatformName {get_args(PlatformName)} differ")
