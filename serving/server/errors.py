"""One error type for both front ends: a canonical status code (gRPC's names) and a message.

The REST front end maps the code to TF Serving's HTTP status (tensorflow_serving/util/net_http/..., the
same table as `ToHTTPStatusCode`), the gRPC front end aborts with it; the message is the same text.
"""

OK = "OK"
CANCELLED = "CANCELLED"
UNKNOWN = "UNKNOWN"
INVALID_ARGUMENT = "INVALID_ARGUMENT"
DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
NOT_FOUND = "NOT_FOUND"
FAILED_PRECONDITION = "FAILED_PRECONDITION"
RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
UNIMPLEMENTED = "UNIMPLEMENTED"
INTERNAL = "INTERNAL"
UNAVAILABLE = "UNAVAILABLE"

HTTP_STATUS = {
    OK: 200, CANCELLED: 499, UNKNOWN: 500, INVALID_ARGUMENT: 400, DEADLINE_EXCEEDED: 504, NOT_FOUND: 404,
    FAILED_PRECONDITION: 400, RESOURCE_EXHAUSTED: 429, UNIMPLEMENTED: 501, INTERNAL: 500, UNAVAILABLE: 503,
}


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
