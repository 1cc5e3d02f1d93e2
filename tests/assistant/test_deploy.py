"""The deployment files (deploy/): they parse, every secret comes from a Secret and reaches only the services
that need it (the launcher's own list), and the network lets each service reach only what it calls."""

from __future__ import annotations

from typing import Any

import yaml

from assistant.__main__ import KEY_SHARERS, KEYS
from assistant.launcher import NEEDED_SECRETS
from core.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
SECRET_WORDS = ("TOKEN", "SECRET", "KEY", "PASSWORD", "DATABASE_URL", "REDIS_URL")


def k8s() -> dict[tuple[str, str], dict[str, Any]]:
    documents = yaml.safe_load_all((DEPLOY / "k8s" / "assistant.yaml").read_text(encoding="utf-8"))
    return {(d["kind"], d["metadata"]["name"]): d for d in documents if d}


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def deployments() -> dict[str, dict[str, Any]]:
    """The Deployments' containers, by the service each serves (`python -m assistant serve <service>`)."""
    found = {}
    for (kind, _), document in k8s().items():
        if kind == "Deployment":
            for container in document["spec"]["template"]["spec"]["containers"]:
                found[container["args"][0]] = container
    return found


def _variables(*names: str) -> set[str]:
    return {"TELEGRAM_BOT_TOKEN" if name == "telegram_bot_token" else f"ASSISTANT_{name.upper()}" for name in names}


def expected_secrets(service: str) -> set[str]:
    """What `service` reads its own secrets from: the launcher's list of hop secrets, the keys the gateway, the
    action server and the console share, and what its role needs."""
    databases = ("database_url",) if service in ("console", "follower") else ("database_url", "redis_url")
    keys = (*KEYS, "data_keys_previous") if service in KEY_SHARERS else ()
    role = {
        "engine": (),
        "actions": ("case_api_token", "metrics_token"),
        "gateway": ("telegram_bot_token", "webhook_secret", "case_api_token", "metrics_token"),
        "console": (),
        "follower": (),
    }[service]
    return _variables(*NEEDED_SECRETS[service], *databases, *keys, *role)


def test_every_secret_comes_from_a_secret_and_each_service_gets_only_the_ones_it_needs():
    config = k8s()[("ConfigMap", "assistant-config")]["data"]
    assert not [name for name in config if any(word in name for word in SECRET_WORDS)]
    containers = deployments()
    assert set(containers) == {"engine", "follower", "actions", "gateway", "console"}
    for service, container in containers.items():
        # No whole Secret: each service names the keys it reads.
        assert container["envFrom"] == [{"configMapRef": {"name": "assistant-config"}}], service
        env = {item["name"]: item for item in container.get("env", [])}
        assert all("value" not in item for item in env.values())  # no value written in the file
        assert set(env) == expected_secrets(service), service
        for name, item in env.items():
            ref = item["valueFrom"]["secretKeyRef"]
            if ref["name"] == "assistant":  # made from the env file: keys are the variables' names
                assert ref["key"] == name
            assert ref.get("optional", False) == (name == "ASSISTANT_DATA_KEYS_PREVIOUS"), name
    assert not {"TELEGRAM_BOT_TOKEN", "ASSISTANT_DATA_KEY", "ASSISTANT_CASE_API_TOKEN"} & expected_secrets("engine")


def test_the_env_file_example_names_every_secret_a_service_needs():
    example = (DEPLOY / "assistant.env.example").read_text(encoding="utf-8")
    values = dict(line.split("=", 1) for line in example.splitlines() if "=" in line and not line.startswith("#"))
    needed = {f"ASSISTANT_{name.upper()}" for names in NEEDED_SECRETS.values() for name in names}
    shared = {"ASSISTANT_WEBHOOK_SECRET", "ASSISTANT_METRICS_TOKEN", "ASSISTANT_SECRET_KEY", "ASSISTANT_DATA_KEY"}
    assert needed | shared <= set(values)
    secrets = [name for name in values if any(word in name for word in SECRET_WORDS)]
    assert all(values[name] == "" for name in secrets)  # to be filled in, never an example value


def _peers(rules: list[dict[str, Any]]) -> set[str]:
    """Who a list of ingress or egress rules lets in or out: pods of this namespace by app, other namespaces,
    address blocks."""
    found = set()
    for rule in rules:
        for peer in rule.get("from", rule.get("to", [])):
            if "podSelector" in peer and "namespaceSelector" not in peer:
                found.add(peer["podSelector"]["matchLabels"]["app"])
            elif "namespaceSelector" in peer:
                found.add("namespace:" + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
            else:
                found.add("ip:" + peer["ipBlock"]["cidr"])
    return found


def test_network_policies_let_each_service_reach_only_what_it_calls():
    documents = k8s()
    policies = {name: d["spec"] for (kind, name), d in documents.items() if kind == "NetworkPolicy"}
    deny = policies["assistant-default-deny"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}  # nothing unless allowed
    ingress = {name.removeprefix("assistant-"): _peers(p.get("ingress", [])) for name, p in policies.items()}
    egress = {name.removeprefix("assistant-"): _peers(p.get("egress", [])) for name, p in policies.items()}
    assert ingress["engine"] == {"assistant-gateway"}
    assert ingress["actions"] == {"assistant-engine", "assistant-gateway", "namespace:monitoring"}
    assert ingress["gateway"] == {"namespace:ingress-nginx", "namespace:monitoring"}
    assert ingress["console"] == {"namespace:ingress-nginx", "assistant-engine"}  # engines: their model
    # The case API and the internet: the action server and the gateways only; the databases: our services.
    public = "ip:0.0.0.0/0"
    assert [name for name, peers in egress.items() if public in peers] == ["actions", "gateway"]
    assert egress["engine"] == {"assistant-actions", "assistant-console"} and egress["console"] == set()
    databases = policies["assistant-databases"]["podSelector"]["matchExpressions"][0]["values"]
    assert sorted(databases) == ["assistant-actions", "assistant-console", "assistant-engine", "assistant-gateway"]


def test_compose_networks_keep_the_engines_and_the_data_off_the_internet():
    spec = compose()
    internal = {name for name, network in spec["networks"].items() if (network or {}).get("internal")}
    assert internal == {"engines", "actions", "data"}
    on = {name: set(service["networks"]) for name, service in spec["services"].items()}
    reaching = {network: {s for s, networks in on.items() if network in networks} for network in spec["networks"]}
    assert reaching["engines"] == {"engine-1", "engine-2", "engine-balancer", "gateway-1", "gateway-2", "console"}
    assert reaching["actions"] == {"actions", "engine-1", "engine-2", "gateway-1", "gateway-2"}
    assert "engine-1" not in reaching["edge"] | reaching["outbound"] | reaching["staff"]
    assert reaching["data"] == {
        "postgres",
        "redis",
        "actions",
        "engine-1",
        "engine-2",
        "engine-balancer",
        "gateway-1",
        "gateway-2",
        "console",
    }
    assert "data" not in on["gateway-balancer"]  # HAProxy only: no rollout there


def test_the_console_believes_x_forwarded_for_from_the_proxy_in_front_of_it_only(monkeypatch):
    """Behind the ingress controller, or Docker's port publishing, every staff member would otherwise be one
    address: ten wrong logins by anyone would pause everyone's, and the account lock would spare everyone."""
    from core.settings import Settings

    spec = compose()
    values = {
        "k8s": k8s()[("ConfigMap", "assistant-config")]["data"]["ASSISTANT_CONSOLE_TRUSTED_PROXIES"],
        "compose": spec["services"]["console"]["environment"]["ASSISTANT_CONSOLE_TRUSTED_PROXIES"],
    }
    proxies = {}
    for where, value in values.items():
        monkeypatch.setenv("ASSISTANT_CONSOLE_TRUSTED_PROXIES", value)
        proxies[where] = Settings(_env_file=None).console_trusted_proxies  # valid
    assert proxies["k8s"]
    # In compose, the published port's connections come from the staff network's gateway, and only from there.
    (staff,) = spec["networks"]["staff"]["ipam"]["config"]
    assert proxies["compose"] == [staff["gateway"]]
    assert "staff" in spec["services"]["console"]["networks"]
