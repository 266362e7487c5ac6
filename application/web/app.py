"""The Flask app: the page (GET /) and its JSON API (POST /api/predict, multipart field `photo`).

    {"width": W, "height": H, "faces": [{"box": [x, y, w, h], "score": S, "age_bucket": "25-49",
     "age_bucket_prob": P, "gender": "female", "gender_prob": P, "age": 31.2, "warnings": []}, ...]}

(the face fields of `fdp predict --json`; W x H is the photo as shown, after its EXIF rotation). Errors
answer `{"error": "<a sentence for people>"}` with 400 (not an image, corrupt, too many pixels), 413 (too large) or 503
(model server down) or 502 (model server error); a photo without a face answers 200 with no faces and a
`message`.
"""
import concurrent.futures
import dataclasses
import logging
from typing import Callable, List, Optional, Sequence

import flask
from werkzeug import exceptions

from serving import image_bytes
from application import face_detection
from application import faces as faces_lib
from application import trust as trust_lib
from application.web import uploads
from serving.client import model_client as client_lib
import vocabulary

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
UPLOAD_FIELD = "photo"
NO_FACE_MESSAGE = "No face found in this photo. Try a photo where the faces are larger or better lit."
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; object-src 'none'",
}


@dataclasses.dataclass(frozen=True)
class WebConfig:
  server: str  # HOST:PORT of the model server, as shown to users
  detector: str = face_detection.DEFAULT_DETECTOR
  min_face_size: Optional[float] = None  # None: the detector's default
  min_confidence: Optional[float] = None
  trust: trust_lib.Trust = trust_lib.Trust()


UNREACHABLE_CODES = ("UNAVAILABLE", "DEADLINE_EXCEEDED")

# (crop JPEG bytes, ...) -> one dict of predicted fields per crop; raises client_lib.ServingClientError.
PredictCrops = Callable[[Sequence[bytes]], List[dict]]


def client_predictor(client: client_lib.ServingClient, models: Sequence[str] = vocabulary.MODELS,
                     pool: Optional[concurrent.futures.Executor] = None) -> PredictCrops:
  """Crops -> the served models (through the client library) -> `fdp predict`'s fields per face. Each
  upload's request to the first model goes out on the thread serving the upload, those to the others on
  `pool` (the page's, sized by `fdp web --model-requests`), so the server's batcher sees the requests of
  every upload in hand together."""

  return lambda crops: faces_lib.predict_crops(client, crops, models, pool)


class UserError(Exception):
  """A request the page answers with a sentence for people and an HTTP status."""

  def __init__(self, message: str, status: int = 400):
    super().__init__(message)
    self.message, self.status = message, status


def read_photo() -> bytes:
  upload = flask.request.files.get(UPLOAD_FIELD)
  if upload is None:
    raise UserError(f"No photo received: send the image in the form field '{UPLOAD_FIELD}'.")
  data = upload.read()
  if not data:
    raise UserError("The file is empty.")
  if image_bytes.image_type(data) is None:
    raise UserError(f"This file is not a photo. Please choose a {uploads.ACCEPTED} image.")
  too_large = image_bytes.too_many_pixels(data)
  if too_large:
    raise UserError(f"This photo cannot be read: {too_large}.")
  return data


def describe_photo(data: bytes, config: WebConfig, predict_crops: PredictCrops) -> dict:
  try:
    photo = face_detection.decode_photo(data)
  except face_detection.UnreadableImageError as error:
    raise UserError("This image could not be read: the file is damaged or incomplete.") from error
  detections = face_detection.locate_faces(photo, config.min_face_size, config.min_confidence, config.detector)
  answer = {"width": photo.width, "height": photo.height, "faces": []}
  if not detections:
    answer["message"] = NO_FACE_MESSAGE
    return answer
  faces = face_detection.crop_faces(photo, detections, config.detector)
  try:
    predictions = predict_crops([face.crop_jpeg for face in faces])
  except client_lib.ServingClientError as error:
    log.warning("model server %s: %s", config.server, error)
    if error.code in UNREACHABLE_CODES:
      raise UserError(f"The model server ({config.server}) is not reachable right now. "
                      "Please try again in a moment.", 503) from error
    raise UserError(f"The model server ({config.server}) could not answer: {error}", 502) from error
  answer["faces"] = faces_lib.face_records(faces, predictions, config.trust)
  return answer


def create_app(config: WebConfig, predict_crops: PredictCrops) -> flask.Flask:
  app = flask.Flask(__name__)
  app.request_class = uploads.InMemoryRequest
  app.config.update(MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES, DEBUG=False, PROPAGATE_EXCEPTIONS=False)

  @app.get("/")
  def index():
    return flask.render_template("index.html", server=config.server, max_upload_mb=MAX_UPLOAD_BYTES >> 20)

  @app.post("/api/predict")
  def predict():
    return flask.jsonify(describe_photo(read_photo(), config, predict_crops))

  @app.errorhandler(UserError)
  def user_error(error: UserError):
    return flask.jsonify(error=error.message), error.status

  @app.errorhandler(exceptions.RequestEntityTooLarge)
  def too_large(_):
    return flask.jsonify(error=f"The file is too large: the limit is {MAX_UPLOAD_BYTES >> 20} MB."), 413

  @app.errorhandler(Exception)
  def unexpected(error: Exception):
    if isinstance(error, exceptions.HTTPException):
      return flask.jsonify(error=error.description), error.code
    log.exception("request failed")
    return flask.jsonify(error="Something went wrong on our side; please try again."), 500

  @app.after_request
  def secure(response):
    response.headers.update(SECURITY_HEADERS)
    return response

  return app
