"""Reading what `fdp serve` is told to serve: TF Serving's model config file (a ModelServerConfig text
proto), or one built from a base path or a serving root; its batching and monitoring files; its
--grpc_channel_arguments. A file that does not parse fails with TF Serving's message."""
import os
from typing import Iterable, Optional

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving import errors
from serving.server import protos
from vocabulary import layout
import vocabulary

PLATFORMS = ("tensorflow", "tflite", "")  # model_platform values served (empty: tensorflow)


class ConfigError(ValueError):
  """A config file or message that cannot be served; str() is TF Serving's one-line message."""

  def __init__(self, message: str, code: str = errors.INVALID_ARGUMENT):
    super().__init__(message)
    self.code = code


def model_server_config(base_dir: str, models: Iterable[str] = vocabulary.MODELS, labels=None,
                        ) -> model_server_config_pb2.ModelServerConfig:
  """One entry per model at <base_dir>/<model>. Latest version by default; with labels
  ({model: {"stable": 3, "canary": 4}}) the policy serves exactly the labelled versions, since TF Serving
  only lets a label point at a version it has loaded."""
  labels = labels or {}
  config = model_server_config_pb2.ModelServerConfig()
  for name in models:
    entry = config.model_config_list.config.add(name=name, base_path=os.path.join(base_dir, name),
                                                model_platform="tensorflow")
    model_labels = labels.get(name, {})
    if model_labels:
      entry.model_version_policy.specific.versions.extend(sorted(set(model_labels.values())))
      for label, version in sorted(model_labels.items()):
        entry.version_labels[label] = int(version)
    else:
      entry.model_version_policy.latest.num_versions = 1
  return config


def validate(config: model_server_config_pb2.ModelServerConfig) -> model_server_config_pb2.ModelServerConfig:
  """Raises ConfigError for a config this server cannot serve (as TF Serving refuses it)."""
  which = config.WhichOneof("config")
  if which == "custom_model_config":
    raise ConfigError("custom_model_config is not served: use model_config_list", errors.UNIMPLEMENTED)
  names = set()
  for entry in config.model_config_list.config:
    if not entry.name:
      raise ConfigError("A model config entry has no name")
    if entry.name in names:
      raise ConfigError(f"Illegal to list model {entry.name} multiple times in config list")
    names.add(entry.name)
    if not entry.base_path:
      raise ConfigError(f"Model {entry.name} has no base_path")
    if entry.model_platform not in PLATFORMS:
      raise ConfigError(f"Model {entry.name}: model_platform {entry.model_platform!r} is not served "
                        f"(served: tensorflow, tflite)")
  return config


def _read_text_proto(path: str, message):
  try:
    with open(path) as f:
      text = f.read()
  except OSError as e:
    raise ConfigError(f"Could not read {path}: {e.strerror}", errors.NOT_FOUND) from None
  try:
    return text_format.Parse(text, message)
  except text_format.ParseError as e:
    raise ConfigError(f"Invalid protobuf file: '{path}': Error parsing text-format "
                      f"{message.DESCRIPTOR.full_name}: {e}") from None


def read_model_config(path: str) -> model_server_config_pb2.ModelServerConfig:
  return validate(_read_text_proto(path, model_server_config_pb2.ModelServerConfig()))


def read_batching_parameters(path: str):
  return _read_text_proto(path, protos.BatchingParameters())


def read_monitoring_config(path: str):
  return _read_text_proto(path, protos.MonitoringConfig())


def model_config_for_base_dir(base_dir: str) -> model_server_config_pb2.ModelServerConfig:
  """`--model-base-dir DIR`: every sub-folder of DIR is a model named after it (the Pusher's layout
  <serving_root>/<model>/<version>/); each serves its latest version."""
  models = layout.model_folders(base_dir)
  if not models:
    raise ConfigError(f"{base_dir} holds no model folders (expected <model>/<version>/saved_model.pb)",
                      errors.NOT_FOUND)
  return model_server_config(os.path.abspath(base_dir), models=models)


def model_config_for_base_path(name: str, base_path: str) -> model_server_config_pb2.ModelServerConfig:
  """TF Serving's `--model_base_path PATH --model_name NAME`: one model, its latest version."""
  config = model_server_config(os.path.dirname(os.path.abspath(base_path)), models=[name])
  config.model_config_list.config[0].base_path = os.path.abspath(base_path)
  return config


def build(model_config_file: Optional[str], model_base_dir: Optional[str], model_base_path: Optional[str] = None,
          model_name: str = "default") -> model_server_config_pb2.ModelServerConfig:
  """The ModelServerConfig to serve: TF Serving's model config file, or one model's base path (its
  --model_base_path + --model_name), or a serving root of model folders."""
  if model_base_path:
    return model_config_for_base_path(model_name, model_base_path)
  if model_config_file:
    return read_model_config(model_config_file)
  return model_config_for_base_dir(model_base_dir)
