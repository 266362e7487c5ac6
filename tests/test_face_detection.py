"""Face detection and alignment on real photos, with both detectors (BlazeFace, the default, and MTCNN):
scikit-image's `astronaut` (public domain), real UTKFace faces, a composite of several UTKFace faces, a
rotated face, real outside photos (AAF)."""
import io
import os

import numpy as np
import pytest
import skimage.data
from PIL import Image

from application import blazeface
from application import detectors
from application import face_alignment
from application import face_detection

# Where UTKFace's own aligned crops put the midpoint of the eyes (200x200; measured with MTCNN, medians).
UTKFACE_EYES_CENTER = (98.5, 58.0)
# Eight UTKFace files spread over the sorted folder (all ages, genders and races).
UTKFACE_STEP, UTKFACE_COUNT = 2900, 8
# Composite: (file index in the sorted folder, side in pixels, top-left corner) on a 1400x900 canvas.
COMPOSITE_FACES = ((100, 110, (40, 60)), (5000, 170, (260, 480)), (9000, 240, (520, 80)),
                   (15000, 320, (1000, 500)), (21000, 140, (1150, 90)))


def encode(image: Image.Image, image_format: str = "JPEG") -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, format=image_format)
  return buffer.getvalue()


def utkface_image(utkface_dir, index: int) -> Image.Image:
  return Image.open(utkface_dir / sorted(os.listdir(utkface_dir))[index]).convert("RGB")


def on_canvas(face: Image.Image, size=(500, 500), corner=(150, 120)) -> Image.Image:
  canvas = Image.new("RGB", size, (0, 0, 0))
  canvas.paste(face, corner)
  return canvas


@pytest.fixture(params=face_detection.DETECTOR_CHOICES)
def detector(request) -> str:
  return request.param


def single_detection(image: Image.Image, detector: str = face_detection.DEFAULT_DETECTOR) -> face_detection.Detection:
  detections = face_detection.locate_faces(image, detector=detector)
  assert len(detections) == 1, detections
  return detections[0]


def test_blazeface_is_the_default_and_its_model_comes_from_the_installed_wheel():
  assert face_detection.DEFAULT_DETECTOR == "blazeface" and set(face_detection.DETECTOR_CHOICES) == {"blazeface", "mtcnn"}
  assert os.path.isfile(blazeface.model_path()) and "site-packages" in blazeface.model_path()


def test_the_astronaut_photo_has_one_face_with_an_aligned_crop(detector):
  photo = Image.fromarray(skimage.data.astronaut())  # 512x512, Eileen Collins's face left of centre
  faces = face_detection.detect_faces(encode(photo, "PNG"), detector=detector)
  assert len(faces) == 1
  box, score, crop_jpeg = faces[0]  # unpacks as (box, score, crop bytes)
  x, y, width, height = box
  assert score > max(0.9, detectors.DETECTORS[detector].min_confidence)
  assert 150 < x + width / 2 < 260 and 80 < y + height / 2 < 160 and 60 < width < 140
  crop = Image.open(io.BytesIO(crop_jpeg))
  assert crop.format == "JPEG" and crop.size == (200, 200)
  # Measured with MTCNN, whose keypoints UTKFACE_EYES_CENTER was measured with, whichever detector cropped.
  crop_eyes = face_alignment.eyes_center(single_detection(crop.convert("RGB"), "mtcnn").landmarks)
  assert np.allclose(crop_eyes, UTKFACE_EYES_CENTER, atol=8), crop_eyes


def test_every_sampled_utkface_image_holds_exactly_one_face(utkface_dir, detector):
  for index in range(0, UTKFACE_STEP * UTKFACE_COUNT, UTKFACE_STEP):
    faces = face_detection.detect_faces(encode(utkface_image(utkface_dir, index)), detector=detector)
    assert len(faces) == 1, (index, faces)
    assert faces[0].score > detectors.DETECTORS[detector].min_confidence


def test_recropping_a_utkface_face_reproduces_its_framing(utkface_dir, detector):
  framing = detectors.DETECTORS[detector].framing
  for index in (300, 7300, 14300):
    original = utkface_image(utkface_dir, index)
    [face] = face_detection.detect_faces(encode(on_canvas(original), "PNG"), detector=detector)
    crop = Image.open(io.BytesIO(face.crop_jpeg)).convert("RGB")
    original_eyes = face_alignment.eyes_center(single_detection(original, detector).landmarks)
    crop_detection = single_detection(crop, detector)
    assert np.allclose(face_alignment.eyes_center(crop_detection.landmarks), original_eyes, atol=8)
    assert abs(face_alignment.face_scale(crop_detection.landmarks, framing) - 200) < 25


def test_both_detectors_crop_a_face_alike(utkface_dir):
  """BlazeFace's framing reproduces the crop MTCNN's gives (the models' training framing)."""
  for index in (2000, 9000, 16000):
    photo = encode(on_canvas(utkface_image(utkface_dir, index)), "PNG")
    crops = [np.asarray(Image.open(io.BytesIO(face_detection.detect_faces(photo, detector=name)[0].crop_jpeg)),
                        np.float32) for name in ("blazeface", "mtcnn")]
    eyes = [face_alignment.eyes_center(single_detection(Image.fromarray(crop.astype(np.uint8)), "mtcnn").landmarks)
            for crop in crops]
    assert np.allclose(eyes[0], eyes[1], atol=8), eyes


def test_a_composite_of_five_real_faces_gives_five_boxes_in_place(utkface_dir, detector):
  canvas = Image.new("RGB", (1400, 900), (120, 120, 120))
  for index, side, corner in COMPOSITE_FACES:
    canvas.paste(utkface_image(utkface_dir, index).resize((side, side), Image.Resampling.LANCZOS), corner)
  faces = face_detection.detect_faces(encode(canvas), detector=detector)
  assert len(faces) == len(COMPOSITE_FACES)
  for _, side, (left, top) in COMPOSITE_FACES:
    centers = [(x + w / 2, y + h / 2, w) for (x, y, w, h), _, _ in faces]
    matches = [w for cx, cy, w in centers if left < cx < left + side and top < cy < top + side]
    assert len(matches) == 1, (side, left, top, faces)
    assert 0.55 * side < matches[0] < 1.05 * side  # UTKFace crops hold the face with a margin
  # A minimum face size drops the three smaller faces.
  assert len(face_detection.detect_faces(encode(canvas), min_face_size=180, detector=detector)) == 2


@pytest.mark.parametrize("index", [11000, 3000, 19000])
def test_a_face_rotated_by_15_degrees_is_rotated_back(utkface_dir, detector, index):
  original = on_canvas(utkface_image(utkface_dir, index))
  rotated = original.rotate(15, resample=Image.Resampling.BICUBIC, expand=True)  # counter-clockwise
  # Angles measured with MTCNN's keypoints (five points, the finer of the two) whichever detector aligned.
  angle_before = face_alignment.eye_angle(single_detection(original, "mtcnn").landmarks)
  angle_rotated = face_alignment.eye_angle(single_detection(rotated, "mtcnn").landmarks)
  assert abs((angle_rotated - angle_before) - (-15)) < 3  # image y points down: counter-clockwise < 0
  [face] = face_detection.detect_faces(encode(rotated), detector=detector)
  crop = Image.open(io.BytesIO(face.crop_jpeg)).convert("RGB")
  assert abs(face_alignment.eye_angle(single_detection(crop, "mtcnn").landmarks)) < 3


def test_a_large_photo_is_searched_downscaled_but_boxed_in_full_size_pixels(detector):
  photo = Image.fromarray(skimage.data.astronaut())
  [small] = face_detection.detect_faces(encode(photo), detector=detector)
  large = face_detection.detect_faces(encode(photo.resize((2048, 2048), Image.Resampling.BICUBIC)), detector=detector)
  assert np.allclose(large[0].box, np.array(small.box) * 4, atol=24), (small.box, large[0].box)


def test_blazeface_searches_a_pyramid_down_to_the_minimum_face_size():
  # The whole photo in one 128x128 view, then views 2.5x finer, the finest showing a min-size face at 20 px.
  scales = blazeface.level_scales((1280, 720), min_face_size=40, max_side=1280)
  assert scales[-1] == pytest.approx(0.5 * 128 / 1280) and scales[0] == pytest.approx(20 / 40)
  assert all(1.3 <= fine / coarse <= 2.5 * 1.3 for fine, coarse in zip(scales, scales[1:]))
  # A smaller minimum face size searches a finer level, never beyond max_side.
  assert blazeface.level_scales((1280, 720), 20, 1280)[0] == 1.0
  assert blazeface.level_scales((4000, 3000), 40, 1280)[0] == pytest.approx(1280 / 4000)
  assert blazeface.level_scales((4000, 3000), 10, 1280)[0] == pytest.approx(1280 / 4000)


def test_outside_photos_have_their_face_found(aaf_dir):
  """Real photos of people of every age (AAF): the face is found in each, with its crop."""
  names = sorted(os.listdir(aaf_dir / "faces"))[::148]
  for name in names:
    faces = face_detection.detect_faces((aaf_dir / "faces" / name).read_bytes())
    assert faces, name
    x, y, width, height = faces[0].box
    assert width > 80 and height > 80, (name, faces[0].box)


def test_a_photo_without_a_face_gives_an_empty_list():
  assert not face_detection.detect_faces(encode(Image.fromarray(skimage.data.coffee())))
  astronaut = encode(Image.fromarray(skimage.data.astronaut()))
  assert not face_detection.detect_faces(astronaut, min_confidence=1.01)


@pytest.mark.parametrize("payload", [b"plain text, not an image", b"", b"\xff\xd8\xff\xe0" + b"\x00" * 64])
def test_unreadable_bytes_raise_a_clear_error(payload):
  with pytest.raises(face_detection.UnreadableImageError):
    face_detection.detect_faces(payload)


def test_a_truncated_jpeg_raises_a_clear_error():
  photo = encode(Image.fromarray(skimage.data.astronaut()))
  with pytest.raises(face_detection.UnreadableImageError, match="not a readable image"):
    face_detection.detect_faces(photo[:len(photo) // 3])
