"""The stage actors. ``dramatiq workers`` bootstraps Baton from BATON_* settings and starts them all."""

from baton.bootstrap import ensure_bootstrapped

ensure_bootstrapped()

from workers import assign, classify, match, route, territory, writeback  # noqa: E402,F401
