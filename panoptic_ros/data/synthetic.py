"""Synthetic street scenes with exact panoptic ground truth, deterministic from a seed.

A perspective road with lane marks and curbs, sidewalks, buildings with windows, trees, sky, sign
poles and their plates are stuff; cars, pedestrians and cyclists are things (``STREET_CATEGORIES``). Objects stand on the ground plane,
shrink with distance and are painted far to near, so they occlude each other (parked cars in a row,
pedestrians in front of cars); lighting, colour cast, shadows, blur and sensor noise vary per image.
Everything is drawn twice in one pass: colours into the image, segment ids into the label map.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from panoptic_ros.data.street_categories import (
    BUILDING, CAR, CYCLIST, PERSON, POLE, ROAD, SIDEWALK, SKY, STREET_CATEGORIES, TRAFFIC_SIGN, VEGETATION,
)


@dataclasses.dataclass
class SceneSample:
    """A generated scene: image, segment ids and their categories (true, overlapping instances)."""

    image: np.ndarray      # [H, W, 3] uint8 RGB
    segments: np.ndarray   # [H, W] int32 segment id (0 = void)
    categories: dict[int, int]  # segment id -> category id


class _Canvas:
    """Paints colour and segment ids together."""

    def __init__(self, h: int, w: int) -> None:
        self.image = np.zeros((h, w, 3), np.uint8)
        self.segments = np.zeros((h, w), np.int32)
        self.categories: dict[int, int] = {}
        self._next_id = 1

    def new_segment(self, category: int) -> int:
        sid = self._next_id
        self._next_id += 1
        self.categories[sid] = category
        return sid

    def stuff_segment(self, category: int) -> int:
        """The image's one segment of a stuff category (panoptic stuff is one segment per class)."""
        for sid, cat in self.categories.items():
            if cat == category:
                return sid
        return self.new_segment(category)

    def poly(self, pts: np.ndarray, color: tuple[int, ...], sid: int | None) -> None:
        p = np.round(pts).astype(np.int32)
        cv2.fillPoly(self.image, [p], color)
        if sid is not None:
            cv2.fillPoly(self.segments, [p], sid)

    def circle(self, c: tuple[float, float], r: float, color: tuple[int, ...], sid: int | None) -> None:
        cc, rr = (int(round(c[0])), int(round(c[1]))), max(1, int(round(r)))
        cv2.circle(self.image, cc, rr, color, -1)
        if sid is not None:
            cv2.circle(self.segments, cc, rr, sid, -1)

    def line(self, a: tuple[float, float], b: tuple[float, float], color: tuple[int, ...], width: float,
             sid: int | None) -> None:
        pa, pb, t = (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), max(1, int(round(width)))
        cv2.line(self.image, pa, pb, color, t)
        if sid is not None:
            cv2.line(self.segments, pa, pb, sid, t)

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: tuple[int, ...], sid: int | None) -> None:
        self.poly(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), color, sid)


def _jitter(rng: np.random.Generator, base: tuple[int, int, int], amount: int = 30) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in base)  # type: ignore[return-value]


class StreetSceneGenerator:
    """``generate(index)`` is a pure function of (seed, index, size)."""

    def __init__(self, height: int = 256, width: int = 512, seed: int = 0) -> None:
        self.h, self.w, self.seed = height, width, seed

    def generate(self, index: int) -> SceneSample:
        """Scene ``index``: the same scene every time for the same seed and index (held-out splits stay fixed)."""
        rng = np.random.default_rng([self.seed, index])
        h, w = self.h, self.w
        cv = _Canvas(h, w)
        horizon = h * rng.uniform(0.33, 0.5)
        vx = w * rng.uniform(0.35, 0.65)  # vanishing point
        self._sky(cv, rng, horizon)
        self._buildings(cv, rng, horizon)
        road_half = w * rng.uniform(0.35, 0.6)  # road half-width at the bottom row
        walk = w * rng.uniform(0.25, 0.5)       # sidewalk width at the bottom row
        self._ground(cv, rng, horizon, vx, road_half, walk)
        self._trees(cv, rng, horizon, vx, road_half + walk)
        self._things(cv, rng, horizon, vx, road_half, walk)
        image = self._photometric(cv.image, rng)
        present = set(np.unique(cv.segments).tolist())  # a segment painted over entirely is not in the scene
        return SceneSample(image, cv.segments, {s: c for s, c in cv.categories.items() if s in present})

    # -- stuff ------------------------------------------------------------------------------------
    def _sky(self, cv: _Canvas, rng: np.random.Generator, horizon: float) -> None:
        sid = cv.new_segment(SKY)
        top, bottom = np.array(_jitter(rng, (90, 140, 210), 40)), np.array(_jitter(rng, (190, 210, 230), 25))
        t = np.linspace(0, 1, int(horizon) + 2)[:, None]
        cv.image[: int(horizon) + 2] = ((1 - t) * top + t * bottom).astype(np.uint8)[:, None, :]
        cv.segments[: int(horizon) + 2] = sid

    def _buildings(self, cv: _Canvas, rng: np.random.Generator, horizon: float) -> None:
        sid = cv.new_segment(BUILDING)
        x = -rng.uniform(0, 40)
        while x < self.w:
            bw = rng.uniform(0.08, 0.3) * self.w
            top = horizon - rng.uniform(0.05, 0.4) * self.h
            color = _jitter(rng, (120, 110, 100), 50)
            if rng.random() < 0.85:
                cv.rect(x, top, x + bw, horizon + 4, color, sid)
                win = _jitter(rng, (60, 70, 90), 30)
                step = rng.uniform(8, 16) * self.h / 256
                for wy in np.arange(top + step * 0.5, horizon - step, step):
                    for wx in np.arange(x + step * 0.4, x + bw - step * 0.6, step):
                        cv.rect(wx, wy, wx + step * 0.45, wy + step * 0.55, win, None)
            x += bw

    def _ground(self, cv: _Canvas, rng: np.random.Generator, horizon: float, vx: float, road_half: float,
                walk: float) -> None:
        h, w = self.h, self.w
        road, side = cv.new_segment(ROAD), cv.new_segment(SIDEWALK)
        side_color = _jitter(rng, (170, 165, 160), 25)
        cv.rect(0, horizon, w, h, side_color, side)
        for sgn in (-1, 1):  # paving joints on the sidewalks
            for f in np.linspace(0.1, 1, 8):
                y = horizon + (h - horizon) * f ** 2
                xa = vx + sgn * (road_half * f ** 2)
                xb = vx + sgn * ((road_half + walk) * f ** 2)
                cv.line((xa, y), (xb, y), _jitter(rng, side_color, 15), 1, None)
        road_color = _jitter(rng, (90, 90, 95), 20)
        cv.poly(np.array([[vx, horizon], [vx - road_half, h], [vx + road_half, h]]), road_color, road)
        for sgn in (-1, 1):  # curbs
            cv.line((vx, horizon), (vx + sgn * road_half, h), (200, 200, 200), 2 * h / 256, road)
        lanes = rng.integers(1, 3)
        for k in range(1, lanes + 1):  # dashed lane marks
            off = road_half * (2 * k / (lanes + 1) - 1)
            for f0 in np.arange(rng.uniform(0, 0.1), 1, 0.12):
                f1 = f0 + 0.05
                pa = (vx + off * f0 ** 1, horizon + (h - horizon) * f0)
                pb = (vx + off * f1 ** 1, horizon + (h - horizon) * f1)
                cv.line(pa, pb, (235, 235, 220), max(1, 3 * f0 * h / 256), road)

    def _trees(self, cv: _Canvas, rng: np.random.Generator, horizon: float, vx: float, edge: float) -> None:
        sid = cv.new_segment(VEGETATION)
        for _ in range(rng.integers(0, 7)):
            f = rng.uniform(0.05, 0.5)
            side = rng.choice([-1, 1])
            x = vx + side * edge * f * rng.uniform(1.0, 1.6)
            y = horizon + (self.h - horizon) * f
            scale = f * self.h * rng.uniform(0.6, 1.1)
            cv.rect(x - scale * 0.05, y - scale * 0.8, x + scale * 0.05, y, _jitter(rng, (90, 60, 40), 20), sid)
            green = _jitter(rng, (60, 110, 50), 30)
            for _ in range(5):
                cv.circle((x + rng.normal(0, scale * 0.2), y - scale * rng.uniform(0.8, 1.3)),
                          scale * rng.uniform(0.2, 0.35), _jitter(rng, green, 15), sid)

    # -- things -----------------------------------------------------------------------------------
    def _things(self, cv: _Canvas, rng: np.random.Generator, horizon: float, vx: float, road_half: float,
                walk: float) -> None:
        """Place objects on the ground plane (f = depth factor, 0 at the horizon) and paint far to near."""
        objects: list[tuple[float, str, float]] = []  # (f, kind, lateral position in road half-widths)
        for lane_x in (-0.5, 0.5):  # traffic, often in queues that occlude each other
            f = rng.uniform(0.1, 0.3)
            while f < 1.05 and rng.random() < 0.8:
                objects.append((f, "car", lane_x + rng.normal(0, 0.08)))
                f += rng.uniform(0.08, 0.35) * f + 0.05
        for side in (-1, 1):  # parked cars along the curb, close together
            for _ in range(rng.integers(0, 4)):
                objects.append((rng.uniform(0.15, 1.0), "car", side * rng.uniform(0.85, 1.0)))
        for _ in range(rng.integers(0, 7)):
            side = rng.choice([-1, 1])
            objects.append((rng.uniform(0.1, 1.0), "person", side * rng.uniform(1.05, 1.0 + walk / road_half)))
        for _ in range(rng.integers(0, 3)):
            objects.append((rng.uniform(0.15, 1.0), "cyclist", rng.choice([-1, 1]) * rng.uniform(0.7, 0.95)))
        for _ in range(rng.integers(0, 3)):
            objects.append((rng.uniform(0.1, 0.9), "sign", rng.choice([-1, 1]) * rng.uniform(1.05, 1.2)))
        for f, kind, lateral in sorted(objects):
            x = vx + lateral * road_half * f
            y = horizon + (self.h - horizon) * f
            s = f * self.h  # pixels per metre-ish at this depth
            getattr(self, f"_{kind}")(cv, rng, x, y, s)

    def _car(self, cv: _Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
        sid = cv.new_segment(CAR)
        bw, bh = s * rng.uniform(0.45, 0.6), s * rng.uniform(0.16, 0.2)
        body = _jitter(rng, tuple(rng.integers(20, 230, 3)), 0)
        cv.rect(x - bw / 2, y - bh, x + bw / 2, y - bh * 0.25, body, sid)
        cab = np.array([[x - bw * 0.35, y - bh], [x - bw * 0.27, y - bh * 1.75], [x + bw * 0.27, y - bh * 1.75],
                        [x + bw * 0.35, y - bh]])
        cv.poly(cab, body, sid)
        cv.poly(cab * [[1, 1]] + [[0, 0]] + np.array([[bw * 0.04, -bh * 0.05], [bw * 0.03, bh * 0.1],
                                                      [-bw * 0.03, bh * 0.1], [-bw * 0.04, -bh * 0.05]]),
                _jitter(rng, (50, 60, 80), 15), None)  # windscreen
        for wx in (x - bw * 0.32, x + bw * 0.32):
            cv.circle((wx, y - bh * 0.25), bh * 0.3, (25, 25, 25), sid)
        cv.rect(x - bw * 0.45, y - bh * 0.8, x - bw * 0.35, y - bh * 0.65, (250, 240, 200), None)
        cv.rect(x + bw * 0.35, y - bh * 0.8, x + bw * 0.45, y - bh * 0.65, (250, 240, 200), None)

    def _person_shape(self, cv: _Canvas, rng: np.random.Generator, x: float, y: float, s: float, sid: int,
                      height: float) -> None:
        ph = s * height
        shirt, trousers = _jitter(rng, tuple(rng.integers(30, 220, 3)), 0), _jitter(rng, (50, 50, 70), 30)
        leg = rng.uniform(-0.08, 0.08) * ph
        cv.line((x - ph * 0.05, y - ph * 0.5), (x - ph * 0.05 - leg, y), trousers, ph * 0.08, sid)
        cv.line((x + ph * 0.05, y - ph * 0.5), (x + ph * 0.05 + leg, y), trousers, ph * 0.08, sid)
        cv.rect(x - ph * 0.12, y - ph * 0.82, x + ph * 0.12, y - ph * 0.45, shirt, sid)
        cv.circle((x, y - ph * 0.9), ph * 0.08, _jitter(rng, (200, 160, 130), 40), sid)

    def _person(self, cv: _Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
        self._person_shape(cv, rng, x, y, s, cv.new_segment(PERSON), rng.uniform(0.3, 0.4))

    def _cyclist(self, cv: _Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
        sid = cv.new_segment(CYCLIST)
        r = s * 0.06
        frame = _jitter(rng, tuple(rng.integers(30, 220, 3)), 0)
        for wx in (x - r * 1.6, x + r * 1.6):
            cv.circle((wx, y - r), r, (30, 30, 30), sid)
            cv.circle((wx, y - r), r * 0.7, (0, 0, 0), None)
        cv.line((x - r * 1.6, y - r), (x, y - r * 2.4), frame, max(1, r * 0.25), sid)
        cv.line((x + r * 1.6, y - r), (x, y - r * 2.4), frame, max(1, r * 0.25), sid)
        self._person_shape(cv, rng, x, y - r * 1.5, s, sid, 0.3)

    def _sign(self, cv: _Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
        """A pole (stuff ``pole``) carrying a plate (stuff ``traffic_sign``), as CamVid labels them."""
        sid = cv.stuff_segment(TRAFFIC_SIGN)
        ph = s * rng.uniform(0.45, 0.6)
        cv.line((x, y), (x, y - ph), (150, 150, 150), max(1, s * 0.015), cv.stuff_segment(POLE))
        r = s * 0.06
        if rng.random() < 0.5:
            cv.circle((x, y - ph), r, (200, 20, 20), sid)
            cv.circle((x, y - ph), r * 0.7, (240, 240, 240), sid)
        else:
            tri = np.array([[x, y - ph - r], [x - r, y - ph + r * 0.8], [x + r, y - ph + r * 0.8]])
            cv.poly(tri, (230, 200, 20), sid)

    # -- photometry -------------------------------------------------------------------------------
    def _photometric(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        img = image.astype(np.float32)
        img *= rng.uniform(0.6, 1.3)                       # exposure
        img += rng.normal(0, 12, size=3)                   # colour cast
        ramp = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0), self.w)[None, :, None]
        img *= ramp                                        # vignetting / shading across the frame
        if rng.random() < 0.5:
            k = int(rng.choice([3, 5]))
            img = cv2.GaussianBlur(img, (k, k), 0)
        img += rng.normal(0, rng.uniform(2, 8), size=img.shape)  # sensor noise
        return np.clip(img, 0, 255).astype(np.uint8)
