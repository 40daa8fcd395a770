"""What a Ray cluster can offer a trial: now, and once its autoscaler has added nodes.

A KubeRay cluster usually scales its GPU worker group from zero: at launch the cluster has no GPU,
and trials asking for one start the scale-up. The launcher must not refuse them (it did), nor let
them wait for a GPU no node type has. Ray keeps what the autoscaler can add in two places:

- **autoscaler v2** (KubeRay's ``autoscalerOptions.version: v2``, the manifests in ``k8s/``) reports
  its node types to the GCS (``ClusterConfig``: per type its resources and min/max count), so the
  launcher knows whether a node that fits one trial can ever come;
- **autoscaler v1** reports only its status (``ray status``), not its node types. That an autoscaler
  runs is known, what it can add is not: the launcher lets the trials wait, and the wait for the
  encoder reservation (``raysweep.shell.tuner.reserve``) ends with a message if no node comes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import ray


@dataclass(frozen=True)
class NodeType:
    """A node type the autoscaler can start: its resources per node and how many it may run (-1: no cap)."""

    name: str
    resources: dict[str, float]
    max_count: int

    def fits(self, bundle: dict[str, float]) -> bool:
        return self.max_count != 0 and all(self.resources.get(k, 0.0) >= v for k, v in bundle.items() if v)


def autoscaler_node_types() -> list[NodeType] | None:
    """The node types the autoscaler reported (v2); None when it reported none (v1, or no autoscaler)."""
    import ray._private.state  # the GCS's key-value store, where the autoscaler reports

    config = ray._private.state.state.get_cluster_config()
    if config is None or not config.node_group_configs:
        return None
    return [
        NodeType(group.name, {k: float(v) for k, v in group.resources.items()}, group.max_count)
        for group in config.node_group_configs
    ]


def autoscaler_running() -> bool:
    """Whether an autoscaler that can add nodes runs on this cluster.

    v2 reports its node types. v1 reports a status (what ``ray status`` prints) with each node's
    type; a Ray started without an autoscaling config runs v1 over a read-only provider, whose node
    types are the nodes themselves (``node_<node id>``): that one adds nothing.
    """
    from ray._private import ray_constants
    from ray.autoscaler._private.util import format_readonly_node_type
    from ray.experimental.internal_kv import _internal_kv_get

    if autoscaler_node_types() is not None:
        return True
    status = _internal_kv_get(ray_constants.DEBUG_AUTOSCALING_STATUS)
    if status is None:
        return False
    try:
        mapping = json.loads(status).get("autoscaler_report", {}).get("node_type_mapping") or {}
    except (ValueError, AttributeError):
        return False
    return any(node_type != format_readonly_node_type(node) for node, node_type in mapping.items())


def node_fits_now(bundle: dict[str, float]) -> bool:
    """Whether an alive node has ``bundle``'s resources in total (free or not)."""
    return any(
        all(node["Resources"].get(k, 0.0) >= v for k, v in bundle.items() if v)
        for node in ray.nodes()
        if node.get("Alive")
    )


@dataclass(frozen=True)
class Growth:
    """Whether a node fitting one trial can be added: ``types`` that fit (v2), or ``unknown`` (v1)."""

    types: list[str]
    unknown: bool

    @property
    def possible(self) -> bool:
        return bool(self.types) or self.unknown


def growth_for(bundle: dict[str, float]) -> Growth | None:
    """What the autoscaler can add for ``bundle``; None without an autoscaler."""
    types = autoscaler_node_types()
    if types is not None:
        return Growth([t.name for t in types if t.fits(bundle)], unknown=False)
    if autoscaler_running():
        return Growth([], unknown=True)
    return None
