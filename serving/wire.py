"""TF Serving's JSON forms of its status and metadata messages, shared by the REST server and the gRPC
client so that both protocols hand a caller the same dictionaries."""
from google.protobuf import json_format


def _to_dict(message) -> dict:
  return json_format.MessageToDict(message, preserving_proto_field_name=True, including_default_value_fields=True)


def status_json(response) -> dict:
  """GetModelStatusResponse -> {"model_version_status": [{"version", "state", "status": {...}}]}."""
  return _to_dict(response)


def metadata_json(response) -> dict:
  """GetModelMetadataResponse -> {"model_spec": {...}, "metadata": {"signature_def": {"signature_def": ...}}},
  the Any unpacked into a SignatureDefMap as TF Serving's REST API prints it."""
  from tensorflow_serving.apis import get_model_metadata_pb2  # pylint: disable=g-import-not-at-top
  metadata = {}
  for field, packed in response.metadata.items():
    signature_defs = get_model_metadata_pb2.SignatureDefMap()
    packed.Unpack(signature_defs)
    metadata[field] = _to_dict(signature_defs)
  return {"model_spec": _to_dict(response.model_spec), "metadata": metadata}
