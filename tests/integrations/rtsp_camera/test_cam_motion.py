"""MotionDetector on synthetic 640x480 scenes: noise, a moving block, slow and sudden lighting changes."""

from __future__ import annotations

import numpy as np
import pytest
from face_images import HEIGHT, WIDTH, overlap
from PIL import Image
from skimage import data

from integrations.rtsp_camera.motion import MotionDetector, MotionResult

FPS = 4.0


def _scene() -> np.ndarray:
    """A textured still scene (the coffee cup, scaled to fill the frame) as float32 for arithmetic."""
    image = Image.fromarray(data.coffee()).resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)
    return np.asarray(image).astype(np.float32)


_NOISE: dict[float, list[np.ndarray]] = {}


def _frame(scene: np.ndarray, rng: np.random.Generator, *, gain: float = 1.0, offset: float = 0.0,
           noise: float = 4.0) -> np.ndarray:  # fmt: skip
    """The scene through a camera: exposure gain and offset, sensor noise (one of 8 fields made once), 8 bits."""
    if noise not in _NOISE:
        shape = (HEIGHT, WIDTH, 3)
        _NOISE[noise] = [np.random.default_rng(seed).normal(0.0, noise, shape).astype(np.float32) for seed in range(8)]
    fields = _NOISE[noise]
    noisy = scene * np.float32(gain) + np.float32(offset) + fields[int(rng.integers(len(fields)))]
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _feed(detector: MotionDetector, frames: list[np.ndarray], start: float = 0.0, fps: float = FPS) -> list[MotionResult]:
    return [detector.update(frame, start + i / fps) for i, frame in enumerate(frames)]


def test_static_scene_with_sensor_noise_is_not_motion() -> None:
    rng = np.random.default_rng(1)
    scene = _scene()
    detector = MotionDetector()
    results = _feed(detector, [_frame(scene, rng, noise=8.0) for _ in range(40)])
    assert not any(r.motion for r in results)
    assert max(r.share for r in results) < 0.001


def test_a_moving_block_is_motion_with_its_box_and_ends_after_the_quiet_time() -> None:
    rng = np.random.default_rng(2)
    scene = _scene()
    detector = MotionDetector(quiet_s=5.0)
    warmup = _feed(detector, [_frame(scene, rng) for _ in range(8)])
    assert not any(r.motion for r in warmup)
    results = []
    t0 = len(warmup) / FPS
    for i in range(10):
        moved = scene.copy()
        x, y = 100 + 30 * i, 180
        moved[y : y + 100, x : x + 80] = (20.0, 200.0, 40.0)  # a green figure walking right
        result = detector.update(_frame(moved, rng), t0 + i / FPS)
        results.append((result, (x, y, 80, 100)))
    first, second = results[0][0], results[1][0]
    assert not first.motion and first.share > 0.01  # one changed frame is not motion yet
    assert second.motion and second.started
    assert sum(r.started for r, _ in results) == 1
    for result, block in results[1:]:
        assert result.motion and result.box is not None
        assert overlap(result.box, block) > 0.6, (result.box, block)
    assert 0.02 < results[-1][0].share < 0.05  # 80x100 of 640x480 = 2.6%
    # The figure leaves: motion holds for quiet_s, then ends once.
    t1 = t0 + 10 / FPS
    after = _feed(detector, [_frame(scene, rng) for _ in range(40)], start=t1)
    ended = [i for i, r in enumerate(after) if r.ended]
    assert len(ended) == 1
    assert 5.0 <= ended[0] / FPS + 1 / FPS <= 5.5  # the last changed frame was at t1 - 1/FPS
    assert all(r.motion for r in after[: ended[0]]) and not any(r.motion for r in after[ended[0] :])


def test_a_slow_brightness_ramp_is_not_motion() -> None:
    rng = np.random.default_rng(3)
    scene = _scene()
    detector = MotionDetector(sensitivity=0.8)
    # Dusk in 5 minutes (1 frame a second to keep the test short; the detector learns by time, not by
    # frame): the picture loses half its gain and 30 levels of offset, its darkest parts clipping at 0.
    frames = [_frame(scene, rng, gain=1.0 - 0.5 * i / 300, offset=-30.0 * i / 300) for i in range(300)]
    results = _feed(detector, frames, fps=1.0)
    assert not any(r.motion for r in results)
    assert max(r.share for r in results) < 0.005


def test_lights_on_is_at_most_a_blip_then_the_new_scene_is_learnt() -> None:
    rng = np.random.default_rng(4)
    dim = _scene() * 0.3
    lit = _scene()
    lit[:, WIDTH // 2 :] *= 0.6  # a lamp on the left: the change is not one gain over the picture
    detector = MotionDetector(sensitivity=1.0)  # the most sensitive setting, the hardest case
    _feed(detector, [_frame(dim, rng) for _ in range(8)])
    results = _feed(detector, [_frame(lit, rng) for _ in range(20)], start=2.0)
    assert sum(r.motion for r in results) == 0
    assert results[0].share > 0.5  # it was a large change, taken as the new scene
    assert max(r.share for r in results[1:]) < 0.005
    # The learnt scene still shows motion.
    moved = lit.copy()
    moved[100:250, 300:400] = 255.0
    later = _feed(detector, [_frame(moved, rng) for _ in range(2)], start=8.0)
    assert later[-1].motion and later[-1].box is not None


def test_sensitivity_sets_the_smallest_change_seen() -> None:
    rng = np.random.default_rng(5)
    scene = _scene()
    faint = scene.copy()
    faint[200:300, 200:300] += 20.0  # a faint shadow, 20 grey levels
    for sensitivity, expected in ((0.2, False), (0.9, True)):
        detector = MotionDetector(sensitivity=sensitivity)
        _feed(detector, [_frame(scene, rng) for _ in range(4)])
        results = _feed(detector, [_frame(faint, rng) for _ in range(3)], start=1.0)
        assert results[-1].motion is expected, sensitivity


def test_a_new_frame_size_starts_a_new_background() -> None:
    rng = np.random.default_rng(6)
    detector = MotionDetector()
    _feed(detector, [_frame(_scene(), rng) for _ in range(4)])
    small = np.zeros((240, 320, 3), dtype=np.uint8)
    results = _feed(detector, [small, small, small], start=1.0)
    assert not any(r.motion for r in results) and results[0].share == 0.0


@pytest.mark.parametrize(("sensitivity", "min_area"), [(1.5, 0.01), (-0.1, 0.01), (0.5, 0.0), (0.5, 1.0)])
def test_settings_out_of_range_are_refused(sensitivity: float, min_area: float) -> None:
    with pytest.raises(ValueError):
        MotionDetector(sensitivity=sensitivity, min_area=min_area)
