"""What the launcher starts around the engines: HAProxy in front when it is installed (one engine with a spare
slot for blue/green, replicas each a server), the engine alone on the engine's port when it is not, and no
replicas without it."""

from __future__ import annotations

import pytest

from assistant import launcher
from assistant.launcher import Stack, loopback_settings


def test_haproxy_takes_the_engines_port_and_keeps_a_slot_for_blue_green(tmp_path):
    if launcher.haproxy_binary() is None:
        pytest.skip("HAProxy is not installed (scripts/setup.sh)")
    settings = loopback_settings(tmp_path)
    services = {s.name: s for s in Stack(settings, tmp_path / "m.tar.gz", with_emulator=False).plan()}
    assert services["balancer"].port == settings.engine_port != services["engine"].port
    names = list(services)
    assert names.index("console") < names.index("balancer") < names.index("engine")  # engines fetch from it
    config = (tmp_path / "engine" / "haproxy.cfg").read_text()
    assert f"server blue 127.0.0.1:{services['engine'].port}" in config
    assert "server green 127.0.0.1:1 disabled" in config
    assert "--model" not in services["engine"].argv  # it loads the model store's pointer


def test_without_haproxy_one_engine_listens_on_the_engines_port_and_replicas_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(launcher, "haproxy_binary", lambda: None)
    settings = loopback_settings(tmp_path)
    stack = Stack(settings, tmp_path / "m.tar.gz", with_emulator=False)
    services = {s.name: s for s in stack.plan()}
    assert "balancer" not in services and services["engine"].port == settings.engine_port
    replicas = Stack(
        loopback_settings(
            tmp_path, engine_replicas=2, redis_url="redis://127.0.0.1:1", database_url="postgresql+asyncpg://x/y"
        ),
        tmp_path / "m.tar.gz",
        with_emulator=False,
    )
    with pytest.raises(ValueError, match="HAProxy"):
        replicas.check_scale_out()


def test_a_container_serves_its_one_engine_whatever_the_replica_count(tmp_path):
    """Kubernetes' ConfigMap and compose say how many engines there are; each container is still `engine`."""
    from assistant.__main__ import container_stack

    settings = loopback_settings(tmp_path, engine_replicas=2, gateway_replicas=2, webhook_url="https://x.example")
    services = {s.name: s for s in container_stack(settings).plan()}
    assert {"engine", "gateway"} <= set(services) and "balancer" not in services
    assert services["engine"].port == settings.engine_port  # no HAProxy in front inside a container
