"""Faces on real photographs: the astronaut found and recognised through transforms, the cameraman a stranger.

Models load once for the module; frames come from face_images.py (scikit-image's own sample images).
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor

import face_images
import numpy as np
import pytest
from face_images import Scene, overlap

from integrations.rtsp_camera.faces import (
    DESCRIPTOR_MODEL,
    Box,
    Entry,
    Face,
    FaceAnalyzer,
    FaceDetector,
    FaceEncoder,
    FaceModelsMissing,
    Gallery,
    analyze_frame,
    model_path,
)

# The detector's box is eyebrows to mouth, the annotation forehead to chin: they overlap by ~0.55-0.8.
MIN_OVERLAP = 0.4


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    """An analyzer with the astronaut enrolled as "Ana" from her first scene."""
    analyzer = FaceAnalyzer()
    analyzer.load()
    base = face_images.astronaut()
    analyzer.gallery.add("Ana", _the_face(analyzer.analyze(base.image, recognise=True), base).descriptor)  # type: ignore[arg-type]
    return analyzer


def _the_face(faces: list[Face], scene: Scene) -> Face:
    """The found face on the scene's annotated face (a detector may also find a weak second one)."""
    assert scene.face is not None
    on_face = [face for face in faces if overlap(face.box.as_list(), scene.face) >= MIN_OVERLAP]  # type: ignore[arg-type]
    assert len(on_face) == 1, (scene.name, faces, scene.face)
    return on_face[0]


def test_the_astronaut_is_found_where_her_face_is() -> None:
    scene = face_images.astronaut()
    boxes = FaceDetector().detect(scene.image)
    assert scene.face is not None and boxes
    best = boxes[0]
    assert overlap(best.as_list(), scene.face) >= 0.6  # type: ignore[arg-type]
    assert best.score > 1.0  # a clear frontal face; the weak extras score near 0
    assert all(0 <= b.x and 0 <= b.y and b.x + b.w <= 640 and b.y + b.h <= 480 for b in boxes)


@pytest.mark.parametrize("index", range(len(face_images.astronaut_variants())))
def test_transformed_copies_are_recognised_as_the_enrolled_astronaut(analyzer: FaceAnalyzer, index: int) -> None:
    scene = face_images.astronaut_variants()[index]
    face = _the_face(analyzer.analyze(scene.image), scene)
    assert face.known and face.name == "Ana", (scene.name, face)
    assert face.distance is not None and face.distance < 0.3, scene.name
    assert face.descriptor is not None and face.descriptor.shape == (128,)


def test_another_person_is_unknown_and_far_from_the_astronaut(analyzer: FaceAnalyzer) -> None:
    scene = face_images.cameraman()
    face = _the_face(analyzer.analyze(scene.image), scene)
    assert not face.known and face.name is None
    assert face.distance is not None and face.distance > 0.65
    assert face.as_dict() == {"known": False, "name": None, "distance": round(face.distance, 3),
                              "box": face.box.as_list()}  # fmt: skip


def test_two_residents_are_told_apart(analyzer: FaceAnalyzer) -> None:
    gallery = Gallery.from_bytes(analyzer.gallery.to_bytes())
    cameraman = face_images.cameraman()
    gallery.add("Bob", _the_face(analyzer.analyze(cameraman.image), cameraman).descriptor)  # type: ignore[arg-type]
    both = FaceAnalyzer(gallery)
    flipped = face_images.astronaut_variants()[1]
    assert _the_face(both.analyze(flipped.image), flipped).name == "Ana"
    assert _the_face(both.analyze(cameraman.image), cameraman).name == "Bob"


@pytest.mark.parametrize("index", range(len(face_images.negatives())))
def test_scenes_without_a_face_give_none(analyzer: FaceAnalyzer, index: int) -> None:
    scene = face_images.negatives()[index]
    assert analyzer.analyze(scene.image) == [], scene.name


def test_without_recognition_faces_are_only_found(analyzer: FaceAnalyzer) -> None:
    scene = face_images.astronaut()
    face = _the_face(analyzer.analyze(scene.image, recognise=False), scene)
    assert (face.known, face.name, face.distance, face.descriptor) == (False, None, None, None)


def test_the_gallery_round_trips_through_bytes_and_lists(analyzer: FaceAnalyzer) -> None:
    rng = np.random.default_rng(0)
    gallery = Gallery()
    ana = [gallery.add("Ana", rng.normal(0.0, 0.1, 128)) for _ in range(3)]
    bob = gallery.add("Bob", rng.normal(0.0, 0.1, 128))
    gallery.remove(ana[1])
    restored = Gallery.from_bytes(gallery.to_bytes())
    again = Gallery.from_list(restored.to_list())
    assert restored.names() == ["Ana", "Bob"]
    for copy in (restored, again):
        assert [(e.id, e.name) for e in copy.entries()] == [(ana[0], "Ana"), (ana[2], "Ana"), (bob, "Bob")]
        for mine, theirs in zip(gallery.entries(), copy.entries(), strict=True):
            assert np.array_equal(mine.descriptor, theirs.descriptor)  # floats survive exactly
        assert copy.add("Cy", rng.normal(0.0, 0.1, 128)) == bob + 1  # ids are never reused
    # Several descriptors per person: the nearest one decides, and its id is reported.
    probe = gallery.entries()[1].descriptor + 0.001
    match = restored.match(probe)
    assert (match.name, match.id) == ("Ana", ana[2]) and match.distance is not None and match.distance < 0.02
    assert restored.remove_person("Ana") == 2 and restored.names() == ["Bob", "Cy"]
    with pytest.raises(KeyError):
        restored.remove(ana[0])


def test_gallery_edges() -> None:
    empty = Gallery()
    assert empty.match(np.zeros(128)).name is None and empty.match(np.zeros(128)).distance is None
    with pytest.raises(ValueError):
        empty.add("Ana", np.zeros(64))
    with pytest.raises(ValueError):
        empty.add(" ", np.zeros(128))
    with pytest.raises(ValueError):
        Gallery.from_bytes(b'{"version": 2, "entries": []}')
    with pytest.raises(ValueError):
        Gallery.from_list([{"id": 1, "name": "Ana"}])
    far = Gallery([Entry(7, "Ana", np.ones(128))])
    miss = far.match(np.zeros(128), max_distance=0.55)
    assert miss.name is None and miss.distance == pytest.approx(np.sqrt(128))


def test_a_missing_model_package_is_named_in_the_error() -> None:
    with pytest.raises(FaceModelsMissing, match="no_such_face_models.*pip install no-such-face-models"):
        model_path(DESCRIPTOR_MODEL, package="no_such_face_models")
    assert model_path(DESCRIPTOR_MODEL).is_file()


def test_frames_outside_the_contract_are_refused() -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        FaceDetector().detect(np.zeros((480, 640), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8 RGB"):
        FaceEncoder().encode(np.zeros((480, 640, 3), dtype=np.float32), Box(0, 0, 10, 10))


def test_threads_share_the_models_and_agree(analyzer: FaceAnalyzer) -> None:
    scenes = face_images.astronaut_variants()[:4]
    serial = [analyzer.analyze(scene.image) for scene in scenes]
    results: dict[int, list[Face]] = {}

    def work(i: int) -> None:
        results[i] = FaceAnalyzer(analyzer.gallery).analyze(scenes[i].image)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(scenes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i] for i in range(len(scenes))] == serial  # Face equality: box, known, name, distance


def test_analyze_frame_runs_in_a_worker_process(analyzer: FaceAnalyzer) -> None:
    scene = face_images.astronaut_variants()[2]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        faces = pool.submit(analyze_frame, scene.image, analyzer.gallery.to_bytes()).result(timeout=100)
    face = _the_face(faces, scene)
    assert face.name == "Ana" and face.distance is not None and face.distance < 0.3
