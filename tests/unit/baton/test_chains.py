"""Each chain is declared once (``baton.chains``): every declared stage has one handler, and stage names are
written nowhere else in the package — an actor is reached through its declaration, never by a literal name."""

from __future__ import annotations

import ast
from pathlib import Path

from baton.assignment.chain import ROUTING_HANDLERS
from baton.chains import BOOKING, CHAINS, ROUTING, all_stages, stage_names
from baton.stage_handlers import HANDLERS, unbound_stages

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("baton", "workers", "adapters", "messages", "routing", "entrypoints")


def test_every_declared_stage_has_a_handler_and_every_handler_a_declared_stage() -> None:
    assert unbound_stages() == []
    assert set(HANDLERS) == {stage for _, stage in all_stages()}
    assert set(ROUTING_HANDLERS) == set(ROUTING.stages)


def test_stage_names_are_unique_across_chains_so_each_has_its_own_queue() -> None:
    names = stage_names()
    assert len(names) == len(set(names)), names


def test_a_stage_is_followed_by_the_next_in_its_chain_and_the_last_ends_it() -> None:
    for chain in CHAINS:
        for position, stage in enumerate(chain.stages):
            following = chain.stages[position + 1] if position + 1 < len(chain.stages) else None
            assert chain.after(stage) == following
    assert BOOKING.first.takes.__name__ == "BookingRequest"


def _literal_actor_lookups(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"get_actor", "actor"}
                and any(isinstance(arg, ast.Constant) and arg.value in stage_names() for arg in node.args)):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value in stage_names()
                and any(isinstance(target, ast.Name) and ("STAGE" in target.id or "QUEUE" in target.id)
                        for target in node.targets)):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        if isinstance(node, ast.keyword) and node.arg in {"actor_name", "queue_name", "next_stage", "stage"} \
                and isinstance(node.value, ast.Constant) and node.value.value in stage_names():
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_package_module_names_a_stage_by_a_literal_outside_the_declarations() -> None:
    sources = [path for package in PACKAGES if (ROOT / package).is_dir() for path in (ROOT / package).rglob("*.py")]
    literal = [where for path in sources if path.name != "chains.py" for where in _literal_actor_lookups(path)]
    assert literal == []
