"""Name -> component registries: registration once, errors that list the known names."""

from __future__ import annotations

import pytest

from raysweep.registry import Registry, UnknownNameError


def test_register_get_and_list_sorted() -> None:
    registry: Registry[type] = Registry("widget")

    @registry.register("zeta")
    class Zeta: ...

    registry.register("alpha")(int)
    assert registry.get("zeta") is Zeta and registry.get("alpha") is int
    assert registry.names() == ["alpha", "zeta"] == list(registry)
    assert "alpha" in registry and "beta" not in registry


def test_a_name_registered_twice_is_refused() -> None:
    registry: Registry[type] = Registry("widget")
    registry.register("a")(int)
    with pytest.raises(ValueError, match="widget 'a' is registered twice"):
        registry.register("a")(float)
    assert registry.get("a") is int


def test_unknown_name_lists_the_known_ones_readably() -> None:
    registry: Registry[type] = Registry("dataset source")
    for name in ("npz", "digits"):
        registry.register(name)(int)
    with pytest.raises(KeyError) as raised:  # a KeyError, so dict-style callers still catch it
        registry.get("cifar")
    assert isinstance(raised.value, UnknownNameError)
    assert (
        str(raised.value) == "unknown dataset source 'cifar'; known: digits, npz"
    )  # not quoted as KeyError's
    assert str(UnknownNameError("x")) == "x"
