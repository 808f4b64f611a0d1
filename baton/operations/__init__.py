"""Operations: the scheduler, metrics, readiness, and the why and stats reports."""
