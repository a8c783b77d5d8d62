"""Screening vessel identities against watchlists.

Every identity period of the identity history (current and historical) is screened against
every entry of the given lists:

Identifiers (status ``confirmed``, score 100)
    exact IMO number, exact MMSI, and exact call sign (compared upper case without spaces or
    punctuation: ``5IM 592`` is ``5IM592``).
Names (status ``possible``)
    the vessel's reported name against each entry's name (``matched_on="name"``) and aliases
    (``"alias"``), both normalised by :func:`normalise_name` and scored with rapidfuzz's
    ``fuzz.ratio`` on the names without spaces (``CHONGCHON GANG`` is ``CHONG CHON GANG``;
    word order is not ignored: ship names are not reordered, and ``token_sort_ratio`` made
    reshuffled Korean syllables match). A pair is reported when the score reaches
    :attr:`ScreeningParams.name_threshold` *and* both names carry the same numbers (``KUM SONG
    3`` is not ``KUM SONG 5``, ``KUM UN SAN 3`` is not ``KUM UN SAN``: numbered ships of one
    series are different ships) *and* they start with the same letter (Korean names are short
    syllables: ``HONG BONG`` is not ``CHONG BONG``, ``BONG RYONG`` not ``KU BONG RYONG``).
    Short names (fewer than :attr:`ScreeningParams.min_fuzzy_chars` letters and digits) and
    generic names (made only of words of :attr:`ScreeningParams.generic_words` and numbers,
    e.g. ``LUCKY STAR``, ``GOLD STAR 3``) match only when their normalised forms are equal.

    Known limit: one letter added or dropped in a name of 7 to 12 letters still scores above
    the default threshold (``KU SONG 3`` against ``KUM SONG 3``): such pairs are reported as
    possible matches for an analyst to judge, as an AIS typing error would be.

IMO contradictions
    A match not on the IMO number (name, alias, call sign or MMSI) is marked ``contradiction =
    "imo"``, with ``vessel_imo`` and ``listed_imo``, when the entry lists a valid IMO number
    (correct check digit) and the vessel reports another valid one: in its matched identity
    period, or, when that period has none, the one valid IMO its other periods report (none
    or several: no contradiction). An IMO number belongs to the hull for its whole life, so
    such a match is most likely another ship of a similar name (or one that took over a
    reassigned call sign or MMSI); it is kept, since designated ships do broadcast false IMO
    numbers, and risk scoring weighs it lower (:mod:`seasight.risk.score`). An IMO failing its
    check digit contradicts nothing.

One row per (identity period, entry, kind of match): for names the best of the entry's name
and aliases. Scores are computed on unique names with ``rapidfuzz.process.cdist`` (all cores),
in blocks, so thousands of identities against the ~700 names and aliases of the OFAC list take
a fraction of a second.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Final

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from seasight.model.schema import UTC_US, conform, empty
from seasight.tracks.identity import valid_imo

if TYPE_CHECKING:
    from seasight.store import Store

#: One row per match of an identity period with a list entry.
MATCHES: Final[dict[str, pl.DataType]] = {
    "mmsi": pl.UInt32(),
    "list_name": pl.String(),
    "entry_id": pl.String(),
    "entry_name": pl.String(),
    "matched_on": pl.String(),  # imo | mmsi | callsign | name | alias
    "vessel_value": pl.String(),  # as the vessel reported it
    "list_value": pl.String(),  # as the list writes it
    "score": pl.Float32(),  # 0-100; 100 for identifiers
    "status": pl.String(),  # confirmed (identifier) | possible (name only)
    "valid_from": UTC_US,  # the identity period matched
    "valid_to": UTC_US,
    # "imo" when the match is not on IMO and the vessel and the entry both have valid IMO
    # numbers that differ (then likely another hull of a similar name), else null
    "contradiction": pl.String(),
    "vessel_imo": pl.UInt32(),  # the vessel's IMO the contradiction is about (else null)
    "listed_imo": pl.UInt32(),  # the entry's IMO it contradicts (else null)
}

MATCHED_ON: Final = ("imo", "mmsi", "callsign", "name", "alias")

#: Words that alone do not identify a ship: a name made only of these (and numbers) must match
#: exactly.
GENERIC_WORDS: Final = frozenset({
    "ASIA", "ATLANTIC", "BAY", "BLUE", "BRIDGE", "BRIGHT", "CAPE", "CARRIER", "CROWN",
    "DIAMOND", "DRAGON", "DREAM", "EAGLE", "EAST", "EVER", "EXPRESS", "FORTUNE", "FREEDOM",
    "GLOBAL", "GLORY", "GOLD", "GOLDEN", "GRACE", "GRAND", "GREAT", "HAPPY", "HARMONY",
    "HOPE", "HORIZON", "ISLAND", "JADE", "KING", "LIBERTY", "LIGHT", "LOTUS", "LUCKY",
    "MARINE", "MARINER", "NAVIGATOR", "NEW", "NORTH", "OCEAN", "OCEANIC", "ORIENT", "ORIENTAL",
    "PACIFIC", "PEARL", "PHOENIX", "PIONEER", "PRIDE", "PRINCESS", "QUEEN", "RIVER", "ROYAL",
    "SEA", "SILVER", "SKY", "SOUTH", "SPIRIT", "STAR", "SUCCESS", "SUN", "SUNRISE", "TRADER",
    "TREASURE", "UNITY", "VICTORY", "WAVE", "WEST", "WIND",
})


@dataclass(frozen=True)
class ScreeningParams:
    """Thresholds of name screening (identifier matches need none)."""

    #: Lowest fuzzy name score (0-100) reported as a possible match. 92 rather than 90: at 90
    #: one changed letter in a ten-letter Korean name passes (GANG LONG 1 / KANG SONG 1).
    name_threshold: float = 92.0
    #: Names with fewer letters and digits than this (after normalising) match only exactly:
    #: one changed letter in a short name is another name (MARIA/MARINA, ARVIN/SARVIN).
    min_fuzzy_chars: int = 7
    #: Generic words: a name made only of these and numbers matches only exactly.
    generic_words: frozenset[str] = GENERIC_WORDS
    #: Identities (unique names) scored per rapidfuzz block; bounds memory on large fleets.
    block_names: int = 4096


# --------------------------------------------------------------------------- names

_CYRILLIC: Final = {
    "А": "A", "Б": "B", "В": "V", "Г": "G", "Ґ": "G", "Д": "D", "Е": "E", "Ё": "E", "Є": "YE",
    "Ж": "ZH", "З": "Z", "И": "I", "І": "I", "Ї": "YI", "Й": "Y", "К": "K", "Л": "L",
    "М": "M", "Н": "N", "О": "O", "П": "P", "Р": "R", "С": "S", "Т": "T", "У": "U", "Ф": "F",
    "Х": "KH", "Ц": "TS", "Ч": "CH", "Ш": "SH", "Щ": "SHCH", "Ъ": "", "Ы": "Y", "Ь": "",
    "Э": "E", "Ю": "YU", "Я": "YA",
}
_CYRILLIC_TABLE: Final = str.maketrans(_CYRILLIC)

#: Whole-word spellings of common Korean syllables in ship names (McCune-Reischauer, Revised
#: Romanisation, DPRK usage) mapped to one form, applied after ``EO`` -> ``O`` and ``EU`` ->
#: ``U``: ``TAEDONG KANG`` and ``DAE DONG GANG`` compare equal.
KOREAN_VARIANTS: Final = {
    "KANG": "GANG", "GUM": "KUM", "KEUM": "KUM", "PONG": "BONG", "DONG": "TONG",
    "PAEK": "BAEK", "PAEG": "BAEK", "DAE": "TAE", "THAE": "TAE", "PHO": "PO",
    "PHYONG": "PYONG", "CHIN": "JIN", "KYONG": "GYONG", "GU": "KU", "THONG": "TONG",
    "PUNG": "BUNG",
}
_ROMAN: Final = re.compile(r"^(X{0,3})(IX|IV|V?I{0,3})$")
_ROMAN_UNITS: Final = {"": 0, "I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7,
                       "VIII": 8, "IX": 9}
_PREFIX: Final = re.compile(r"^\s*(?:M\s*[./]\s*[VT]\b\.?|M[VT]\b\.?)\s*")
_NUMBER_WORD: Final = re.compile(r"\b(?:NO|NR|N°)\s*\.?\s*(?=\d)")
_APOSTROPHES: Final = re.compile(r"['’`‘ʼ]")
_NON_ALNUM: Final = re.compile(r"[^A-Z0-9]+")
_LETTER_DIGIT: Final = re.compile(r"(?<=[A-Z])(?=\d)|(?<=\d)(?=[A-Z])")


def _roman(token: str) -> str:
    """``XIV`` -> ``14`` (1 to 39); any other word unchanged."""
    found = _ROMAN.match(token)
    if found is None or not token:
        return token
    return str(10 * len(found.group(1)) + _ROMAN_UNITS[found.group(2)])


def _word(token: str) -> str:
    if token.isdigit():
        return str(int(token))
    token = token.replace("EO", "O").replace("EU", "U")
    return KOREAN_VARIANTS.get(token, token)


@lru_cache(maxsize=200_000)
def normalise_name(text: str | None) -> str:
    """The comparable form of a ship name: upper-case ASCII words separated by one space.

    Steps, in order: Cyrillic letters transliterated (``ВОСТОК`` -> ``VOSTOK``, a simple
    GOST-like table); accents dropped (``Ŏ`` -> ``O``); a leading ``M/V``, ``MV``, ``M.V.``,
    ``M/T``, ``MT`` dropped; ``NO.``/``NO``/``NR`` before a number dropped (``KUM SONG NO.3``
    -> ``KUM SONG 3``); apostrophes removed (``CH'ONG`` -> ``CHONG``); other punctuation and
    ``-`` become spaces; letters and digits split (``HAOFAN2`` -> ``HAOFAN 2``); the word
    ``THE`` dropped; Roman numerals after the first word become digits (``ARGO I`` -> ``ARGO
    1``) and leading zeros go (``07`` -> ``7``); Korean romanisation variants unified: ``EO``
    -> ``O``, ``EU`` -> ``U`` and the syllables of :data:`KOREAN_VARIANTS`. Hangul, Chinese
    characters and other scripts are not romanised (they are dropped).

    >>> normalise_name("M/V Chong-Chon Kang")
    'CHONG CHON GANG'
    >>> normalise_name("The Kum Song No. 3")
    'KUM SONG 3'
    """
    if not text:
        return ""
    ascii_text = text.upper()
    if not ascii_text.isascii():
        ascii_text = "".join(
            c for c in unicodedata.normalize("NFKD", ascii_text.translate(_CYRILLIC_TABLE))
            if not unicodedata.combining(c)).upper()
    ascii_text = _PREFIX.sub("", ascii_text)
    ascii_text = _NUMBER_WORD.sub(" ", ascii_text)
    ascii_text = _APOSTROPHES.sub("", ascii_text)
    ascii_text = _LETTER_DIGIT.sub(" ", _NON_ALNUM.sub(" ", ascii_text))
    words = [w for w in ascii_text.split() if w != "THE"]
    words = [w if i == 0 else _roman(w) for i, w in enumerate(words)]
    return " ".join(_word(w) for w in words)


def normalise_callsign(text: str | None) -> str:
    """Upper case, letters and digits only (``5IM 592`` -> ``5IM592``)."""
    return _NON_ALNUM.sub("", (text or "").upper())


# --------------------------------------------------------------------------- matching


def _identifier_matches(ids: pl.DataFrame, entries: pl.DataFrame) -> list[pl.DataFrame]:
    out = []
    for col in ("imo", "mmsi"):
        left = ids.filter(pl.col(col).is_not_null() & (pl.col(col) > 0)).select(
            "_row", pl.col(col).alias("_key"), pl.col(col).cast(pl.String).alias("vessel_value"))
        right = entries.filter(pl.col(col).is_not_null() & (pl.col(col) > 0)).select(
            "_entry", pl.col(col).alias("_key"), pl.col(col).cast(pl.String).alias("list_value"))
        out.append(left.join(right, on="_key").drop("_key")
                   .with_columns(pl.lit(col).alias("matched_on")))
    key = pl.col("callsign").map_elements(normalise_callsign, return_dtype=pl.String)
    left = ids.filter(pl.col("callsign").is_not_null()).select(
        "_row", key.alias("_key"), pl.col("callsign").alias("vessel_value"))
    right = entries.filter(pl.col("callsign").is_not_null()).select(
        "_entry", key.alias("_key"), pl.col("callsign").alias("list_value"))
    out.append(left.filter(pl.col("_key").str.len_chars() >= 3)
               .join(right, on="_key").drop("_key")
               .with_columns(pl.lit("callsign").alias("matched_on")))
    return [f.with_columns(pl.lit(100.0, dtype=pl.Float32).alias("score")) for f in out]


@dataclass(frozen=True)
class _Names:
    """Unique normalised names with what the guards need, as arrays."""

    compact: list[str]
    numbers: np.ndarray  # code of the sorted numbers of each name
    exact: np.ndarray  # code of the compact name
    initial: np.ndarray  # code of the first letter or digit
    strict: np.ndarray  # True: short or generic, must match exactly


def _names(keys: list[str], params: ScreeningParams, codes: dict[str, int]) -> _Names:
    compact = [k.replace(" ", "") for k in keys]
    generic = {_word(w) for w in params.generic_words}
    numbers, strict = [], []
    for key, flat in zip(keys, compact, strict=True):
        words = key.split()
        digits = " ".join(sorted(w for w in words if w.isdigit()))
        alpha = [w for w in words if not w.isdigit()]
        numbers.append(codes.setdefault("#" + digits, len(codes)))
        strict.append(len(flat) < params.min_fuzzy_chars or all(w in generic for w in alpha))
    exact = [codes.setdefault(c, len(codes)) for c in compact]
    return _Names(compact, np.asarray(numbers, dtype=np.int64),
                  np.asarray(exact, dtype=np.int64),
                  np.asarray([ord(c[0]) if c else 0 for c in compact], dtype=np.int64),
                  np.asarray(strict, dtype=bool))


def name_pairs(vessel_names: list[str], list_names: list[str],
               params: ScreeningParams) -> pl.DataFrame:
    """Pairs of *normalised* names that match: columns ``vessel_key``, ``list_key``, ``score``.

    Vectorised: ``rapidfuzz.process.cdist`` on all cores, block by block.
    """
    codes: dict[str, int] = {}
    v = _names(vessel_names, params, codes)
    lst = _names(list_names, params, codes)
    schema = {"vessel_key": pl.String(), "list_key": pl.String(), "score": pl.Float32()}
    if not vessel_names or not list_names:
        return empty(schema)
    cutoff = params.name_threshold
    parts = []
    for lo in range(0, len(vessel_names), params.block_names):
        hi = min(lo + params.block_names, len(vessel_names))
        score = process.cdist(v.compact[lo:hi], lst.compact, scorer=fuzz.ratio,
                              dtype=np.float32, workers=-1, score_cutoff=cutoff)
        same = v.exact[lo:hi, None] == lst.exact[None, :]
        score[same] = 100.0
        ok = (score >= cutoff) & (v.numbers[lo:hi, None] == lst.numbers[None, :])
        ok &= v.initial[lo:hi, None] == lst.initial[None, :]
        ok &= same | ~(v.strict[lo:hi, None] | lst.strict[None, :])
        i, j = np.nonzero(ok)
        if len(i):
            parts.append(pl.DataFrame({
                "vessel_key": np.asarray(vessel_names, dtype=object)[lo + i].tolist(),
                "list_key": np.asarray(list_names, dtype=object)[j].tolist(),
                "score": np.round(score[i, j], 1),
            }, schema=schema))
    return pl.concat(parts) if parts else empty(schema)


def _normalised(values: pl.Series, raw: str, key: str) -> pl.DataFrame:
    """Each distinct value once, with its normalised form."""
    unique = values.unique().drop_nulls().to_list()
    return pl.DataFrame({raw: unique, key: [normalise_name(v) for v in unique]},
                        schema={raw: pl.String(), key: pl.String()})


def _name_matches(ids: pl.DataFrame, entries: pl.DataFrame,
                  params: ScreeningParams) -> pl.DataFrame:
    vessels = ids.filter(pl.col("shipname").is_not_null()).select(
        "_row", pl.col("shipname").alias("vessel_value"))
    vessels = vessels.join(_normalised(vessels["vessel_value"], "vessel_value", "vessel_key"),
                           on="vessel_value").filter(pl.col("vessel_key") != "")
    names = pl.concat([
        entries.select("_entry", pl.col("name").alias("list_value"),
                       pl.lit("name").alias("matched_on")),
        entries.select("_entry", pl.col("aliases").alias("list_value"),
                       pl.lit("alias").alias("matched_on"))
        .explode("list_value").filter(pl.col("list_value").is_not_null()),
    ])
    names = names.join(_normalised(names["list_value"], "list_value", "list_key"),
                       on="list_value").filter(pl.col("list_key") != "")
    pairs = name_pairs(vessels["vessel_key"].unique().sort().to_list(),
                       names["list_key"].unique().sort().to_list(), params)
    if pairs.height == 0:
        return pl.DataFrame()
    found = (vessels.join(pairs, on="vessel_key").join(names, on="list_key")
             .with_columns((pl.col("matched_on") == "name").alias("_is_name"))
             .sort(["_row", "_entry", "score", "_is_name"], descending=[False, False, True, True])
             .unique(["_row", "_entry"], keep="first", maintain_order=True))
    return found.select("_row", "_entry", "vessel_value", "list_value", "matched_on", "score")


def _valid_imo(col: pl.Expr) -> pl.Expr:
    """The IMO numbers of ``col`` that pass the check digit; null for the others."""
    imo = col.cast(pl.UInt32)
    ok = imo.map_batches(lambda s: pl.Series(valid_imo(s.cast(pl.Float64).to_numpy())),
                         return_dtype=pl.Boolean)
    return pl.when(imo.is_not_null() & ok).then(imo).otherwise(None)


def _vessel_imos(ids: pl.DataFrame) -> pl.DataFrame:
    """``_row``, mmsi, valid_from, valid_to and ``_vessel_imo`` of each identity period: its
    valid IMO, else the one valid IMO of the MMSI's other periods (null if none or several)."""
    own = ids.select("_row", "mmsi", "valid_from", "valid_to",
                     _valid_imo(pl.col("imo")).alias("_own"))
    single = (own.filter(pl.col("_own").is_not_null()).group_by("mmsi")
              .agg(pl.col("_own").unique().alias("_all"))
              .filter(pl.col("_all").list.len() == 1)
              .select("mmsi", pl.col("_all").list.first().alias("_other")))
    return (own.join(single, on="mmsi", how="left")
            .with_columns(pl.coalesce("_own", "_other").alias("_vessel_imo"))
            .drop("_own", "_other"))


def _contradiction() -> list[pl.Expr]:
    """``contradiction``, ``vessel_imo``, ``listed_imo`` of a match (see the module doc)."""
    differ = ((pl.col("matched_on") != "imo") & pl.col("_vessel_imo").is_not_null()
              & pl.col("_listed_imo").is_not_null()
              & (pl.col("_vessel_imo") != pl.col("_listed_imo")))
    return [pl.when(differ).then(pl.lit("imo")).otherwise(None).alias("contradiction"),
            pl.when(differ).then(pl.col("_vessel_imo")).otherwise(None).alias("vessel_imo"),
            pl.when(differ).then(pl.col("_listed_imo")).otherwise(None).alias("listed_imo")]


def screen(identities: pl.DataFrame, entries: pl.DataFrame,
           params: ScreeningParams | None = None) -> pl.DataFrame:
    """Screen every identity period against every list entry: a :data:`MATCHES` frame.

    ``identities`` has the :data:`seasight.model.schema.IDENTITIES` columns, ``entries`` the
    ``WATCHLIST_ENTRIES`` columns of :mod:`seasight.risk.watchlists`. Pure: no I/O.
    """
    params = params or ScreeningParams()
    if identities.height == 0 or entries.height == 0:
        return empty(MATCHES)
    ids = identities.with_row_index("_row")
    ents = entries.with_row_index("_entry")
    cols = ["_row", "_entry", "vessel_value", "list_value", "matched_on", "score"]
    parts = [p.select(cols) for p in _identifier_matches(ids, ents) if p.height]
    names = _name_matches(ids, ents, params)
    if names.height:
        parts.append(names.select(cols).with_columns(pl.col("score").cast(pl.Float32)))
    if not parts:
        return empty(MATCHES)
    order = {m: i for i, m in enumerate(MATCHED_ON)}
    found = (pl.concat(parts)
             .join(_vessel_imos(ids), on="_row")
             .join(ents.select("_entry", "list_name", "entry_id",
                               pl.col("name").alias("entry_name"),
                               _valid_imo(pl.col("imo")).alias("_listed_imo")), on="_entry")
             .with_columns(_contradiction())
             .with_columns(
                 pl.when(pl.col("matched_on").is_in(["name", "alias"]))
                 .then(pl.lit("possible")).otherwise(pl.lit("confirmed")).alias("status"),
                 pl.col("matched_on").replace_strict(order, return_dtype=pl.UInt8)
                 .alias("_order"))
             .sort(["mmsi", "valid_from", "list_name", "entry_id", "_order"],
                   nulls_last=True))
    return conform(found, MATCHES)


def screen_store(store: Store, params: ScreeningParams | None = None) -> pl.DataFrame:
    """Screen the stored identity history against every stored list, replace the table
    ``watchlist_matches`` and record what changed in ``screening_changes``."""
    from seasight.risk.watchlists import rescreen_store

    return rescreen_store(store, params)
