"""The models being served: which versions are loaded, which one a request gets, and hot swapping.

A watcher thread polls every model's base path (like TF Serving's file-system source). A version folder
is loaded once its files stop changing between two polls (a push in progress is not loaded half copied);
when the policy's wanted version is available, versions no longer wanted stop taking new requests
(UNLOADING), finish the ones they hold (reference counted) and are then dropped (END). A version that
fails to load is reported with its error and retried only when its files change; the version being
served meanwhile stays.

Loads run on their own threads, outside the poll (one slow or failing version never holds up the others
or the next poll); every status change happens under its model's lock; a retired version is closed on a
background thread, never on the thread of the request that held it last.
"""
from concurrent import futures
import contextlib
import dataclasses
import logging
import os
import threading
import time
from typing import Callable, Dict, List, Optional, Set, Tuple

from serving import errors
from vocabulary import layout
from vocabulary.layout import is_version_dir

log = logging.getLogger(__name__)

# tensorflow.serving.ModelVersionStatus.State names.
START, LOADING, AVAILABLE, UNLOADING, END = "START", "LOADING", "AVAILABLE", "UNLOADING", "END"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """Which servable a request names: a model, and at most one of a version number or a label."""
  name: str
  version: Optional[int] = None
  label: Optional[str] = None

  def describe(self) -> str:
    if self.version is not None:
      return f"Specific({self.name}, {self.version})"
    if self.label is not None:
      return f"Label({self.name}, {self.label})"
    return f"Latest({self.name})"


@dataclasses.dataclass
class VersionStatus:
  version: int
  state: str
  error_code: str = errors.OK
  error_message: str = ""


@dataclasses.dataclass(frozen=True)
class VersionPolicy:
  """latest {num_versions}, all {} or specific {versions} of model_version_policy."""
  kind: str = "latest"
  num_versions: int = 1
  versions: Tuple[int, ...] = ()

  @classmethod
  def from_proto(cls, policy) -> "VersionPolicy":
    which = policy.WhichOneof("policy_choice")
    if which == "all":
      return cls("all")
    if which == "specific":
      return cls("specific", versions=tuple(policy.specific.versions))
    return cls("latest", num_versions=max(1, policy.latest.num_versions) if which else 1)

  def wanted(self, on_disk: List[int]) -> List[int]:
    if self.kind == "all":
      return sorted(on_disk)
    if self.kind == "specific":
      return sorted(v for v in on_disk if v in self.versions)
    return sorted(on_disk)[-self.num_versions:]


class Servable:
  """One loaded version: what the loader returned plus the reference count that delays its unloading."""

  def __init__(self, name: str, version: int, path: str, loaded,
               on_unloaded: Optional[Callable[["Servable"], None]] = None,
               run_unload: Callable[[Callable[[], None]], object] = lambda unload: unload()):
    self.name, self.version, self.path, self.loaded = name, version, path, loaded
    self._lock = threading.Lock()
    self._refs = 0
    self._retiring = False
    self._on_unloaded = on_unloaded
    self._run_unload = run_unload  # e.g. a background executor's submit

  def try_acquire(self) -> bool:
    with self._lock:
      if self._retiring:
        return False
      self._refs += 1
      return True

  def release(self) -> None:
    with self._lock:
      self._refs -= 1
      done = self._retiring and self._refs == 0
    if done:
      self._run_unload(self._unload)

  def retire(self) -> None:
    """No new requests; unloads as soon as the last request in flight releases it."""
    with self._lock:
      self._retiring = True
      done = self._refs == 0
    if done:
      self._run_unload(self._unload)

  def _unload(self) -> None:
    close = getattr(self.loaded, "close", None)
    try:
      if close:
        close()
    except Exception:  # pylint: disable=broad-except
      log.exception("closing %s version %d failed", self.name, self.version)
    self.loaded = None
    if self._on_unloaded:
      self._on_unloaded(self)


def _fingerprint(path: str):
  """(relative path, size, mtime) of every file: changes while a push is still copying."""
  entries = []
  for root, _, files in os.walk(path):
    for name in files:
      full = os.path.join(root, name)
      try:
        st = os.stat(full)
      except FileNotFoundError:
        continue
      entries.append((os.path.relpath(full, path), st.st_size, st.st_mtime_ns))
  return tuple(sorted(entries))


class ServedModel:
  """One model name of the config: its base path, version policy, labels and versions."""

  def __init__(self, name: str, base_path: str, policy: VersionPolicy, labels: Dict[str, int]):
    self.name, self.base_path, self.policy, self.labels = name, base_path, policy, dict(labels)
    self.lock = threading.Lock()  # guards everything below
    self.serving: Dict[int, Servable] = {}
    self.statuses: Dict[int, VersionStatus] = {}
    self.seen: Dict[int, tuple] = {}  # version -> fingerprint at the previous poll
    self.failed: Dict[int, tuple] = {}  # version -> fingerprint that failed to load
    self.loading: Set[int] = set()
    self.on_disk: Set[int] = set()  # as of the last poll
    self.wanted: List[int] = []  # what the policy wants of them

  def set_status(self, version: int, state: str, code: str = errors.OK, message: str = "") -> None:
    """Call with the lock held."""
    self.statuses[version] = VersionStatus(version, state, code, message)

  def versions_on_disk(self, loadable: Callable[[str], bool]) -> Dict[int, str]:
    try:
      names = os.listdir(self.base_path)
    except (FileNotFoundError, NotADirectoryError):
      return {}
    found = {}
    for name in names:
      path = os.path.join(self.base_path, name)
      if is_version_dir(name) and loadable(path):
        found[int(name)] = path
    return found

  def retire_all(self) -> List[Servable]:
    """Takes every serving version out (the model left the config); the caller retires them."""
    with self.lock:
      servables = list(self.serving.values())
      self.serving.clear()
      for servable in servables:
        self.set_status(servable.version, UNLOADING)
    return servables


def _has_saved_model(path: str) -> bool:
  return os.path.isfile(os.path.join(path, layout.SAVED_MODEL_FILE))


def _served_model(entry) -> ServedModel:
  return ServedModel(entry.name, entry.base_path, VersionPolicy.from_proto(entry.model_version_policy),
                     dict(entry.version_labels))


class ModelRegistry:
  """Loads versions with `loader(path) -> object` (the object may have close()) and hands them out."""

  def __init__(self, model_server_config, loader: Callable[[str], object], poll_seconds: float = 1.0,
               load_threads: int = 2, loadable: Callable[[str], bool] = _has_saved_model,
               labels_need_available_versions: bool = False):
    """`loadable(version folder)`: whether it holds a model (a saved_model.pb by default);
    `labels_need_available_versions`: a reload may only point a label at an AVAILABLE version (TF
    Serving without --allow_version_labels_for_unavailable_models)."""
    self._loader = loader
    self._loadable = loadable
    self._poll_seconds = poll_seconds
    self._labels_need_available = labels_need_available_versions
    self._models: Dict[str, ServedModel] = {entry.name: _served_model(entry)
                                            for entry in model_server_config.model_config_list.config}
    self._stop = threading.Event()
    self._watcher: Optional[threading.Thread] = None
    self._poll_lock = threading.Lock()
    self._first_poll = True
    self._loads = futures.ThreadPoolExecutor(max_workers=max(1, load_threads), thread_name_prefix="load")
    self._unloads = futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="unload")
    self._unloads_lock = threading.Lock()
    self._pending_unloads: List[futures.Future] = []

  @property
  def model_names(self):
    return self._models.keys()

  # Watching.

  def start(self) -> None:
    self.poll_once()
    self._watcher = threading.Thread(target=self._watch, name="model-watcher", daemon=True)
    self._watcher.start()

  def stop(self, timeout_s: float = 30.0) -> bool:
    """Stops watching and unloads every version (each once its requests finish), waiting at most
    `timeout_s` for the unloads: a model call that never returns cannot hold up the caller. True when
    everything was unloaded in time."""
    end = time.monotonic() + timeout_s
    self._stop.set()
    if self._watcher:
      self._watcher.join(timeout=min(timeout_s, self._poll_seconds + 5))
    self._loads.shutdown(wait=False, cancel_futures=True)
    for model in self._models.values():
      with model.lock:
        servables = list(model.serving.values())
        model.serving.clear()
      for servable in servables:
        servable.retire()
    self._unloads.shutdown(wait=False)
    with self._unloads_lock:
      pending = list(self._pending_unloads)
    _, not_done = futures.wait(pending, timeout=max(0.0, end - time.monotonic()))
    if not_done:
      log.warning("%d version(s) still unloading when the stop's time ran out", len(not_done))
    return not not_done

  def _watch(self) -> None:
    while not self._stop.wait(self._poll_seconds):
      try:
        self.poll_once(wait=False)
      except Exception:  # pylint: disable=broad-except
        log.exception("model poll failed; trying again at the next poll")

  def poll_once(self, wait: bool = True) -> None:
    """Looks at every base path once and starts the loads it calls for; with `wait`, returns when those
    loads have finished (the first poll at start-up, tests)."""
    with self._poll_lock:
      started = [load for model in self._models.values() for load in self._reconcile(model, self._first_poll)]
      self._first_poll = False
    if wait:
      futures.wait(started)

  def _reconcile(self, model: ServedModel, first: bool) -> List[futures.Future]:
    on_disk = model.versions_on_disk(self._loadable)
    prints = {v: _fingerprint(path) for v, path in on_disk.items()}
    to_load = []
    with model.lock:
      loadable = [v for v in on_disk if model.failed.get(v) != prints[v]]
      model.on_disk, model.wanted = set(on_disk), model.policy.wanted(loadable)
      for version in model.wanted:
        if version in model.serving or version in model.loading:
          continue
        if not (first or model.seen.get(version) == prints[version]):
          model.statuses.setdefault(version, VersionStatus(version, START))  # still being copied
          continue
        model.loading.add(version)
        model.set_status(version, LOADING)
        to_load.append(version)
      model.seen = prints
      for version in list(model.statuses):
        gone = version not in on_disk and version not in model.loading
        if gone and model.statuses[version].state in (START, LOADING):
          del model.statuses[version]
    self._retire_unwanted(model)
    return [self._loads.submit(self._load, model, v, on_disk[v], prints[v]) for v in to_load]

  def reload(self, model_server_config, timeout_s: float = 300.0) -> None:
    """Serves `model_server_config` from now on (TF Serving's config reload): models added are loaded,
    models left out are unloaded once the requests they hold finish, models whose policy or labels
    changed get them; the versions serving stay until their replacements are AVAILABLE, so requests
    never fail during the change. Returns when the new config's loads have ended; raises a ServingError
    when a model has no version to serve or a label points at a version that is not available."""
    entries = {entry.name: entry for entry in model_server_config.model_config_list.config}
    with self._poll_lock:
      models, retired = {}, []
      for name, entry in entries.items():
        model = self._models.get(name)
        if model is not None and model.base_path == entry.base_path:
          with model.lock:
            model.policy = VersionPolicy.from_proto(entry.model_version_policy)
        else:
          if model is not None:
            retired += model.retire_all()
          model = _served_model(entry)
          model.labels = {}
        models[name] = model
      retired += [s for name, model in self._models.items() if name not in entries for s in model.retire_all()]
      self._models = models
      started = [load for model in models.values() for load in self._reconcile(model, first=True)]
    for servable in retired:
      servable.retire()
    futures.wait(started, timeout=timeout_s)
    problems = []
    for name, entry in entries.items():
      model = models[name]
      with model.lock:
        available = {v for v, st in model.statuses.items() if st.state == AVAILABLE}
        failed = [st for st in model.statuses.values() if st.state == END and st.error_code != errors.OK]
        unavailable = {label: v for label, v in entry.version_labels.items() if v not in available}
        if not (unavailable and self._labels_need_available):
          model.labels = dict(entry.version_labels)
      if unavailable and self._labels_need_available:
        label, version = sorted(unavailable.items())[0]
        problems.append(errors.ServingError(errors.FAILED_PRECONDITION, f"Request to assign label to version "
                                            f"{version} of model {name}, which is not currently available "
                                            f"for inference (label {label})"))
      elif not available and failed:
        problems.append(errors.ServingError(failed[0].error_code, failed[0].error_message))
      elif not available and not model.on_disk:
        problems.append(errors.not_found(f"No versions of servable {name} found under base path "
                                         f"{entry.base_path}"))
    if problems:
      raise problems[0]

  def _retire_unwanted(self, model: ServedModel) -> None:
    """Versions no longer wanted stop taking requests; but while a wanted version is still on its way, the
    ones serving stay, even one whose folder was deleted (TF Serving's availability-preserving policy)."""
    with model.lock:
      if model.wanted and not any(v in model.serving for v in model.wanted):
        stale = []
      else:
        stale = [v for v in model.serving if v not in model.wanted]
      retiring = [model.serving.pop(v) for v in stale]
      for servable in retiring:
        model.set_status(servable.version, UNLOADING)
    for servable in retiring:
      servable.retire()

  def _load(self, model: ServedModel, version: int, path: str, fingerprint) -> None:
    """On a load thread: load (and warm up) one version, then serve it and retire what it replaces."""
    try:
      loaded = self._loader(path)
    except Exception as e:  # pylint: disable=broad-except
      log.warning("%s version %d failed to load: %s", model.name, version, e)
      with model.lock:
        model.loading.discard(version)
        model.failed[version] = fingerprint
        model.set_status(version, END, errors.UNKNOWN, f"Failed to load {path}: {type(e).__name__}: {e}")
      return

    def unloaded(s, model=model):
      with model.lock:
        model.set_status(s.version, END)
      log.info("%s version %d unloaded", s.name, s.version)

    servable = Servable(model.name, version, path, loaded, on_unloaded=unloaded, run_unload=self._run_unload)
    if self._stop.is_set():  # the server stopped while this version loaded: never serve it
      servable.retire()
      return
    with model.lock:
      model.loading.discard(version)
      model.failed.pop(version, None)
      model.serving[version] = servable
      model.set_status(version, AVAILABLE)
    log.info("%s version %d available", model.name, version)
    self._retire_unwanted(model)

  def _run_unload(self, unload: Callable[[], None]) -> None:
    try:
      future = self._unloads.submit(unload)
    except RuntimeError:  # shut down: unload on a thread of its own, which stop() may leave behind
      future = futures.Future()
      threading.Thread(target=lambda: (unload(), future.set_result(None)), name="unload", daemon=True).start()
    with self._unloads_lock:
      self._pending_unloads = [f for f in self._pending_unloads if not f.done()] + [future]

  # Requests.

  def _model(self, name: str) -> ServedModel:
    model = self._models.get(name)
    if model is None:
      raise errors.not_found(f"Servable not found for request: Latest({name})")
    return model

  def _resolve(self, model: ServedModel, spec: ModelSpec) -> Optional[Servable]:
    if spec.label is not None:
      if spec.label not in model.labels:
        raise errors.invalid(f"Unrecognized servable version label: {spec.label}")
      return model.serving.get(model.labels[spec.label])
    if spec.version is not None:
      return model.serving.get(spec.version)
    return model.serving[max(model.serving)] if model.serving else None

  @contextlib.contextmanager
  def acquire(self, spec: ModelSpec):
    """The servable a request names, held (not unloaded) until the block ends."""
    model = self._model(spec.name)
    while True:
      with model.lock:
        servable = self._resolve(model, spec)
      if servable is None:
        raise errors.not_found(f"Servable not found for request: {spec.describe()}")
      if servable.try_acquire():
        break  # else it was retired between lookup and acquire: look again
    try:
      yield servable
    finally:
      servable.release()

  def status(self, spec: ModelSpec) -> List[VersionStatus]:
    """TF Serving's GetModelStatus: every version known, or the one named."""
    model = self._model(spec.name)
    with model.lock:
      statuses = {v: dataclasses.replace(s) for v, s in model.statuses.items()}
    version = spec.version
    if spec.label is not None:
      if spec.label not in model.labels:
        raise errors.invalid(f"Unrecognized servable version label: {spec.label}")
      version = model.labels[spec.label]
    if version is not None:
      if version not in statuses:
        raise errors.not_found(f"Could not find version {version} of model {spec.name}")
      return [statuses[version]]
    if not statuses:
      raise errors.not_found(f"Could not find any versions of model {spec.name}")
    return [statuses[v] for v in sorted(statuses, reverse=True)]
