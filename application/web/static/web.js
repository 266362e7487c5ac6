// Upload (file picker or drag-and-drop) -> POST /api/predict -> boxes and labels over the photo.
"use strict";

const percent = (value) => `${(value * 100).toFixed(0)} %`;

// What each warning code (application/trust.py) means for people.
const WARNINGS = {
  face_too_small: (face) => `too small to judge (${Math.min(face.box[2], face.box[3])} px): the answers are less reliable`,
  age_bucket_uncertain: (face) => `the age bucket is uncertain (${percent(face.age_bucket_prob)})`,
  gender_uncertain: (face) => `the gender is uncertain (${percent(face.gender_prob)})`,
  models_disagree: (face) =>
    `the two models disagree: age bucket ${face.age_bucket}, estimated age ≈ ${face.age.toFixed(0)} years`,
};

function faceSummary(face) {
  const parts = [];
  if (face.age_bucket !== undefined) parts.push(`age ${face.age_bucket} (${percent(face.age_bucket_prob)})`);
  if (face.gender !== undefined) parts.push(`${face.gender} (${percent(face.gender_prob)})`);
  if (face.age !== undefined) parts.push(`≈ ${face.age.toFixed(0)} years`);
  return parts.join(" · ");
}

function warningTexts(face) {
  return (face.warnings || []).map((code) => (WARNINGS[code] ? WARNINGS[code](face) : code));
}

function faceLabel(face, index) {
  if ((face.warnings || []).includes("face_too_small")) return `${index + 1}: too small to judge`;
  return `${index + 1}: ${face.age_bucket ?? ""} ${face.gender ?? ""}`.trim();
}

function showStatus(text, isError) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("error", Boolean(isError));
}

function drawFaces(answer) {
  const frame = document.getElementById("photo-frame");
  const list = document.getElementById("face-list");
  frame.querySelectorAll(".face-box").forEach((box) => box.remove());
  list.replaceChildren();
  answer.faces.forEach((face, index) => {
    const [x, y, w, h] = face.box;
    const box = document.createElement("div");
    box.className = "face-box";
    box.style.left = `${(100 * x) / answer.width}%`;
    box.style.top = `${(100 * y) / answer.height}%`;
    box.style.width = `${(100 * w) / answer.width}%`;
    box.style.height = `${(100 * h) / answer.height}%`;
    if (y < 0.06 * answer.height) box.classList.add("below");
    const warnings = warningTexts(face);
    if (warnings.length) box.classList.add("doubtful");
    const label = document.createElement("span");
    label.className = "face-label";
    label.textContent = faceLabel(face, index);
    box.appendChild(label);
    frame.appendChild(box);
    const item = document.createElement("li");
    item.className = "face-item";
    item.textContent = faceSummary(face);
    if (warnings.length) {
      item.classList.add("doubtful");
      const notes = document.createElement("ul");
      notes.className = "face-warnings";
      warnings.forEach((text) => {
        const note = document.createElement("li");
        note.textContent = text;
        notes.appendChild(note);
      });
      item.appendChild(notes);
    }
    list.appendChild(item);
  });
}

async function upload(file) {
  const result = document.getElementById("result");
  result.hidden = true;
  showStatus(`Looking for faces in ${file.name} ...`);
  const body = new FormData();
  body.append("photo", file);
  let answer;
  try {
    const response = await fetch("api/predict", { method: "POST", body });
    answer = await response.json();
  } catch (error) {
    showStatus("The page could not reach its server. Please try again.", true);
    return;
  }
  if (answer.error) {
    showStatus(answer.error, true);
    return;
  }
  const photo = document.getElementById("photo");
  const previous = photo.src;
  photo.src = URL.createObjectURL(file);  // shown from memory, never uploaded twice
  if (previous) URL.revokeObjectURL(previous);
  drawFaces(answer);
  result.hidden = false;
  const count = answer.faces.length;
  showStatus(count ? `${count} face${count > 1 ? "s" : ""} found.` : answer.message, !count);
}

document.addEventListener("DOMContentLoaded", () => {
  const input = document.getElementById("photo-input");
  const zone = document.getElementById("drop-zone");
  input.addEventListener("change", () => input.files.length && upload(input.files[0]));
  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  }));
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("dragging")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) upload(event.dataTransfer.files[0]);
  });
});
