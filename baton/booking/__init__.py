"""Hot handover booking around the pure core (``routing.booking``): hosts, schedules, reservation, chain."""
