"""The production HTTP server under `fdp serve`'s REST API and `fdp web` (serving/http_server.py), with real
sockets and a small WSGI application: slow and idle clients hold no thread and never starve a normal
request, a connection flood is queued and served, a client that hangs up mid-request harms nothing, errors
come as JSON, and stop() answers what was accepted before it closes."""
import collections
import json
import re
import socket
import threading
import time
import urllib.parse

import pytest
import requests

from serving import http_server

SLOW_CLIENTS = 400


_ENTERED = collections.defaultdict(lambda: threading.Semaphore(0))  # test id -> one release per request


def entered(test_id: str, count: int = 1) -> bool:
  """Waits until `count` /sleep requests of `test_id` are in the application."""
  return all(_ENTERED[test_id].acquire(timeout=10) for _ in range(count))


def _app(environ, start_response):
  """/sleep?s=N&id=T takes N seconds (a slow model), counted in as test T's; everything else answers at
  once; the body is echoed back."""
  length = int(environ.get("CONTENT_LENGTH") or 0)
  body = environ["wsgi.input"].read(length) if length else b""
  if environ["PATH_INFO"] == "/sleep":
    query = urllib.parse.parse_qs(environ["QUERY_STRING"])
    _ENTERED[query.get("id", [""])[0]].release()
    threading.Event().wait(float(query["s"][0]))
  start_response("200 OK", [("Content-Type", "application/json")])
  return [json.dumps({"path": environ["PATH_INFO"], "bytes": len(body)}).encode()]


@pytest.fixture
def server(request):
  options = getattr(request, "param", http_server.HttpOptions(threads=4, request_read_timeout_s=2.0,
                                                              idle_timeout_s=3.0, max_request_bytes=1024))
  server = http_server.HttpServer(_app, "127.0.0.1", 0, options).start()
  yield server
  server.stop()


def _url(server, path="/"):
  return f"http://127.0.0.1:{server.port}{path}"


def _open_slow_clients(server, count):
  """Connections that send half a request line and then nothing."""
  sockets = []
  for _ in range(count):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n")  # the headers never end
    sockets.append(s)
  return sockets


def test_slow_clients_hold_no_thread_and_do_not_starve_a_normal_request(server):
  threads_before = threading.active_count()
  sockets = _open_slow_clients(server, SLOW_CLIENTS)
  try:
    started = time.monotonic()
    response = requests.get(_url(server, "/status"), timeout=10)
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and response.json()["path"] == "/status"
    assert elapsed < 2.0, f"a normal request waited {elapsed:.2f} s behind {SLOW_CLIENTS} slow clients"
    assert threading.active_count() <= threads_before + 1  # no thread per connection
    assert server.threads() == 4 + 1  # the fixed workers and the event loop
  finally:
    for s in sockets:
      s.close()


def test_a_request_that_never_arrives_whole_is_cut_off(server):
  (slow,) = _open_slow_clients(server, 1)
  slow.settimeout(10)
  started = time.monotonic()
  assert slow.recv(1024) == b""  # closed by the server, after request_read_timeout_s (+ the sweep's second)
  assert 1.5 < time.monotonic() - started < 6
  slow.close()


def _response(sock) -> bytes:
  """One whole HTTP response read off a raw socket (headers, then Content-Length bytes of body)."""
  data = b""
  while b"\r\n\r\n" not in data:
    data += sock.recv(4096)
  head, body = data.split(b"\r\n\r\n", 1)
  length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
  while len(body) < length:
    body += sock.recv(4096)
  return head + b"\r\n\r\n" + body


def test_an_idle_keep_alive_connection_is_closed_and_a_busy_one_kept(server):
  with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
    s.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in _response(s)
    s.sendall(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive: the same connection serves again
    assert b'"/b"' in _response(s)
    started = time.monotonic()
    assert s.recv(4096) == b""  # then idle: closed after idle_timeout_s
    assert 2 < time.monotonic() - started < 7


@pytest.mark.parametrize("server", [http_server.HttpOptions(threads=2, connection_limit=20)], indirect=True)
def test_a_connection_flood_is_queued_and_served_not_crashed(server):
  flood = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(200)]
  try:
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(requests.get(_url(server, "/after"), timeout=30)))
    waiting.start()
    for s in flood:  # the flood goes away (or is closed to make room): the request is accepted and answered
      s.close()
    waiting.join(30)
    assert answers and answers[0].status_code == 200
  finally:
    for s in flood:
      s.close()
  assert requests.get(_url(server, "/still-up"), timeout=10).status_code == 200


def test_at_the_connection_limit_slow_clients_make_room_for_a_new_one():
  """60 clients that never finish their headers, against a limit of 20 and a read timeout of a minute: the
  quiet ones are closed to make room, so a new request is answered long before the timeout would free a
  slot."""
  server = http_server.HttpServer(_app, "127.0.0.1", 0, http_server.HttpOptions(
      threads=2, connection_limit=20, request_read_timeout_s=60, make_room_after_s=0.5)).start()
  slow = []
  try:
    for _ in range(60):
      s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
      s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n")
      slow.append(s)
    started = time.monotonic()
    assert requests.get(_url(server, "/new"), timeout=30).status_code == 200
    assert time.monotonic() - started < 10
  finally:
    for s in slow:
      s.close()
    server.stop()


def test_a_client_that_hangs_up_mid_request_harms_nothing(server):
  for _ in range(20):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
      s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
  with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
    s.sendall(b"GET /sleep?s=0.5 HTTP/1.1\r\nHost: x\r\n\r\n")  # hangs up while the app runs
  assert requests.post(_url(server, "/echo"), data=b"y" * 100, timeout=10).json() == {"path": "/echo", "bytes": 100}


def test_errors_before_the_application_are_json(server):
  response = requests.post(_url(server, "/big"), data=b"z" * 2048, timeout=10)
  assert response.status_code == 413 and "exceeds the limit of 1024 bytes" in response.json()["error"]
  with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
    reply = _response(s).decode()
  assert reply.startswith("HTTP/1.1 400") and '{"error": "Bad Request' in reply


def test_stop_answers_the_accepted_requests_then_refuses_new_ones():
  server = http_server.HttpServer(_app, "127.0.0.1", 0, http_server.HttpOptions(threads=4)).start()
  answers = []
  in_flight = [threading.Thread(target=lambda: answers.append(requests.get(_url(server, "/sleep?s=1&id=drain"),
                                                                         timeout=10)))
               for _ in range(3)]
  for thread in in_flight:
    thread.start()
  assert entered("drain", count=len(in_flight))  # the three are in the application
  assert server.stop(grace_s=10) is True
  for thread in in_flight:
    thread.join(10)
  assert [a.status_code for a in answers] == [200, 200, 200]
  with pytest.raises(requests.ConnectionError):
    requests.get(_url(server), timeout=5)


def test_stop_answers_the_connections_queued_in_the_kernel_and_a_request_still_arriving():
  """With the listener paused at its connection limit, requests wait in the kernel's backlog: stop() accepts
  them before closing the listener (closing would reset them), finishes reading a request that was half in,
  and closes connections that sent nothing once NEW_CONNECTION_GRACE_S has passed."""
  server = http_server.HttpServer(_app, "127.0.0.1", 0, http_server.HttpOptions(
      threads=2, connection_limit=6, make_room_after_s=600)).start()  # no connection is closed to make room
  half = socket.create_connection(("127.0.0.1", server.port), timeout=10)
  half.sendall(b"GET /half HTTP/1.1\r\nHost: x\r\n")
  silent = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(8)]
  queued = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(5)]
  try:
    for s in queued:
      s.sendall(b"GET /queued HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    queued[-1].settimeout(0.5)
    with pytest.raises(socket.timeout):  # behind the connection limit: not accepted yet
      queued[-1].recv(1)
    queued[-1].settimeout(10)
    drained = []
    stopping = threading.Thread(target=lambda: drained.append(server.stop(grace_s=10)))
    started = time.monotonic()
    stopping.start()
    assert server.draining.wait(10)
    half.sendall(b"\r\n")  # the rest of the half-sent request, after stop() began
    assert b'"/half"' in _response(half)
    for s in queued:
      assert b'"/queued"' in _response(s)
    for s in silent:
      assert s.recv(4096) == b""  # closed unanswered: they never asked anything
    stopping.join(15)
    assert drained == [True] and time.monotonic() - started < 2 * http_server.NEW_CONNECTION_GRACE_S + 3
  finally:
    for s in [half, *silent, *queued]:
      s.close()
  with pytest.raises(requests.ConnectionError):
    requests.get(_url(server), timeout=5)


def test_stop_cuts_off_what_outlasts_the_grace_period():
  server = http_server.HttpServer(_app, "127.0.0.1", 0, http_server.HttpOptions(threads=2)).start()
  threading.Thread(target=lambda: requests.get(_url(server, "/sleep?s=3&id=cut"), timeout=10), daemon=True).start()
  assert entered("cut")
  started = time.monotonic()
  assert server.stop(grace_s=0.5) is False
  assert time.monotonic() - started < 3
