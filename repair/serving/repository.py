"""The deploy repository: the Triton model repository the server actually serves, built from the
checked-in template `triton_models/code_repair/` (config + `1/model.py`, no weights).

It lives in the object store under `triton_repository/` (local: `.data/store/triton_repository`;
production: `gs://<bucket>/<prefix>/triton_repository`, which the remote server is started on), so
the checked-in repository stays clean:

```
triton_repository/code_repair/config.pbtxt              version_policy: the served version
triton_repository/code_repair/<N>/model.py              N = the registry version models/code_repair/v<N>
triton_repository/code_repair/<N>/checkpoint/...        the Hugging Face checkpoint
triton_repository/code_repair_staging/...               a candidate while it is smoke-tested
```

The served model's config names its versions explicitly (`version_policy: { specific: ... }`), so
which version serves is a fact written in the repository (and in the registry's serving record),
a newer folder never starts serving by itself, and rolling back is loading the config of an older one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from repair.object_store import LocalObjectStore, ObjectStore

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_REPOSITORY = PROJECT_ROOT / "triton_models"
MODEL_NAME = "code_repair"
STAGING_SUFFIX = "_staging"
REPOSITORY_PREFIX = "triton_repository"
CHECKPOINT_DIR = "checkpoint"
INSTANCE_KINDS = ("KIND_CPU", "KIND_GPU")


@dataclass(frozen=True)
class ServingConfig:
    """What the deployment sets in the rendered `config.pbtxt`."""

    instance_kind: str = "KIND_CPU"
    instance_count: int = 1
    max_batch_size: int = 16
    dynamic_batching: bool = True
    max_queue_delay_us: int = 5000
    max_new_tokens: int | None = None  # None: the template's value
    # The queue in front of the model: beyond `max_queue_size` waiting requests, or after
    # `queue_timeout_us` in the queue, a request is rejected at once (UNAVAILABLE) rather than hung.
    max_queue_size: int = 64
    queue_timeout_us: int = 120_000_000

    def __post_init__(self) -> None:
        if self.instance_kind not in INSTANCE_KINDS:
            raise ValueError(f"instance_kind {self.instance_kind!r}: use one of {', '.join(INSTANCE_KINDS)}")
        if (
            self.instance_count < 1
            or self.max_batch_size < 1
            or self.max_queue_delay_us < 0
            or self.max_queue_size < 1
            or self.queue_timeout_us < 1
        ):
            raise ValueError(f"invalid serving config {self}")


DEFAULT_SERVING = ServingConfig()


def template_config(model_name: str = MODEL_NAME) -> str:
    return (TEMPLATE_REPOSITORY / model_name / "config.pbtxt").read_text()


def template_model_py(model_name: str = MODEL_NAME) -> bytes:
    return (TEMPLATE_REPOSITORY / model_name / "1" / "model.py").read_bytes()


def parse_config(text: str):
    """A `config.pbtxt` as Triton's `ModelConfig` message."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(text, model_config_pb2.ModelConfig())


def config_text(config) -> str:
    from google.protobuf import text_format

    return text_format.MessageToString(config)


def config_json(text: str) -> str:
    """A `config.pbtxt` as the JSON a `load_model(config=...)` call carries."""
    from google.protobuf import json_format

    return json_format.MessageToJson(parse_config(text), preserving_proto_field_name=True)


def render_config(
    template: str, *, name: str, versions: list[int] | None, serving: ServingConfig = DEFAULT_SERVING
) -> str:
    """The template with the model's name, batching and its queue policy, instances and (if given)
    the served versions, written with protobuf `text_format`."""
    from tritonclient.grpc import model_config_pb2

    config = parse_config(template)
    config.name = name
    config.max_batch_size = serving.max_batch_size
    config.ClearField("dynamic_batching")
    if serving.dynamic_batching:
        batching = config.dynamic_batching
        batching.max_queue_delay_microseconds = serving.max_queue_delay_us
        policy = batching.default_queue_policy
        policy.max_queue_size = serving.max_queue_size
        policy.default_timeout_microseconds = serving.queue_timeout_us
        policy.timeout_action = model_config_pb2.ModelQueuePolicy.REJECT
        policy.allow_timeout_override = False
    del config.instance_group[:]
    config.instance_group.add(
        count=serving.instance_count,
        kind=model_config_pb2.ModelInstanceGroup.Kind.Value(serving.instance_kind),
    )
    if serving.max_new_tokens is not None:
        config.parameters["max_new_tokens"].string_value = str(serving.max_new_tokens)
    config.ClearField("version_policy")
    if versions:
        config.version_policy.specific.versions.extend(sorted(versions))
    return config_text(config)


class DeployRepository:
    """Reads and writes the deploy repository in an object store (see the module doc)."""

    def __init__(self, store: ObjectStore, prefix: str = REPOSITORY_PREFIX, model_name: str = MODEL_NAME):
        self.store = store
        self.prefix = prefix.strip("/")
        self.model_name = model_name

    @property
    def staging_name(self) -> str:
        return self.model_name + STAGING_SUFFIX

    def key(self, *parts: object) -> str:
        return "/".join([self.prefix, *(str(p) for p in parts)])

    def local_path(self) -> Path:
        """The folder a local server is started on (only for a store on local disk)."""
        if not isinstance(self.store, LocalObjectStore):
            raise TypeError(f"the deploy repository {self.store.uri(self.prefix)} is not on local disk")
        path = self.store.root / self.prefix
        path.mkdir(parents=True, exist_ok=True)
        return path

    def versions(self, model_name: str | None = None) -> list[int]:
        """Version folders present for the model (whether loaded or not)."""
        base = self.key(model_name or self.model_name) + "/"
        found = set()
        for key in self.store.list(base):
            head = key[len(base) :].split("/", 1)[0]
            if head.isdigit() and key.endswith("/model.py"):
                found.add(int(head))
        return sorted(found)

    def write_version(
        self, version: int, checkpoint_dir: str | Path, model_name: str | None = None
    ) -> list[str]:
        """Copies model.py and the checkpoint into `<model>/<version>/`; returns the keys written.
        model.py goes last: a version folder counts as present only once it is complete."""
        checkpoint_dir = Path(checkpoint_dir)
        if not (checkpoint_dir / "config.json").is_file():
            raise FileNotFoundError(f"{checkpoint_dir} is not a Hugging Face checkpoint (no config.json)")
        name = model_name or self.model_name
        keys = self.store.upload_dir(checkpoint_dir, self.key(name, version, CHECKPOINT_DIR))
        model_py = self.key(name, version, "model.py")
        self.store.write_bytes(model_py, template_model_py(self.model_name))
        return [*keys, model_py]

    def copy_version(self, version: int, source_model: str, target_model: str) -> None:
        source = self.key(source_model, version) + "/"
        for key in self.store.list(source):
            self.store.write_bytes(
                self.key(target_model, version, key[len(source) :]), self.store.read_bytes(key)
            )

    def delete_model_files(self, model_name: str, version: int | None = None) -> None:
        base = self.key(model_name) + "/" if version is None else self.key(model_name, version) + "/"
        for key in self.store.list(base):
            self.store.delete(key)

    def write_config(self, model_name: str, versions: list[int] | None, serving: ServingConfig) -> str:
        key = self.key(model_name, "config.pbtxt")
        text = render_config(
            template_config(self.model_name), name=model_name, versions=versions, serving=serving
        )
        self.store.write_text(key, text)
        return key

    def served_versions(self) -> list[int]:
        """The versions the served model's config names (empty: none deployed yet)."""
        key = self.key(self.model_name, "config.pbtxt")
        if not self.store.exists(key):
            return []
        return sorted(parse_config(self.store.read_text(key)).version_policy.specific.versions)
