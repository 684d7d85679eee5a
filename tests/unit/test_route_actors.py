"""The lifecycle table's "who may trigger" column against the routes: each route declares the actions it
performs (`@web.performs`), its groups must be allowed actors of each, and every action a customer or a
staff group may trigger has a route that does it for them."""

from __future__ import annotations

import importlib

import pytest

from chalicelib import lifecycle, routing, web
from chalicelib.lifecycle import Actor


def _routes() -> list[web.RouteSpec]:
    for module in routing.BLUEPRINTS:  # importing a blueprint module registers its routes
        importlib.import_module(module)
    return list(web.ROUTES)


def actors_of(spec: web.RouteSpec) -> set[Actor]:
    """Who calls a route: its staff groups, a signed-in customer, or (public) the payment provider."""
    if spec.public:
        return {Actor.SYSTEM}
    return {Actor(group) for group in spec.groups} if spec.groups else {Actor.CUSTOMER}


def performed(spec: web.RouteSpec) -> list[tuple[lifecycle.Lifecycle, str]]:
    found = []
    for move in spec.moves:
        entity, action = move.split(".", 1)
        machine = lifecycle.LIFECYCLES[entity]
        assert action in machine.actions(), f"{spec.method} {spec.path}: {entity} has no action {action!r}"
        found.append((machine, action))
    return found


ROUTES = _routes()
MOVING = [spec for spec in ROUTES if spec.moves]


def test_routes_declare_the_actions_they_perform():
    assert len(MOVING) >= 20
    for spec in MOVING:
        assert spec.method != "GET", f"{spec.path}: a read performs no action"
        performed(spec)


@pytest.mark.parametrize("spec", MOVING, ids=lambda s: f"{s.method} {s.path}")
def test_a_routes_callers_are_allowed_actors_of_every_action_it_performs(spec):
    for machine, action in performed(spec):
        allowed = set(machine.actors(action))
        assert actors_of(spec) <= allowed, (
            f"{spec.method} {spec.path} lets {sorted(actors_of(spec))} {action} a {machine.entity}; "
            f"the table allows {sorted(allowed)}"
        )


def test_every_customer_and_staff_action_in_the_table_is_performed_by_a_route_for_each_of_its_actors():
    offered = {
        (machine.entity, action, actor)
        for spec in MOVING
        for machine, action in performed(spec)
        for actor in actors_of(spec)
    }
    missing = [
        f"{machine.entity}.{t.action} by {actor}"
        for machine in lifecycle.LIFECYCLES.values()
        for t in machine.transitions
        for actor in t.actors
        if actor != Actor.SYSTEM and (machine.entity, t.action, actor) not in offered
    ]
    assert missing == [], "no route performs:\n" + "\n".join(missing)
