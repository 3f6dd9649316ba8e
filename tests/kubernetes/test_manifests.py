"""Every manifest `cog kubernetes` prints is one Kubernetes (or KEDA's CRD) accepts, and says
what the model and the flags ask for."""

from __future__ import annotations

import copy

import jsonschema
import pytest
from kubernetes_validate import ValidationError

from .conftest import by_kind, cog_kubernetes, manifests, validate

MODES = {
    "fixed": ("r8.im/someone/my_model:v3",),
    "hpa": (
        "r8.im/someone/my_model:v3",
        "--min",
        "2",
        "--max",
        "8",
        "--cpu",
        "4",
        "--image-pull-secret",
        "registry",
    ),
    "queue": ("my-model", "--queue", "jobs", "--redis-url", "redis://redis:6379/0"),
    "queue-auth": (
        "my-model",
        "--queue",
        "jobs",
        "--redis-url",
        "rediss://worker:s3cret@redis.example:6380/3",
        "--min",
        "0",
        "--max",
        "20",
    ),
}


@pytest.fixture
def gpu_project(tmp_path):
    (tmp_path / "cog.yaml").write_text(
        'image: "r8.im/someone/gpu-model"\n'
        'build:\n  gpu: true\n  python_version: "3.11"\n'
        'predict: "predict.py:Predictor"\nconcurrency:\n  max: 4\n'
    )
    (tmp_path / "predict.py").write_text(
        "from cog import BasePredictor\n\nclass Predictor(BasePredictor):\n"
        "    async def predict(self) -> str:\n        return 'hi'\n"
    )
    return tmp_path


def container_of(deployment: dict) -> dict:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def env_of(deployment: dict) -> dict[str, dict]:
    return {item["name"]: item for item in container_of(deployment)["env"]}


@pytest.mark.parametrize("mode", MODES)
def test_every_manifest_validates(mode, tmp_path):
    documents = manifests(*MODES[mode], cwd=tmp_path)
    for document in documents:
        validate(document)
    kinds = {doc["kind"] for doc in documents}
    expected = {
        "fixed": {"Deployment", "Service"},
        "hpa": {"Deployment", "Service", "HorizontalPodAutoscaler"},
        "queue": {"Deployment", "ScaledObject"},
        "queue-auth": {"Secret", "Deployment", "ScaledObject"},
    }[mode]
    assert kinds == expected


def test_the_validators_refuse_what_kubernetes_would(tmp_path):
    kinds = by_kind(manifests(*MODES["queue-auth"], cwd=tmp_path))
    misspelt = copy.deepcopy(kinds["Deployment"])
    container_of(misspelt)["livenesProbe"] = container_of(misspelt).pop("livenessProbe")
    with pytest.raises(ValidationError):
        validate(misspelt)
    number = copy.deepcopy(kinds["ScaledObject"])
    number["spec"]["triggers"][0]["metadata"]["pendingEntriesCount"] = 4  # must be a string
    with pytest.raises(jsonschema.ValidationError):
        validate(number)
    unknown = copy.deepcopy(kinds["ScaledObject"])
    unknown["spec"]["minReplicas"] = 0  # the HPA's word, not KEDA's
    with pytest.raises(jsonschema.ValidationError):
        validate(unknown)


def test_names_and_labels_come_from_the_image_and_agree(tmp_path):
    documents = manifests(*MODES["hpa"], cwd=tmp_path)
    kinds = by_kind(documents)
    assert {doc["metadata"]["name"] for doc in documents} == {"my-model"}
    deployment = kinds["Deployment"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert kinds["Service"]["spec"]["selector"] == selector
    for document in documents:
        assert selector.items() <= document["metadata"]["labels"].items()
    assert kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == "my-model"
    assert "replicas" not in deployment["spec"]  # the HPA owns the count
    pod = deployment["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    named = by_kind(manifests("some/image", "--name", "front", cwd=tmp_path))
    assert named["Service"]["spec"]["selector"] == {"app.kubernetes.io/name": "front"}


def test_a_gpu_model_asks_for_a_gpu_and_its_slots_size_the_queue_work(gpu_project):
    kinds = by_kind(manifests("--queue", "jobs", "--redis-url", "redis://r:6379", cwd=gpu_project))
    deployment = kinds["Deployment"]
    assert container_of(deployment)["image"] == "r8.im/someone/gpu-model"
    assert container_of(deployment)["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    triggers = kinds["ScaledObject"]["spec"]["triggers"]
    assert [t["metadata"].get("pendingEntriesCount") for t in triggers] == ["4", None]
    assert [t["metadata"].get("lagCount") for t in triggers] == [None, "4"]
    two = by_kind(manifests("--gpus", "2", cwd=gpu_project))
    assert container_of(two["Deployment"])["resources"]["limits"] == {"nvidia.com/gpu": "2"}


def test_a_cpu_model_asks_for_no_gpu(tmp_path):
    (tmp_path / "cog.yaml").write_text('build:\n  python_version: "3.11"\n')
    deployment = by_kind(manifests("cpu-model", cwd=tmp_path))["Deployment"]
    assert "resources" not in container_of(deployment)
    assert deployment["spec"]["replicas"] == 1
    three = by_kind(manifests("cpu-model", "--replicas", "3", cwd=tmp_path))["Deployment"]
    assert three["spec"]["replicas"] == 3
    assert "imagePullSecrets" not in three["spec"]["template"]["spec"]


def test_queue_mode_scales_on_the_consumer_group_and_passes_the_queue_to_the_server(tmp_path):
    kinds = by_kind(manifests(*MODES["queue"], cwd=tmp_path))
    scaled = kinds["ScaledObject"]["spec"]
    assert scaled["minReplicaCount"] == 0
    assert scaled["scaleTargetRef"]["name"] == kinds["Deployment"]["metadata"]["name"]
    for trigger in scaled["triggers"]:
        assert trigger["type"] == "redis-streams"
        metadata = trigger["metadata"]
        assert (metadata["address"], metadata["stream"], metadata["consumerGroup"]) == (
            "redis:6379",
            "jobs",
            "jobs",
        )
    env = env_of(kinds["Deployment"])
    assert env["COG_QUEUE"]["value"] == "jobs"
    assert env["COG_REDIS_URL"]["value"] == "redis://redis:6379/0"
    assert "replicas" not in kinds["Deployment"]["spec"]  # KEDA owns the count


def test_redis_credentials_live_in_a_secret_that_the_server_and_keda_read(tmp_path):
    kinds = by_kind(manifests(*MODES["queue-auth"], cwd=tmp_path))
    secret = kinds["Secret"]
    assert secret["stringData"]["url"] == "rediss://worker:s3cret@redis.example:6380/3"
    assert secret["stringData"]["password"] == "s3cret"
    deployment = kinds["Deployment"]
    env = env_of(deployment)
    assert "s3cret" not in str(deployment) and "s3cret" not in str(kinds["ScaledObject"])
    reference = env["COG_REDIS_URL"]["valueFrom"]["secretKeyRef"]
    assert reference == {"name": secret["metadata"]["name"], "key": "url"}
    metadata = kinds["ScaledObject"]["spec"]["triggers"][0]["metadata"]
    assert metadata["address"] == "redis.example:6380"
    assert (metadata["databaseIndex"], metadata["enableTLS"]) == ("3", "true")
    assert env[metadata["passwordFromEnv"]]["valueFrom"]["secretKeyRef"]["key"] == "password"
    assert env[metadata["usernameFromEnv"]]["valueFrom"]["secretKeyRef"]["key"] == "username"


@pytest.mark.parametrize(
    ("grace", "flag"), [("30", ()), ("7.5", ()), ("30", ("--shutdown-grace", "100"))]
)
@pytest.mark.parametrize("mode", ["fixed", "queue"])
def test_termination_grace_outlasts_the_servers_own_shutdown(tmp_path, mode, grace, flag):
    env = {"PYCOG_SHUTDOWN_GRACE": grace}
    deployment = by_kind(manifests(*MODES[mode], *flag, cwd=tmp_path, env=env))["Deployment"]
    seconds = float(flag[1]) if flag else float(grace)
    pod = deployment["spec"]["template"]["spec"]
    assert float(env_of(deployment)["PYCOG_SHUTDOWN_GRACE"]["value"]) == seconds
    container = container_of(deployment)
    budget = 2 * seconds + 5
    if mode == "fixed":  # the preStop drain comes out of the same grace period
        command = container["lifecycle"]["preStop"]["exec"]["command"]
        options = dict(zip(command[4::2], command[5::2], strict=True))
        budget += float(options["--timeout"]) + float(options["--settle"])
    else:
        assert "lifecycle" not in container
        budget += seconds  # a queue worker lets what runs finish for a grace before canceling
    assert pod["terminationGracePeriodSeconds"] > budget


def test_the_startup_probe_allows_the_setup_time_asked_for(tmp_path):
    container = container_of(
        by_kind(manifests("m", "--startup-timeout", "3600", cwd=tmp_path))["Deployment"]
    )
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 3600
    assert (
        container["livenessProbe"]["failureThreshold"] * container["livenessProbe"]["periodSeconds"]
        < 3600
    )


def test_user_env_is_added_and_wins(tmp_path):
    deployment = by_kind(manifests("m", "-e", "HF_HOME=/cache", "-e", "PORT=5000", cwd=tmp_path))
    env = container_of(deployment["Deployment"])["env"]
    assert [item["name"] for item in env].count("PORT") == 1
    assert {"name": "HF_HOME", "value": "/cache"} in env


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("m", "--queue", "jobs"), "--redis-url"),
        (("m", "--redis-url", "redis://r"), "--queue"),
        (("m", "--queue", "jobs", "--redis-url", "http://r"), "redis://"),
        (("m", "--min", "0", "--max", "3"), "--queue"),
        (("m", "--min", "5", "--max", "3"), "above --max"),
        (("m", "--replicas", "3", "--max", "5"), "--min"),
        (("m", "--name", "Bad_Name"), "--name"),
        (("m", "--port", "0"), "--port"),
        (("m", "--gpus", "-1"), "--gpus"),
        (("m", "-e", "NOVALUE"), "NAME=value"),
        ((), "IMAGE"),
    ],
)
def test_impossible_requests_say_what_to_change(tmp_path, args, words):
    result = cog_kubernetes(*args, cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert words in result.stderr
