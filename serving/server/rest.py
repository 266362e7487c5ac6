"""TF Serving's REST API (port 8501) as a WSGI app over the serving core.

  GET  /v1/models/{name}[/versions/{v}|/labels/{l}]            model_version_status
  GET  /v1/models/{name}[/versions/{v}|/labels/{l}]/metadata   signature defs
  POST /v1/models/{name}[/versions/{v}|/labels/{l}]:predict    {"instances": [...]} or {"inputs": ...}
  POST /v1/models/{name}[/versions/{v}|/labels/{l}]:classify   {"examples": [{feature: value}], "context"?}
  POST /v1/models/{name}[/versions/{v}|/labels/{l}]:regress    the same; {"results": [...]}
  GET  /monitoring/prometheus/metrics                           Prometheus text

Binary values travel as {"b64": "<standard base64>"}; errors come back as {"error": "..."} with the HTTP
status TF Serving uses for the error code.
"""
import base64
import binascii
import json
import re
from typing import Callable, Optional

import numpy as np
from werkzeug.wrappers import Request, Response

from serving import defaults
from serving import errors
from serving import wire
from serving.server import core as core_lib
from serving.server import json_examples
from serving.server.settings import PROMETHEUS_PATH
from serving.server.deadlines import Deadline
from serving.server.registry import ModelSpec

_MODEL_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)"
                         r"(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
                         r"(?P<tail>/metadata|:[A-Za-z]+)?$")
PROTOCOL = defaults.REST
MAX_NESTING = 64  # JSON arrays/objects deeper than this are refused (a signature's tensors have a few dims)


def _json_response(body, status: int = 200) -> Response:
  return Response(json.dumps(body), status=status, mimetype="application/json")


def _too_deep() -> errors.ServingError:
  return errors.invalid(f"The request's JSON is nested too deeply: the limit is {MAX_NESTING} levels")


def _decode_binary(value, depth: int = 0):
  """{"b64": "..."} -> bytes, anywhere in the JSON value (at most MAX_NESTING levels deep)."""
  if depth > MAX_NESTING:
    raise _too_deep()
  if isinstance(value, dict):
    if set(value) == {"b64"}:
      if not isinstance(value["b64"], str):
        raise errors.invalid("A {\"b64\": ...} value must hold a base64 string")
      try:
        return base64.b64decode(value["b64"], validate=True)
      except (binascii.Error, ValueError) as e:
        raise errors.invalid(f"Bad base64 in a {{\"b64\": ...}} value: {e}") from None
    return {key: _decode_binary(item, depth + 1) for key, item in value.items()}
  if isinstance(value, list):
    return [_decode_binary(item, depth + 1) for item in value]
  return value


def _jsonable(array: np.ndarray):
  if array.dtype == object:
    return [_jsonable(item) if isinstance(item, np.ndarray) else {"b64": base64.b64encode(item).decode()}
            for item in array]
  return array.tolist()


def _rows_to_columns(instances: list):
  """The row format: a list of values (one-input signature) or of {input name: value} dicts."""
  if not instances:
    raise errors.invalid("'instances' is empty")
  named = [isinstance(row, dict) for row in instances]
  if not any(named):
    return instances
  if not all(named) or len({frozenset(row) for row in instances}) != 1:
    raise errors.invalid("Every instance must name the same inputs")
  return {name: [row[name] for row in instances] for name in instances[0]}


class RestApp:
  """The WSGI application; `max_request_bytes` bounds the body read from any request, `timeout_s` how long
  a request may take (TF Serving's --rest_api_timeout_in_ms); while `is_draining()`, model status requests
  (what readiness probes ask) answer 503 UNAVAILABLE."""

  def __init__(self, core, max_request_bytes: int, metrics_path: str = PROMETHEUS_PATH,
               timeout_s: Optional[float] = None, is_draining: Callable[[], bool] = lambda: False):
    self.core = core
    self.max_request_bytes = max_request_bytes
    self.metrics_path = metrics_path
    self.timeout_s = timeout_s
    self.is_draining = is_draining

  def __call__(self, environ, start_response):
    request = Request(environ)
    try:
      response = self._dispatch(request)
    except errors.ServingError as e:
      response = _json_response({"error": e.message}, e.http_status)
    except Exception as e:  # pylint: disable=broad-except  # never let a request end the server
      response = _json_response({"error": f"{type(e).__name__}: {e}"}, 500)
    return response(environ, start_response)

  def _dispatch(self, request: Request) -> Response:
    if request.path == self.metrics_path and request.method == "GET":
      body, content_type = self.core.metrics.render()
      return Response(body, content_type=content_type)
    match = _MODEL_PATH.match(request.path)
    tail = match and match.group("tail")
    handler = {(None, "GET"): self._status, ("/metadata", "GET"): self._metadata,
               (":predict", "POST"): self._predict, (":classify", "POST"): self._classify,
               (":regress", "POST"): self._regress}.get((tail, request.method)) if match else None
    if handler is None:
      raise errors.not_found(f"Malformed request: {request.method} {request.path}")
    version = match.group("version")
    return handler(ModelSpec(match.group("name"), int(version) if version else None, match.group("label")),
                   request)

  def _status(self, spec: ModelSpec, request: Request) -> Response:
    del request
    if self.is_draining():
      raise errors.ServingError(errors.UNAVAILABLE, "The server is shutting down")
    return _json_response(wire.status_json(self.core.status(spec, protocol=PROTOCOL)))

  def _metadata(self, spec: ModelSpec, request: Request) -> Response:
    del request
    return _json_response(wire.metadata_json(self.core.metadata(spec, protocol=PROTOCOL).response))

  def _read_json(self, request: Request) -> dict:
    length = request.content_length
    if length is not None and length > self.max_request_bytes:
      raise errors.ServingError(errors.RESOURCE_EXHAUSTED, f"Request body of {length} bytes exceeds the limit "
                                f"of {self.max_request_bytes} bytes", http_status=413)
    data = request.stream.read(self.max_request_bytes + 1)
    if len(data) > self.max_request_bytes:
      raise errors.ServingError(errors.RESOURCE_EXHAUSTED, f"Request body exceeds the limit of "
                                f"{self.max_request_bytes} bytes", http_status=413)
    try:
      body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
      raise errors.invalid(f"Malformed JSON: {e}") from None
    except RecursionError:  # the parser recurses once per level
      raise _too_deep() from None
    if not isinstance(body, dict):
      raise errors.invalid("The request body must be a JSON object")
    return body

  def _deadline(self, request: Request) -> Deadline:
    return Deadline(self.timeout_s, client_gone=request.environ.get("waitress.client_disconnected"))

  @staticmethod
  def _signature_name(body: dict) -> str:
    signature_name = body.get("signature_name", "")
    if not isinstance(signature_name, str):
      raise errors.invalid("'signature_name' must be a string")
    return signature_name

  def _predict(self, spec: ModelSpec, request: Request) -> Response:
    deadline = self._deadline(request)
    body = self._read_json(request)
    if ("instances" in body) == ("inputs" in body):
      raise errors.invalid("The request must have exactly one of 'instances' (row format) or 'inputs' "
                           "(columnar format)")
    if "instances" in body:
      if not isinstance(body["instances"], list):
        raise errors.invalid("'instances' must be a list")
      inputs = _rows_to_columns(_decode_binary(body["instances"]))
    else:
      inputs = _decode_binary(body["inputs"])
    result = self.core.predict(spec, self._signature_name(body), inputs, deadline=deadline, protocol=PROTOCOL)
    outputs = result.outputs
    if "instances" in body:
      if len(outputs) == 1:
        predictions = _jsonable(next(iter(outputs.values())))
      else:
        rows = len(next(iter(outputs.values())))
        predictions = [{name: _jsonable(value[i:i + 1])[0] for name, value in outputs.items()} for i in range(rows)]
      return _json_response({"predictions": predictions})
    return _json_response({"outputs": _jsonable(next(iter(outputs.values()))) if len(outputs) == 1
                           else {name: _jsonable(value) for name, value in outputs.items()}})

  def _examples(self, request: Request):
    """(deadline, signature name, serialized tf.Examples) of a :classify or :regress body."""
    deadline = self._deadline(request)
    body = self._read_json(request)
    return deadline, self._signature_name(body), json_examples.serialized_examples(_decode_binary(body))

  def _classify(self, spec: ModelSpec, request: Request) -> Response:
    deadline, signature_name, examples = self._examples(request)
    outputs = self.core.classify(spec, signature_name, examples, deadline=deadline, protocol=PROTOCOL).outputs
    results = [[[label] if score is None else [label, score] for label, score in row]
               for row in core_lib.classifications(outputs)]
    return _json_response({"results": results})

  def _regress(self, spec: ModelSpec, request: Request) -> Response:
    deadline, signature_name, examples = self._examples(request)
    values = self.core.regress(spec, signature_name, examples, deadline=deadline, protocol=PROTOCOL).outputs
    return _json_response({"results": [float(v) for v in values[core_lib.REGRESS_OUTPUTS]]})
