"""`fdp web` against the trained models shipped in models/ (the layout the pipeline's Pusher writes) served by
`fdp serve`'s server: the JSON API (Flask's test client) and the page itself in a real headless Chromium
driven by Selenium."""
import io
import json
import pathlib
import tempfile
import threading

import pytest
import skimage.data
from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug import serving as werkzeug_serving

from application import face_detection
from application.web import app as app_lib
from serving.client import model_client as client_lib
from tests.conftest import SHIPPED_MODELS
from tests.test_face_detection import encode
import vocabulary

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1100,1000")
FACE_FIELDS = {"box", "score", "age_bucket", "age_bucket_prob", "gender", "gender_prob", "age", "warnings"}
PAGE_WAIT_SECONDS = 60
ASTRONAUT = Image.fromarray(skimage.data.astronaut())  # public domain (NASA)


@pytest.fixture(scope="module")
def model_server():
  from serving.server import model_config  # pylint: disable=g-import-not-at-top
  from serving.server import model_server as server_lib  # pylint: disable=g-import-not-at-top
  served_config = model_config.build(None, str(SHIPPED_MODELS))
  server = server_lib.ModelServer(served_config, rest_port=0, grpc_port=0, host="127.0.0.1").start()
  yield server
  server.stop()


def make_app(server: str, protocol: str = client_lib.REST):
  client = client_lib.connect(server, protocol, timeout=30)
  return app_lib.create_app(app_lib.WebConfig(server=server), app_lib.client_predictor(client))


@pytest.fixture(scope="module", params=[client_lib.REST, client_lib.GRPC])
def api(request, model_server):
  port = model_server.rest_port if request.param == client_lib.REST else model_server.grpc_port
  return make_app(f"127.0.0.1:{port}", request.param).test_client()


def post_photo(api_client, data: bytes, name: str = "photo.jpg"):
  return api_client.post("/api/predict", data={"photo": (io.BytesIO(data), name)},
                         content_type="multipart/form-data")


def test_the_api_answers_one_face_with_its_predictions(api):
  response = post_photo(api, encode(ASTRONAUT))
  assert response.status_code == 200, response.json
  answer = response.json
  assert (answer["width"], answer["height"]) == ASTRONAUT.size
  [face] = answer["faces"]
  assert set(face) == FACE_FIELDS
  assert face["age_bucket"] in vocabulary.AGE_BUCKETS and face["gender"] in vocabulary.GENDERS
  assert 0.2 <= face["age_bucket_prob"] <= 1 and 0.5 <= face["gender_prob"] <= 1 and 0 < face["age"] < 125
  [detected] = face_detection.detect_faces(encode(ASTRONAUT))
  assert face["box"] == list(detected.box)


def test_the_api_finds_every_face_of_a_group(api, utkface_dir):
  canvas = Image.new("RGB", (900, 400), (90, 90, 90))
  for index, corner in enumerate(((20, 60), (330, 100), (620, 40))):
    path = sorted(utkface_dir.iterdir())[1000 + 4000 * index]
    canvas.paste(Image.open(path).convert("RGB").resize((240, 240)), corner)
  answer = post_photo(api, encode(canvas, "PNG"), "group.png").json
  assert len(answer["faces"]) == 3
  assert sorted(face["box"][0] // 300 for face in answer["faces"]) == [0, 1, 2]  # one face per third


def test_a_photo_without_a_face_gets_a_message_not_an_error(api):
  response = post_photo(api, encode(Image.fromarray(skimage.data.coffee())))
  assert response.status_code == 200
  assert response.json["faces"] == [] and response.json["message"] == app_lib.NO_FACE_MESSAGE


@pytest.mark.parametrize("data, status, message", [
    (b"name,age\nada,36\n", 400, "not a photo"),
    (encode(ASTRONAUT)[:5000], 400, "could not be read"),
    (b"", 400, "empty"),
    (b"\xff\xd8\xff" + bytes(app_lib.MAX_UPLOAD_BYTES), 413, "too large"),
])
def test_bad_uploads_get_a_friendly_message(api, data, status, message):
  response = post_photo(api, data, "face.jpg")  # the name says JPEG; only the bytes count
  assert response.status_code == status
  assert message in response.json["error"]


def test_large_uploads_stay_in_memory(api, monkeypatch):
  from werkzeug.wrappers import request as werkzeug_request  # pylint: disable=g-import-not-at-top

  def no_temporary_files(*args, **kwargs):
    raise AssertionError("an upload was spooled to a temporary file")

  monkeypatch.setattr(werkzeug_request, "default_stream_factory", no_temporary_files)
  monkeypatch.setattr(tempfile, "SpooledTemporaryFile", no_temporary_files)
  big_photo = encode(ASTRONAUT.resize((1600, 1600)), "PNG")
  assert len(big_photo) > 1024 * 1024
  assert len(post_photo(api, big_photo, "big.png").json["faces"]) == 1


def test_a_model_server_that_is_down_gets_a_friendly_message(unused_port):
  for protocol in client_lib.PROTOCOLS:
    response = post_photo(make_app(f"127.0.0.1:{unused_port}", protocol).test_client(), encode(ASTRONAUT))
    assert response.status_code == 503
    assert "not reachable" in response.json["error"]


def test_the_page_sends_security_headers_and_has_no_debugger():
  app = make_app("127.0.0.1:1")
  response = app.test_client().get("/")
  assert response.status_code == 200 and b'id="drop-zone"' in response.data
  assert response.headers["X-Content-Type-Options"] == "nosniff"
  assert "default-src 'self'" in response.headers["Content-Security-Policy"]
  assert not app.debug


@pytest.fixture
def unused_port() -> int:
  server = werkzeug_serving.make_server("127.0.0.1", 0, lambda environ, start_response: [])
  port = server.server_port
  server.server_close()
  return port


# ---- `fdp predict` uses the same detector (default), or the whole image with --no-detect ----


def test_fdp_predict_finds_each_face_unless_told_the_image_is_one_face(model_server, utkface_dir, tmp_path,
                                                                        capsys):
  from cli import main as cli  # pylint: disable=g-import-not-at-top
  names = sorted(utkface_dir.iterdir())
  group = Image.new("RGB", (640, 300), (90, 90, 90))
  for slot, index in enumerate((2000, 12000)):
    group.paste(Image.open(names[index]).convert("RGB").resize((220, 220)), (40 + 340 * slot, 40))
  group.save(tmp_path / "two_faces.jpg")
  server = ["--server", f"127.0.0.1:{model_server.grpc_port}", "--protocol", "grpc"]
  for flags, boxes in (([], 2), (["--no-detect"], 1)):
    capsys.readouterr()
    assert cli.main(["predict", str(tmp_path / "two_faces.jpg"), *server, "--json", *flags]) == 0
    record = json.loads(capsys.readouterr().out)
    assert len(record["faces"]) == boxes and all(set(face) == FACE_FIELDS for face in record["faces"])
  assert record["faces"][0]["box"] == [0, 0, 640, 300]
  assert cli.main(["predict", str(tmp_path / "two_faces.jpg"), *server]) == 0
  human = capsys.readouterr().out
  assert human.count("two_faces.jpg: face ") == 2, human


# ---- the page in a real browser ----


@pytest.fixture(scope="module")
def page_url(model_server):
  app = make_app(f"127.0.0.1:{model_server.rest_port}")
  server = werkzeug_serving.make_server("127.0.0.1", 0, app, threaded=True)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  yield f"http://127.0.0.1:{server.server_port}/"
  server.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for flag in CHROMIUM_FLAGS:
    options.add_argument(flag)
  options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
  driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
  yield driver
  driver.quit()


def wait_for(browser, condition):
  return WebDriverWait(browser, PAGE_WAIT_SECONDS).until(condition)


def upload_with_the_file_picker(browser, page_url, path: pathlib.Path):
  browser.get(page_url)
  browser.find_element(By.ID, "photo-input").send_keys(str(path))


def drop_onto_the_drop_zone(browser, page_url, path: pathlib.Path):
  """A real file dropped on the zone: Selenium cannot drag from the desktop, so the page receives a
  `drop` event whose DataTransfer holds the file, as a browser builds it."""
  browser.get(page_url)
  browser.execute_script("const input = document.createElement('input');"
                         "input.type = 'file'; input.id = 'drag-source'; document.body.appendChild(input);")
  browser.find_element(By.ID, "drag-source").send_keys(str(path))
  browser.execute_script("const transfer = new DataTransfer();"
                         "transfer.items.add(document.getElementById('drag-source').files[0]);"
                         "document.getElementById('drop-zone').dispatchEvent("
                         "  new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));")


def assert_one_labelled_box(browser, expected_box, photo_size):
  boxes = wait_for(browser, expected_conditions.presence_of_all_elements_located((By.CSS_SELECTOR, ".face-box")))
  assert len(boxes) == 1
  label = boxes[0].find_element(By.CLASS_NAME, "face-label").text
  assert any(bucket in label for bucket in vocabulary.AGE_BUCKETS) and any(g in label for g in vocabulary.GENDERS)
  summary = browser.find_element(By.CSS_SELECTOR, "#face-list li").text
  assert "age " in summary and "%" in summary and "years" in summary
  assert browser.find_element(By.ID, "status").text == "1 face found."
  photo = browser.find_element(By.ID, "photo").rect
  box = boxes[0].rect
  scale = photo["width"] / photo_size[0]
  x, y, w, h = expected_box
  assert abs((box["x"] - photo["x"]) - x * scale) < 3 and abs((box["y"] - photo["y"]) - y * scale) < 3
  assert abs(box["width"] - w * scale) < 3 and abs(box["height"] - h * scale) < 3


def test_a_face_photo_uploaded_in_the_browser_comes_back_boxed_and_labelled(browser, page_url, tmp_path,
                                                                            artifacts_dir):
  path = tmp_path / "astronaut.jpg"
  path.write_bytes(encode(ASTRONAUT))
  upload_with_the_file_picker(browser, page_url, path)
  [detected] = face_detection.detect_faces(path.read_bytes())
  assert_one_labelled_box(browser, detected.box, ASTRONAUT.size)
  assert browser.save_screenshot(str(artifacts_dir / "web_result_astronaut.png"))


def test_a_real_face_dropped_on_the_page_comes_back_boxed_and_labelled(browser, page_url, utkface_dir, tmp_path):
  path = tmp_path / "face.jpg"
  face_image = Image.open(sorted(utkface_dir.iterdir())[4242]).convert("RGB")
  photo = Image.new("RGB", (400, 400), (200, 200, 200))
  photo.paste(face_image, (100, 100))
  photo.save(path)
  drop_onto_the_drop_zone(browser, page_url, path)
  [detected] = face_detection.detect_faces(path.read_bytes())
  assert_one_labelled_box(browser, detected.box, photo.size)


def test_a_text_file_uploaded_in_the_browser_gets_an_error_message(browser, page_url, tmp_path, artifacts_dir):
  path = tmp_path / "notes.txt"
  path.write_text("not a photo at all\n")
  upload_with_the_file_picker(browser, page_url, path)
  status = wait_for(browser, expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#status.error")))
  assert "not a photo" in status.text
  assert not browser.find_elements(By.CSS_SELECTOR, ".face-box")
  assert not browser.find_element(By.ID, "result").is_displayed()
  browser.save_screenshot(str(artifacts_dir / "web_error_text_file.png"))
