"""Great-circle distances, bearings and destinations on a spherical Earth.

AIS positions are WGS 84 latitudes and longitudes in degrees. At the scales SeaSight works at
(a ship's track, a port radius, a 50 nm distance from shore) a sphere of the mean Earth radius
is accurate to about 0.5 %, which is far below the noise of the positions themselves, and it
keeps every function a few vectorised numpy expressions.

Every function broadcasts its arguments like numpy does (scalars, arrays, or a mix) and returns
float64 arrays (0-d for scalar input). Missing values (NaN) propagate as NaN.

Distances are in kilometres; :data:`KM_PER_NM` converts nautical miles, the unit of maritime
thresholds. Bearings are degrees clockwise from true north in ``[0, 360)``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numpy.typing import ArrayLike

#: Mean Earth radius (IUGG, R1 = (2a + b) / 3) in kilometres.
EARTH_RADIUS_KM = 6371.0088

#: Kilometres in one international nautical mile (exact).
KM_PER_NM = 1.852


def _f64(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def haversine_km(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> np.ndarray:
    """Great-circle distance in km between (lat1, lon1) and (lat2, lon2), in degrees.

    Uses the haversine formula, which is well conditioned for the short distances between
    consecutive AIS fixes.
    """
    p1 = np.radians(_f64(lat1))
    p2 = np.radians(_f64(lat2))
    dp = p2 - p1
    dl = np.radians(_f64(lon2) - _f64(lon1))
    h = np.sin(dp / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2.0) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def bearing_deg(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> np.ndarray:
    """Initial bearing (forward azimuth) from point 1 to point 2, degrees in ``[0, 360)``.

    The bearing of a point to itself is 0.
    """
    p1 = np.radians(_f64(lat1))
    p2 = np.radians(_f64(lat2))
    dl = np.radians(_f64(lon2) - _f64(lon1))
    y = np.sin(dl) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    b = np.degrees(np.arctan2(y, x)) % 360.0
    # -0.0 % 360 and values a hair below 360 would both print as 360
    return np.asarray(np.where(b >= 360.0, 0.0, b))


def destination(
    lat: ArrayLike, lon: ArrayLike, bearing_deg: ArrayLike, dist_km: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Point reached from (lat, lon) after ``dist_km`` along the great circle at ``bearing_deg``.

    Returns ``(lat, lon)`` in degrees, longitude normalised to ``[-180, 180)``.
    """
    p1 = np.radians(_f64(lat))
    l1 = np.radians(_f64(lon))
    th = np.radians(_f64(bearing_deg))
    d = _f64(dist_km) / EARTH_RADIUS_KM
    sin_p2 = np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(th)
    p2 = np.arcsin(np.clip(sin_p2, -1.0, 1.0))
    l2 = l1 + np.arctan2(np.sin(th) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * sin_p2)
    lon2 = (np.degrees(l2) + 180.0) % 360.0 - 180.0
    return np.asarray(np.degrees(p2)), np.asarray(lon2)


def unit_vectors(lat: ArrayLike, lon: ArrayLike) -> np.ndarray:
    """Points as 3-D unit vectors (earth-centred, shape ``(..., 3)``), for k-d tree searches.

    Nearest neighbours by straight-line (chord) distance between unit vectors are nearest
    neighbours on the sphere, with no trouble at the antimeridian or the poles; convert a chord
    to kilometres with :func:`chord_to_km` and back with :func:`km_to_chord`.
    """
    p = np.radians(_f64(lat))
    lam = np.radians(_f64(lon))
    cp = np.cos(p)
    return np.stack([cp * np.cos(lam), cp * np.sin(lam), np.sin(p)], axis=-1)


def chord_to_km(chord: ArrayLike) -> np.ndarray:
    """Great-circle distance in km for a chord between unit vectors (see :func:`unit_vectors`)."""
    c = np.clip(_f64(chord) / 2.0, 0.0, 1.0)
    return np.asarray(2.0 * EARTH_RADIUS_KM * np.arcsin(c))


def km_to_chord(dist_km: ArrayLike) -> np.ndarray:
    """Chord between unit vectors for a great-circle distance in km (inverse of chord_to_km)."""
    ang = np.clip(_f64(dist_km) / EARTH_RADIUS_KM, 0.0, np.pi)
    return np.asarray(2.0 * np.sin(ang / 2.0))


@nb.njit(cache=True, nogil=True)
def haversine_km_scalar(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two positions, for numba-compiled loops."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
