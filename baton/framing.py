"""Who may frame the handoff page (its CSP ``frame-ancestors``), derived from the settings. Pure.

Salesforce frames a Canvas app from the org's own hosts only, so the default names the org's My Domain
(``BATON_SALESFORCE_MY_DOMAIN``) and nothing else; an explicit ``BATON_HANDOFF_FRAME_ANCESTORS`` wins. Host
formats (enhanced domains, Salesforce Help "My Domain URL Formats"; Apex ``System.DomainCreator``):
production ``NAME.my.salesforce.com``, ``NAME.lightning.force.com``, ``NAME--c.vf.force.com``; a sandbox
``NAME--SANDBOX.sandbox.my.salesforce.com``, ``NAME--SANDBOX.sandbox.lightning.force.com``,
``NAME--SANDBOX--c.sandbox.vf.force.com``. CSP allows a wildcard only as a whole leftmost label, so a
sandbox is named (``acme--uat``), never matched as ``acme--*``.
"""

from __future__ import annotations

import re
from typing import Protocol

from kernel.errors import ConfigError

NO_FRAMING = "'none'"
MY_DOMAIN_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


class FramingSettings(Protocol):
    handoff_frame_ancestors: str
    salesforce_my_domain: str
    canvas_consumer_secret: str | None


def my_domain_hosts(my_domain: str) -> list[str]:
    """The origins of ``my_domain``'s Salesforce, Lightning and Visualforce hosts: production for ``acme``,
    the sandbox forms for ``acme--uat``. ConfigError when it is not a My Domain name."""
    name = my_domain.strip().lower()
    base, dashes, sandbox = name.partition("--")
    if not MY_DOMAIN_NAME.match(base) or "--" in base or (dashes and (not MY_DOMAIN_NAME.match(sandbox)
                                                                         or "--" in sandbox)):
        raise ConfigError([("BATON_SALESFORCE_MY_DOMAIN",
                            (f"{my_domain!r} is not a My Domain name (letters, digits and hyphens, e.g. 'acme' "
                             "or, for a sandbox, 'acme--uat'; not a host name or a wildcard)"))])
    if dashes:
        return [f"https://{name}.sandbox.my.salesforce.com", f"https://{name}.sandbox.lightning.force.com",
                f"https://{name}--c.sandbox.vf.force.com"]
    return [f"https://{name}.my.salesforce.com", f"https://{name}.lightning.force.com",
            f"https://{name}--c.vf.force.com"]


def frame_ancestors(settings: FramingSettings) -> str:
    """The CSP ``frame-ancestors`` value: the explicit setting, else ``'self'`` and the My Domain's hosts, else
    ``'none'`` (the page opens top-level from signed links; nothing may frame it)."""
    if settings.handoff_frame_ancestors.strip():
        return settings.handoff_frame_ancestors.strip()
    if settings.salesforce_my_domain.strip():
        return " ".join(["'self'", *my_domain_hosts(settings.salesforce_my_domain)])
    return NO_FRAMING


def check_framing(settings: FramingSettings) -> str:
    """``frame_ancestors`` for a web process about to start; ConfigError (naming the settings) when the My
    Domain is malformed, or when Canvas is on but nobody would be allowed to frame it. A wildcard is only ever
    used when written in BATON_HANDOFF_FRAME_ANCESTORS."""
    value = frame_ancestors(settings)
    if settings.canvas_consumer_secret and value == NO_FRAMING:
        raise ConfigError([("BATON_SALESFORCE_MY_DOMAIN", (
            "Canvas is on (BATON_CANVAS_CONSUMER_SECRET) but no Salesforce host may frame the handoff page: set "
            "BATON_SALESFORCE_MY_DOMAIN (e.g. 'acme') or BATON_HANDOFF_FRAME_ANCESTORS"))])
    return value
