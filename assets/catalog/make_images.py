"""Draw the flat product illustrations for the demo catalog.

Reads ``demo.json`` next to this file and writes one 600x600 PNG per product
(its ``image`` path) plus ``images/placeholder.png``.  The silhouette is picked
from the last part of the product's ``category`` and filled with the colour
named in ``colour.en``.  Run with: ``python assets/catalog/make_images.py``.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
SIZE = 600
SS = 3  # supersampling factor, for smooth edges
FIT = 440  # longest side of the drawn item, in output pixels
BG = (239, 235, 229)

RGB = tuple[int, int, int]
Point = tuple[float, float]
Vertex = Sequence[float]  # (x, y) or (x, y, corner_radius)

COLOURS: dict[str, RGB] = {
    "black": (46, 45, 48),
    "tan": (184, 128, 80),
    "camel": (196, 146, 94),
    "white": (248, 247, 243),
    "navy": (40, 55, 96),
    "indigo": (56, 84, 136),
    "grey": (132, 134, 138),
    "oatmeal": (224, 210, 184),
    "bottle green": (34, 88, 62),
    "brown": (122, 76, 46),
    "mustard": (212, 162, 44),
}
STITCH = (222, 160, 78)
METAL = (201, 168, 96)
SOLE = (250, 249, 245)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """Blend colour ``a`` towards ``b`` by ``t`` (0..1)."""
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def dark(c: RGB, t: float = 0.25) -> RGB:
    return mix(c, (0, 0, 0), t)


def light(c: RGB, t: float = 0.25) -> RGB:
    return mix(c, (255, 255, 255), t)


def is_light(c: RGB) -> bool:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] > 170


def edge(c: RGB) -> RGB:
    """Outline colour: darker than the fill, but never pure black."""
    return dark(c, 0.28) if is_light(c) or sum(c) > 200 else light(c, 0.12)


def rounded(verts: Sequence[Vertex], steps: int = 10) -> list[Point]:
    """Closed polygon whose vertices may carry a corner radius as third item."""
    n = len(verts)
    out: list[Point] = []
    for i in range(n):
        p0, p1, p2 = verts[i - 1], verts[i], verts[(i + 1) % n]
        rad = p1[2] if len(p1) > 2 else 0.0
        if rad <= 0:
            out.append((p1[0], p1[1]))
            continue
        d1 = math.dist(p0[:2], p1[:2]) or 1.0
        d2 = math.dist(p2[:2], p1[:2]) or 1.0
        c = min(rad, d1 / 2, d2 / 2)
        a = (p1[0] + (p0[0] - p1[0]) * c / d1, p1[1] + (p0[1] - p1[1]) * c / d1)
        b = (p1[0] + (p2[0] - p1[0]) * c / d2, p1[1] + (p2[1] - p1[1]) * c / d2)
        for k in range(steps + 1):
            t = k / steps
            u = 1 - t
            out.append((
                u * u * a[0] + 2 * u * t * p1[0] + t * t * b[0],
                u * u * a[1] + 2 * u * t * p1[1] + t * t * b[1],
            ))
    return out


def bezier(p0: Point, p1: Point, p2: Point, p3: Point, steps: int = 40) -> list[Point]:
    """Points along a cubic Bezier curve."""
    pts: list[Point] = []
    for k in range(steps + 1):
        t = k / steps
        u = 1 - t
        pts.append((
            u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
            u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1],
        ))
    return pts


def transform(verts: Sequence[Vertex], cx: float, cy: float, angle: float = 0.0,
              mirror: bool = False) -> list[tuple[float, ...]]:
    """Mirror (in x), rotate by ``angle`` degrees and move local vertices to (cx, cy)."""
    ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    out: list[tuple[float, ...]] = []
    for v in verts:
        x = -v[0] if mirror else v[0]
        out.append((cx + x * ca - v[1] * sa, cy + x * sa + v[1] * ca, *v[2:]))
    return out


class Canvas:
    """RGBA drawing layer in 600-unit coordinates, supersampled by ``SS``."""

    def __init__(self) -> None:
        self.img = Image.new("RGBA", (SIZE * SS, SIZE * SS), (0, 0, 0, 0))
        self.d = ImageDraw.Draw(self.img)

    @staticmethod
    def _s(pts: Sequence[Sequence[float]]) -> list[Point]:
        return [(p[0] * SS, p[1] * SS) for p in pts]

    def shape(self, verts: Sequence[Vertex], fill: RGB, outline: RGB | None = None,
              width: float = 3) -> None:
        pts = self._s(rounded(verts))
        self.d.polygon(pts, fill=fill)
        if outline is not None:
            self.d.line([*pts, pts[0], pts[1]], fill=outline, width=round(width * SS),
                         joint="curve")

    def ellipse(self, box: Sequence[float], fill: RGB | None, outline: RGB | None = None,
                width: float = 3) -> None:
        self.d.ellipse([v * SS for v in box], fill=fill, outline=outline,
                       width=round(width * SS))

    def rect(self, box: Sequence[float], r: float, fill: RGB | None,
             outline: RGB | None = None, width: float = 3) -> None:
        self.d.rounded_rectangle([v * SS for v in box], radius=r * SS, fill=fill,
                                 outline=outline, width=round(width * SS))

    def line(self, pts: Sequence[Point], fill: RGB, width: float = 3) -> None:
        sp = self._s(pts)
        w = width * SS
        self.d.line(sp, fill=fill, width=round(w), joint="curve")
        for x, y in (sp[0], sp[-1]):
            self.d.ellipse([x - w / 2, y - w / 2, x + w / 2, y + w / 2], fill=fill)

    def strap(self, pts: Sequence[Point], fill: RGB, width: float) -> None:
        """A thick band with an outline, e.g. a handle or sandal strap."""
        self.line(pts, edge(fill), width + 5)
        self.line(pts, fill, width)

    def dashed(self, pts: Sequence[Point], fill: RGB, dash: float = 9, gap: float = 6,
               width: float = 2.2) -> None:
        """Stitching along a polyline."""
        on, left, seg = True, dash, [pts[0]]
        for a, b in itertools.pairwise(pts):
            length = math.dist(a, b)
            pos = 0.0
            while length - pos > left:
                pos += left
                t = pos / length
                p = (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
                if on:
                    self.d.line(self._s([*seg, p]), fill=fill, width=round(width * SS))
                on, left, seg = not on, (gap if on else dash), [p]
            left -= length - pos
            seg.append(b)
        if on and len(seg) > 1:
            self.d.line(self._s(seg), fill=fill, width=round(width * SS))

    def ribs(self, x0: float, x1: float, y0: float, y1: float, step: float, fill: RGB,
             width: float = 2) -> None:
        """Vertical knit ribbing lines inside a band."""
        x = x0 + step / 2
        while x < x1:
            self.d.line(self._s([(x, y0), (x, y1)]), fill=fill, width=round(width * SS))
            x += step


# --------------------------------------------------------------- silhouettes
def draw_boot(cv: Canvas, c: RGB) -> None:
    out = edge(c)
    sole = (58, 52, 48) if not is_light(c) and sum(c) < 200 else (70, 54, 42)
    # pull tab behind the shaft
    cv.shape([(396, 150), (402, 92, 10), (438, 92, 10), (432, 150)], dark(c, 0.15), out)
    cv.shape([
        (82, 428, 12), (452, 436, 0), (452, 478, 5), (364, 478, 5), (358, 464, 0),
        (108, 464, 18), (82, 450, 12),
    ], sole, dark(sole, 0.3))
    cv.line([(92, 446), (356, 446)], light(sole, 0.18), 2)
    cv.shape([
        (290, 138, 6), (430, 132, 6), (436, 300, 40), (452, 390, 50), (450, 440, 0),
        (108, 440, 22), (86, 414, 28), (112, 382, 50), (206, 350, 60),
        (272, 316, 40), (292, 252, 40),
    ], c, out)
    # elastic gusset with ribbing
    cv.shape([(322, 136, 4), (394, 133, 4), (380, 300, 34), (338, 300, 34)], dark(c, 0.3),
             out, 2.5)
    for i in range(1, 7):
        x0, x1 = 322 + i * 10.3, 338 + i * 6
        cv.line([(x0, 140), (min(max(x1, 345), 372), 290)], dark(c, 0.42), 2)
    cv.line(bezier((118, 392), (150, 374), (180, 362), (214, 356)), light(c, 0.28), 6)
    cv.dashed(bezier((100, 428), (200, 430), (330, 430), (444, 428)), light(c, 0.22))


def draw_sneaker(cv: Canvas, c: RGB) -> None:
    leather = is_light(c)  # light colours get a leather court shoe, dark ones canvas
    out = (150, 146, 140) if leather else edge(c)
    sole_out = (168, 164, 158)
    lace = (204, 200, 192) if leather else (246, 244, 238)
    # tongue, then the upper
    cv.shape([(262, 310, 8), (284, 254, 14), (318, 250, 12), (322, 272, 8), (300, 330)],
             (238, 236, 230) if leather else dark(c, 0.15), out)
    upper: list[Vertex] = [
        (90, 394, 0), (78, 380, 16), (104, 356, 34), (196, 330, 50), (266, 298, 16),
        (300, 290, 20), (352, 306, 40), (400, 300, 30), (436, 282, 16), (452, 318, 34),
        (456, 394, 0),
    ]
    cv.shape(upper, c, out)
    # eyestay panel with eyelets and laces
    stay: list[Vertex] = [(176, 338, 12), (266, 298, 10), (298, 292, 6), (300, 316, 8),
                          (186, 360, 12)]
    cv.shape(stay, dark(c, 0.06) if leather else light(c, 0.06), out, 2.5)
    eyes = [(284 - i * 24, 306 + i * 11) for i in range(5)]
    for x, y in eyes:
        cv.ellipse((x - 4.5, y - 4.5, x + 4.5, y + 4.5), (236, 232, 224) if not leather
                   else (120, 116, 110), out, 1.5)
        cv.line([(x, y), (x + 12, y - 22)], lace, 6)
        cv.line([(x, y), (x + 12, y - 22)], out, 1)
    # bow at the top of the laces
    for dx, dy in ((-26, -16), (14, -24)):
        cv.ellipse((296 + dx - 14, 272 + dy - 9, 296 + dx + 14, 272 + dy + 9), None, lace, 5)
    cv.line(bezier((296, 274), (300, 300), (318, 306), (328, 330)), lace, 5)
    cv.line(bezier((296, 274), (284, 300), (290, 320), (282, 344)), lace, 5)
    if leather:
        accent = (60, 104, 86)
        cv.shape([(424, 286, 10), (444, 296, 20), (454, 330, 20), (456, 380, 0),
                  (430, 380, 8)], accent, edge(accent), 2.5)
        cv.dashed(bezier((200, 372), (260, 360), (340, 360), (420, 352)), (200, 196, 188))
        for i in range(3):  # perforations
            for j in range(2):
                x, y = 126 + i * 16 + j * 8, 366 + j * 10
                cv.ellipse((x - 2.5, y - 2.5, x + 2.5, y + 2.5), (190, 186, 178))
    # rubber sole, with a toe cap on canvas shoes
    cv.shape([(74, 392, 20), (462, 392, 8), (462, 440, 12), (100, 440, 24), (70, 418, 16)],
             SOLE, sole_out)
    cv.line([(84, 424), (454, 424)], (214, 210, 202) if leather else c, 3)
    if not leather:
        cv.shape([(72, 396, 20), (96, 360, 26), (150, 348, 30), (160, 396, 0)], SOLE,
                 sole_out, 2.5)


def draw_sandals(cv: Canvas, c: RGB) -> None:
    footbed = mix(c, (236, 222, 196), 0.65)
    sole: list[Vertex] = [
        (-12, -188, 40), (44, -180, 40), (74, -130, 40), (74, -70, 40), (54, 20, 60),
        (50, 110, 60), (52, 160, 40), (20, 192, 40), (-32, 184, 40), (-54, 130, 40),
        (-56, 40, 60), (-66, -60, 40), (-66, -140, 40), (-46, -182, 40),
    ]
    for cx, ang, mir in ((206, -6, True), (394, 6, False)):
        def f(pts: Sequence[Vertex], cx: float = cx, ang: float = ang,
              mir: bool = mir) -> list[tuple[float, ...]]:
            return transform(pts, cx, 300, ang, mir)

        cv.shape(f([(v[0] * 1.06, v[1] * 1.03 + 6, v[2]) for v in sole]), dark(c, 0.35),
                 dark(c, 0.5))
        cv.shape(f(sole), footbed, dark(footbed, 0.25))
        heel = f([(0, 150)])[0]
        cv.ellipse((heel[0] - 30, heel[1] - 22, heel[0] + 30, heel[1] + 22),
                   dark(footbed, 0.07))
        for strap, w in (
            (bezier((-82, -118), (-30, -132), (30, -122), (84, -98), 20), 24),
            (bezier((-76, -20), (-20, -60), (30, -70), (80, -88), 20), 20),
            (bezier((-74, -84), (-20, -54), (30, -30), (70, 10), 20), 20),
        ):
            cv.strap([(p[0], p[1]) for p in f(strap)], c, w)
        ankle = bezier((-66, 118), (-70, 70), (74, 70), (70, 118), 24)
        cv.strap([(p[0], p[1]) for p in f(ankle)], c, 16)
        bx, by = f([(70, 112)])[0][:2]
        cv.rect((bx - 13, by - 16, bx + 13, by + 16), 5, None, dark(METAL, 0.3), 7)
        cv.rect((bx - 13, by - 16, bx + 13, by + 16), 5, None, METAL, 4)


def _torso(cv: Canvas, c: RGB, top: float, hem: float, cuff: float,
           shoulder: float = 118, hem_half: float = 110) -> None:
    """Sleeves and body shared by the garments (front view)."""
    out = edge(c)
    for m in (False, True):
        sleeve = transform([
            (-96, top + 14, 20), (-shoulder - 8, top + 30, 40), (-168, cuff - 60, 20),
            (-176, cuff, 4), (-126, cuff + 6, 4), (-112, cuff - 120, 30),
            (-100, top + 110, 10),
        ], 300, 0, 0, m)
        cv.shape(sleeve, c, out)
    cv.shape([
        (-40 + 300, top - 8, 8), (-96 + 300, top + 12, 30), (-shoulder + 300, top + 36, 30),
        (-104 + 300, top + 110, 20), (-hem_half + 300, hem, 4), (hem_half + 300, hem, 4),
        (104 + 300, top + 110, 20), (shoulder + 300, top + 36, 30),
        (96 + 300, top + 12, 30), (40 + 300, top - 8, 8),
    ], c, out)


def draw_jacket(cv: Canvas, c: RGB) -> None:
    top, hem, cuff = 128, 462, 440
    out = edge(c)
    _torso(cv, c, top, hem, cuff, 124, 114)
    band = dark(c, 0.1)
    for m in (False, True):  # cuffs
        cv.shape(transform([(-172, cuff - 34, 2), (-176, cuff, 4), (-126, cuff + 6, 4),
                            (-124, cuff - 28, 2)], 300, 0, 0, m), band, out)
    cv.shape([(186, hem - 36), (414, hem - 36), (414, hem, 4), (186, hem, 4)], band, out)
    cv.dashed([(190, hem - 28), (410, hem - 28)], STITCH)
    cv.dashed(bezier((186, 214), (240, 226), (360, 226), (414, 214)), STITCH)
    for m in (False, True):
        # chest pocket flap and pocket
        pk = transform([(-86, 236), (-36, 236), (-36, 262), (-61, 276), (-86, 262)],
                       300, 0, 0, m)
        cv.shape(pk, dark(c, 0.06), out, 2.5)
        cv.dashed([(p[0], p[1]) for p in transform([(-80, 244), (-42, 244)], 300, 0, 0, m)],
                  STITCH)
        bx = 300 + (61 if m else -61)
        cv.ellipse((bx - 6, 258, bx + 6, 270), METAL, dark(METAL, 0.3), 2)
        # pointed collar
        cv.shape(transform([(-42, top - 10, 6), (-4, top + 50, 2), (-46, top + 80, 4),
                            (-82, top + 14, 8)], 300, 0, 0, m), dark(c, 0.08), out)
    cv.line([(300, top + 50), (300, hem)], out, 2.5)
    cv.dashed([(310, top + 60), (310, hem - 40)], STITCH)
    for y in range(top + 80, hem - 40, 58):
        cv.ellipse((311, y - 8, 327, y + 8), METAL, dark(METAL, 0.3), 2)


def draw_coat(cv: Canvas, c: RGB) -> None:
    top, hem, cuff = 80, 560, 476
    out = edge(c)
    _torso(cv, c, top, hem, cuff, 126, 136)
    cv.line([(300, 290), (312, hem)], out, 2.5)  # front overlap
    for m in (False, True):
        # notched lapel
        cv.shape(transform([(-38, top - 10, 4), (-8, top + 10), (4, 300, 4), (-58, 180, 4),
                            (-76, 156, 2), (-58, 142, 2), (-74, top + 8, 6)], 300, 0, 0, m),
                 dark(c, 0.12), out)
        # hip pocket flap
        cv.shape(transform([(-116, 420, 3), (-52, 416, 3), (-52, 440, 3), (-116, 444, 3)],
                           300, 0, 0, m), dark(c, 0.06), out, 2.5)
    cv.shape([(260, top - 10, 6), (300, top + 6), (340, top - 10, 6), (300, top + 40, 4)],
             dark(c, 0.35))
    for y in (320, 380):
        for x in (276, 336):
            cv.ellipse((x - 9, y - 9, x + 9, y + 9), dark(c, 0.45), dark(c, 0.6), 2)


def _knit_edges(cv: Canvas, c: RGB, top: float, hem: float, cuff: float) -> None:
    out = edge(c)
    rib = dark(c, 0.12)
    for m in (False, True):
        cv.shape(transform([(-172, cuff - 30, 2), (-176, cuff, 4), (-126, cuff + 6, 4),
                            (-123, cuff - 26, 2)], 300, 0, 0, m), rib, out)
        x0 = 300 + (126 if m else -176)
        cv.ribs(x0, x0 + 50, cuff - 26, cuff, 7, dark(c, 0.22))
    cv.shape([(194, hem - 40), (406, hem - 40), (406, hem, 4), (194, hem, 4)], rib, out)
    cv.ribs(194, 406, hem - 38, hem - 2, 8, dark(c, 0.22))


def draw_jumper(cv: Canvas, c: RGB) -> None:
    top, hem, cuff = 150, 470, 446
    _torso(cv, c, top, hem, cuff, 120, 106)
    _knit_edges(cv, c, top, hem, cuff)
    # subtle cable knit panel down the front
    for x in (266, 334):  # two braided cables
        for phase in (0.0, math.pi):
            pts = [(x + 9 * math.sin(y / 10 + phase), y) for y in range(top + 56, hem - 46, 2)]
            cv.line(pts, dark(c, 0.1), 3.5)
        cv.line([(x - 16, top + 50), (x - 16, hem - 44)], dark(c, 0.07), 2)
        cv.line([(x + 16, top + 50), (x + 16, hem - 44)], dark(c, 0.07), 2)
    cv.ellipse((252, top - 22, 348, top + 30), dark(c, 0.12), edge(c))
    cv.ellipse((266, top - 14, 334, top + 14), dark(c, 0.4), None)


def draw_cardigan(cv: Canvas, c: RGB) -> None:
    top, hem, cuff = 150, 470, 446
    out = edge(c)
    _torso(cv, c, top, hem, cuff, 120, 106)
    _knit_edges(cv, c, top, hem, cuff)
    cv.shape([(262, top - 8, 6), (338, top - 8, 6), (300, 300, 4)], dark(c, 0.45), out)
    band = dark(c, 0.1)
    cv.shape([(254, top - 6, 4), (268, top - 8), (306, 292), (306, hem, 2), (292, hem, 2),
              (292, 300)], band, out, 2.5)
    cv.shape([(346, top - 6, 4), (332, top - 8), (306, 270), (306, 300)], band, out, 2.5)
    for y in range(316, hem - 40, 36):
        cv.ellipse((292, y - 7, 306, y + 7), (236, 230, 218), (170, 164, 154), 2)
    for m in (False, True):  # patch pockets
        cv.shape(transform([(-90, 360, 4), (-40, 360, 4), (-40, 410, 8), (-90, 410, 8)],
                           300, 0, 0, m), dark(c, 0.04), out, 2.5)


def draw_tote(cv: Canvas, c: RGB) -> None:
    out = edge(c)
    back = dark(c, 0.25)
    cv.strap(bezier((252, 232), (240, 10), (360, 10), (348, 232)), back, 18)
    cv.shape([(166, 226, 8), (434, 226, 8), (404, 486, 14), (196, 486, 14)], c, out)
    cv.shape([(166, 226, 8), (434, 226, 8), (431, 252), (169, 252)], dark(c, 0.1), out, 2.5)
    cv.dashed([(174, 258), (426, 258), (400, 478), (200, 478), (174, 258)], light(c, 0.35))
    cv.strap(bezier((222, 246), (200, -20), (400, -20), (378, 246)), c, 20)
    for x in (222, 378):
        cv.rect((x - 18, 236, x + 18, 286), 6, dark(c, 0.08), out, 2.5)
        cv.ellipse((x - 5, 264, x + 5, 274), METAL)


def draw_crossbody(cv: Canvas, c: RGB) -> None:
    out = edge(c)
    strap = bezier((204, 300), (130, -80), (470, -80), (396, 300), 80)
    cv.strap(strap, c, 8)
    x, y = strap[62]  # adjuster buckle on the strap
    cv.rect((x - 9, y - 15, x + 9, y + 15), 3, None, dark(METAL, 0.3), 7)
    cv.rect((x - 9, y - 15, x + 9, y + 15), 3, None, METAL, 4)
    for x in (204, 396):
        cv.ellipse((x - 12, 284, x + 12, 308), None, METAL, 5)
    cv.rect((184, 300, 416, 470), 30, c, out)
    cv.shape([(180, 296, 24), (420, 296, 24), (420, 384, 70), (300, 412, 0), (180, 384, 70)],
             light(c, 0.08), out)
    flap = rounded([(194, 306, 18), (406, 306, 18), (406, 378, 60), (300, 400, 0),
                    (194, 378, 60)])
    cv.dashed([*flap, (210, 306)], light(c, 0.3))
    cv.rect((284, 396, 316, 426), 6, METAL, dark(METAL, 0.35), 2.5)


def draw_beanie(cv: Canvas, c: RGB) -> None:
    out = edge(c)
    cv.d.chord([170 * SS, 170 * SS, 430 * SS, 600 * SS], 180, 360, fill=c)
    cv.d.arc([170 * SS, 170 * SS, 430 * SS, 600 * SS], 180, 360, fill=out, width=3 * SS)
    for k in range(1, 10):  # ribs curving over the crown
        t = k / 10
        x = 170 + 260 * t
        cv.line(bezier((x, 372), (x, 250), (300 + (x - 300) * 0.45, 190), (300, 176)),
                dark(c, 0.14), 3)
    cv.rect((156, 350, 444, 452), 18, dark(c, 0.08), out)
    cv.ribs(160, 440, 356, 446, 13, dark(c, 0.2), 3)
    # pompom
    pc = light(c, 0.1)
    for i in range(36):
        a = i * math.tau / 36
        x, y = 300 + 54 * math.cos(a), 150 + 50 * math.sin(a)
        cv.ellipse((x - 14, y - 14, x + 14, y + 14), pc, edge(c), 2)
    cv.ellipse((252, 104, 348, 196), pc)
    for i in range(40):
        a, r = i * 2.4, 8 + (i * 37 % 40)
        x, y = 300 + r * math.cos(a), 150 + r * math.sin(a)
        cv.line([(x, y), (x + 4, y + 3)], dark(pc, 0.12), 2.5)


def draw_placeholder(cv: Canvas, c: RGB) -> None:
    g = (186, 181, 174)
    cv.rect((170, 210, 430, 400), 28, None, g, 10)
    cv.rect((232, 182, 300, 214), 8, g)
    cv.ellipse((250, 248, 350, 348), None, g, 10)
    cv.ellipse((384, 236, 402, 254), g)
    cv.line([(176, 440), (424, 168)], BG, 26)
    cv.line([(176, 440), (424, 168)], g, 10)


DRAWERS: dict[str, Callable[[Canvas, RGB], None]] = {
    "boots": draw_boot,
    "sneakers": draw_sneaker,
    "sandals": draw_sandals,
    "jackets": draw_jacket,
    "coats": draw_coat,
    "jumpers": draw_jumper,
    "cardigans": draw_cardigan,
    "totes": draw_tote,
    "crossbody": draw_crossbody,
    "hats": draw_beanie,
}


def render(drawer: Callable[[Canvas, RGB], None], colour: RGB, path: Path,
           shadow: bool = True) -> None:
    """Draw one illustration on the neutral background and save it as a small PNG."""
    cv = Canvas()
    drawer(cv, colour)
    big = SIZE * SS
    box = cv.img.getbbox()
    if box is not None:  # scale to a common size and centre (the shadow falls below)
        item = cv.img.crop(box)
        k = min(FIT * SS / max(item.size), 1.3)
        item = item.resize((round(item.width * k), round(item.height * k)),
                           Image.Resampling.LANCZOS)
        cv.img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
        cv.img.paste(item, ((big - item.width) // 2, (big - 10 * SS - item.height) // 2))
    base = Image.new("RGBA", (big, big), (*BG, 255))
    if shadow:
        alpha = cv.img.getchannel("A")
        sh = Image.new("L", (big, big), 0)
        sh.paste(alpha, (6 * SS, 12 * SS))
        sh = sh.filter(ImageFilter.GaussianBlur(10 * SS)).point(lambda v: v * 60 // 255)
        base.paste(Image.new("RGBA", (big, big), (70, 60, 50, 255)), (0, 0), sh)
    base.alpha_composite(cv.img)
    out = base.convert("RGB").resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    out = out.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.save(path, optimize=True)


def main() -> None:
    catalog = json.loads((HERE / "demo.json").read_text(encoding="utf-8"))
    count = 0
    for product in catalog["products"]:
        kind = product["category"].rsplit("/", 1)[-1]
        colour = COLOURS.get(product["colour"]["en"], (150, 150, 150))
        render(DRAWERS.get(kind, draw_placeholder), colour, HERE / product["image"])
        count += 1
    render(draw_placeholder, BG, HERE / "images" / "placeholder.png", shadow=False)
    print(f"wrote {count} product images + placeholder.png to {HERE / 'images'}")


if __name__ == "__main__":
    main()
