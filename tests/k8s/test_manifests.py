"""k8s/: every manifest against pinned schemas (no Kubernetes here), and against the project it deploys.

- RayCluster and RayJob against the openAPIV3Schema of KubeRay v1.7.0's CRDs, core objects (and the
  pod templates inside the RayCluster) against Kubernetes 1.36's OpenAPI definitions (the schema files
  and their sources: tests/k8s/schemas/README.md). Validation is strict, as ``kubectl apply``'s
  default field validation is: a field the schema does not know is an error, not silently dropped.
- The deployment fits raysweep: rayVersion is the pinned Ray, the head runs no trials, a GPU group
  scales from zero with autoscaler v2, the RayJob's entrypoint is a valid launcher command line with
  a start-or-resume sweep id, an absolute storage path on a volume every pod mounts, and a config
  the image carries; every ConfigMap, Secret and claim a pod names is defined or optional.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from helpers.paths import REPO

from raysweep.shell.cli import parse_args

MANIFESTS = REPO / "k8s"
SCHEMAS = Path(__file__).parent / "schemas"
CRDS = {"RayCluster": "ray.io_rayclusters.yaml", "RayJob": "ray.io_rayjobs.yaml"}
CORE = {
    ("v1", "ConfigMap"): "io.k8s.api.core.v1.ConfigMap",
    ("v1", "Secret"): "io.k8s.api.core.v1.Secret",
    ("v1", "PersistentVolumeClaim"): "io.k8s.api.core.v1.PersistentVolumeClaim",
    ("v1", "Service"): "io.k8s.api.core.v1.Service",
    ("apps/v1", "Deployment"): "io.k8s.api.apps.v1.Deployment",
}
POD_TEMPLATE = "io.k8s.api.core.v1.PodTemplateSpec"
IMAGE_IN_REPO = "/app"
"""Where docker/Dockerfile puts the repository (WORKDIR /app; COPY . /app)."""


def strict(schema: Any) -> Any:
    """``schema`` with unknown fields refused wherever it lists its fields (kubectl's strict field
    validation), except where it keeps unknown fields on purpose."""
    if isinstance(schema, dict):
        out = {key: strict(value) for key, value in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


@cache
def crd_validator(kind: str) -> jsonschema.protocols.Validator:
    # LibYAML: the CRDs are 1-1.4 MB, which the pure-Python loader takes tens of seconds to read.
    crd = yaml.load((SCHEMAS / "kuberay-v1.7.0" / CRDS[kind]).read_text(), Loader=yaml.CSafeLoader)
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return jsonschema.Draft7Validator(strict(version["schema"]["openAPIV3Schema"]))


@cache
def core_definitions() -> dict[str, Any]:
    definitions = copy.deepcopy(
        json.loads((SCHEMAS / "kubernetes-1.36" / "definitions.json").read_text())["definitions"]
    )
    # The OpenAPI v2 spec says "string" for both; the API server takes numbers too (cpu: 2, port: 80).
    definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["string", "integer"]}
    definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"] = {"type": ["string", "number"]}
    return strict(definitions)


@cache
def core_validator(definition: str) -> jsonschema.protocols.Validator:
    return jsonschema.Draft4Validator(
        {"$ref": f"#/definitions/{definition}", "definitions": core_definitions()}
    )


def errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]


@cache
def parsed_manifests() -> tuple[tuple[str, dict[str, Any]], ...]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                found.append((path.name, document))
    return tuple(found)


def manifests() -> list[tuple[str, dict[str, Any]]]:
    """Every document of every file in k8s/, (file name, document); copies, so a test may change them."""
    return copy.deepcopy(list(parsed_manifests()))


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [document for _, document in manifests() if document["kind"] == kind]


def pod_templates(cluster: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = cluster["spec"]
    return {
        "head": spec["headGroupSpec"]["template"],
        **{group["groupName"]: group["template"] for group in spec["workerGroupSpecs"]},
    }


def validate(document: dict[str, Any]) -> list[str]:
    """Every schema error of one manifest (its pod templates checked as core objects too)."""
    kind = document["kind"]
    if kind in CRDS:
        assert document["apiVersion"] == "ray.io/v1", document["apiVersion"]
        found = errors(crd_validator(kind), document)
        if kind == "RayCluster":
            for name, template in pod_templates(document).items():
                found += [f"{name} pod: {e}" for e in errors(core_validator(POD_TEMPLATE), template)]
        return found
    return errors(core_validator(CORE[(document["apiVersion"], kind)]), document)


# ---------------------------------------------------------------------------------------------


def test_the_folder_holds_the_deployment() -> None:
    kinds = sorted(document["kind"] for _, document in manifests())
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "PersistentVolumeClaim",
        "PersistentVolumeClaim",
        "RayCluster",
        "RayJob",
        "Service",
    ]


@pytest.mark.parametrize(
    ("name", "document"), manifests(), ids=lambda v: v if isinstance(v, str) else v["kind"]
)
def test_every_manifest_fits_its_pinned_schema(name: str, document: dict[str, Any]) -> None:
    assert validate(document) == [], name


def test_the_validation_refuses_what_the_api_server_would() -> None:
    """The check can fail: a misspelt pod field, a misplaced RayCluster field, a wrong type."""
    [cluster] = of_kind("RayCluster")
    typo = copy.deepcopy(cluster)
    typo["spec"]["workerGroupSpecs"][1]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    assert any("imagePullPolice" in e for e in validate(typo))
    misplaced = copy.deepcopy(cluster)
    misplaced["spec"]["minReplicas"] = 0
    assert any("minReplicas" in e for e in validate(misplaced))
    wrong_type = copy.deepcopy(cluster)
    wrong_type["spec"]["workerGroupSpecs"][0]["maxReplicas"] = "eight"
    assert any("maxReplicas" in e for e in validate(wrong_type))
    [claim, *_] = of_kind("PersistentVolumeClaim")
    bad_claim = copy.deepcopy(claim)
    bad_claim["spec"]["accessMode"] = ["ReadWriteMany"]
    assert any("accessMode" in e for e in validate(bad_claim))


def pinned_ray() -> str:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    [ray] = [d for d in dependencies if re.match(r"ray\[", d)]
    return ray.split("==")[1]


def test_the_cluster_runs_the_pinned_ray_with_a_gpu_group_from_zero() -> None:
    [cluster] = of_kind("RayCluster")
    spec = cluster["spec"]
    assert spec["rayVersion"] == pinned_ray()
    # The image installs pyproject's dependencies: its Ray must serve the jobs KubeRay submits.
    assert "default" in re.search(r"ray\[([^\]]*)\]", (REPO / "pyproject.toml").read_text()).group(1)
    assert spec["enableInTreeAutoscaling"] is True and spec["autoscalerOptions"]["version"] == "v2"
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"  # no trials on the head
    groups = {group["groupName"]: group for group in spec["workerGroupSpecs"]}
    gpu = groups["gpu"]
    assert gpu["minReplicas"] == 0 and gpu["replicas"] == 0 and gpu["maxReplicas"] > 0
    [container] = gpu["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["image"].endswith(":cuda") and (REPO / "docker" / "Dockerfile.cuda").is_file()
    cpu_images = {
        t["spec"]["containers"][0]["image"] for n, t in pod_templates(cluster).items() if n != "gpu"
    }
    assert {image.rsplit(":", 1)[1] for image in cpu_images} == {"cpu"}
    assert groups["cpu"]["minReplicas"] >= 1


def test_every_pod_finds_what_it_names() -> None:
    [cluster] = of_kind("RayCluster")
    config_maps = {d["metadata"]["name"] for d in of_kind("ConfigMap")}
    claims = {d["metadata"]["name"] for d in of_kind("PersistentVolumeClaim")}
    templates = [*pod_templates(cluster).values(), *(d["spec"]["template"] for d in of_kind("Deployment"))]
    for template in templates:
        for volume in template["spec"].get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
        for container in template["spec"]["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps
                if "secretRef" in source:  # the user creates it (k8s/README.md); pods start without it
                    assert source["secretRef"].get("optional") is True
    for claim in of_kind("PersistentVolumeClaim"):
        if claim["metadata"]["name"] == "raysweep-shared":
            assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # every Ray pod mounts it
    [config_map] = of_kind("ConfigMap")
    tracking = config_map["data"]["MLFLOW_TRACKING_URI"]
    [service] = of_kind("Service")
    assert tracking == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"


def test_the_job_runs_the_launcher_as_a_start_or_resume_sweep() -> None:
    [cluster] = of_kind("RayCluster")
    [job] = of_kind("RayJob")
    spec = job["spec"]
    assert spec["clusterSelector"] == {"ray.io/cluster": cluster["metadata"]["name"]}
    # KubeRay v1.7.0 refuses these with clusterSelector (ray-operator/controllers/ray/utils/validation.go).
    assert not spec.get("backoffLimit") and "rayClusterSpec" not in spec and not spec.get("suspend")
    assert "jobId" not in spec  # a resubmission needs a new Ray submission id
    command = shlex.split(spec["entrypoint"])
    assert command[:3] == ["python", "-m", "raysweep.launch"]
    args = parse_args(command[3:])  # the launcher's own parser: every flag exists
    assert args.sweep_id and not args.resume  # start when absent, resume when present
    assert args.config.is_absolute() and args.config.is_relative_to(IMAGE_IN_REPO)
    assert (REPO / args.config.relative_to(IMAGE_IN_REPO)).is_file()  # a config the image carries
    assert args.storage.startswith("/")  # the default storage is relative: refused on a cluster
    mounts = {m["mountPath"] for m in pod_templates(cluster)["head"]["spec"]["containers"][0]["volumeMounts"]}
    assert any(args.storage.startswith(f"{mount}/") for mount in mounts)
    assert args.tracking_uri is None  # MLflow from MLFLOW_TRACKING_URI (the ConfigMap)
