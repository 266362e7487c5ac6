"""The page and its API mark what not to trust: a face too small to judge, an uncertain prediction, the
two models disagreeing (real detection on a real photo; the model answers are fixed here, so that every
case shows)."""
import io
import threading

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from werkzeug import serving as werkzeug_serving

from application import trust
from application.web import app as app_lib
from tests.test_face_detection import encode
from tests.test_web import ASTRONAUT, browser, upload_with_the_file_picker, wait_for  # pylint: disable=unused-import

# The example: a background face judged "age 40" beside bucket "75-99" at 31 %.
DISAGREEING = {"age_bucket": "75-99", "age_bucket_prob": 0.31, "gender": "male", "gender_prob": 0.93, "age": 40.0}


def make_app(min_judged_face_size: int = trust.Trust.min_face_size):
  config = app_lib.WebConfig(server="test", trust=trust.Trust(min_face_size=min_judged_face_size))
  return app_lib.create_app(config, lambda crops: [dict(DISAGREEING) for _ in crops])


def post_astronaut(app):
  return app.test_client().post("/api/predict", data={"photo": (io.BytesIO(encode(ASTRONAUT)), "a.jpg")},
                                content_type="multipart/form-data").json


def test_the_api_lists_the_warnings_of_each_face():
  [face] = post_astronaut(make_app())["faces"]
  assert face["warnings"] == [trust.AGE_BUCKET_UNCERTAIN, trust.MODELS_DISAGREE]
  assert face["age_bucket"] == "75-99" and face["age"] == 40.0  # the predictions are still there
  # The astronaut's face box is about 100 px: a minimum of 120 px marks it too small to judge.
  [face] = post_astronaut(make_app(min_judged_face_size=120))["faces"]
  assert face["warnings"][0] == trust.FACE_TOO_SMALL


@pytest.fixture(params=[trust.Trust.min_face_size, 120], ids=["judged", "too_small"])
def page(request):
  server = werkzeug_serving.make_server("127.0.0.1", 0, make_app(request.param), threaded=True)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  yield request.param, f"http://127.0.0.1:{server.server_port}/"
  server.shutdown()


def test_the_page_says_what_not_to_trust(browser, page, tmp_path, artifacts_dir):  # pylint: disable=redefined-outer-name
  min_judged, url = page
  path = tmp_path / "astronaut.jpg"
  path.write_bytes(encode(ASTRONAUT))
  upload_with_the_file_picker(browser, url, path)
  [box] = wait_for(browser, expected_conditions.presence_of_all_elements_located((By.CSS_SELECTOR, ".face-box")))
  assert "doubtful" in box.get_attribute("class").split()
  label = box.find_element(By.CLASS_NAME, "face-label").text
  notes = [note.text for note in browser.find_elements(By.CSS_SELECTOR, "#face-list .face-warnings li")]
  assert "the two models disagree: age bucket 75-99, estimated age ≈ 40 years" in notes
  assert "the age bucket is uncertain (31 %)" in notes
  if min_judged == 120:
    assert label == "1: too small to judge" and notes[0].startswith("too small to judge (")
  else:
    assert label == "1: 75-99 male" and not any("too small" in note for note in notes)
  browser.save_screenshot(str(artifacts_dir / f"web_warnings_{min_judged}.png"))
