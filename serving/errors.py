"""One error type for both front ends: a canonical status code (gRPC's names) and a message.

HTTP_STATUS is TF Serving's table (`ToHTTPStatusCode` in tensorflow_serving/util/net_http): the REST front
end answers a code with its HTTP status, the gRPC front end aborts with the code itself, the message is the
same text. `code_of_http_status` reads it back (the REST client): where several codes share one HTTP
status, the first of them in this table is the one read back.
"""

OK = "OK"
CANCELLED = "CANCELLED"
UNKNOWN = "UNKNOWN"
INVALID_ARGUMENT = "INVALID_ARGUMENT"
DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
NOT_FOUND = "NOT_FOUND"
ALREADY_EXISTS = "ALREADY_EXISTS"
PERMISSION_DENIED = "PERMISSION_DENIED"
RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
FAILED_PRECONDITION = "FAILED_PRECONDITION"
ABORTED = "ABORTED"
OUT_OF_RANGE = "OUT_OF_RANGE"
UNIMPLEMENTED = "UNIMPLEMENTED"
INTERNAL = "INTERNAL"
UNAVAILABLE = "UNAVAILABLE"
DATA_LOSS = "DATA_LOSS"
UNAUTHENTICATED = "UNAUTHENTICATED"

HTTP_STATUS = {
    OK: 200, CANCELLED: 499, INTERNAL: 500, UNKNOWN: 500, DATA_LOSS: 500, INVALID_ARGUMENT: 400,
    FAILED_PRECONDITION: 400, OUT_OF_RANGE: 400, DEADLINE_EXCEEDED: 504, NOT_FOUND: 404, ABORTED: 409,
    ALREADY_EXISTS: 409, PERMISSION_DENIED: 403, RESOURCE_EXHAUSTED: 429, UNIMPLEMENTED: 501,
    UNAVAILABLE: 503, UNAUTHENTICATED: 401,
}
CODES = tuple(HTTP_STATUS)
_CODE_OF_HTTP_STATUS = {}
for _code, _status in HTTP_STATUS.items():
  _CODE_OF_HTTP_STATUS.setdefault(_status, _code)
_CODE_OF_HTTP_STATUS[413] = RESOURCE_EXHAUSTED  # a body over the size limit, refused before it is read


def code_of_http_status(status: int) -> str:
  """The code a REST answer's HTTP status stands for (UNKNOWN for one outside the table)."""
  return _CODE_OF_HTTP_STATUS.get(status, UNKNOWN)


class ServingError(Exception):
  """A request the server refuses or could not serve; the server itself carries on."""

  def __init__(self, code: str, message: str, http_status: int = None):
    super().__init__(message)
    self.code = code
    self.message = message
    self.http_status = http_status or HTTP_STATUS.get(code, 500)


def invalid(message: str) -> ServingError:
  return ServingError(INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
  return ServingError(NOT_FOUND, message)
