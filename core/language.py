"""Which of our languages a message is written in, from its script, letters and common words.

No model: Cyrillic means Russian; Azerbaijani's own letters (ə ğ ı, and ş ç ö ü beside them) mean Azerbaijani;
for plain Latin text (English, Azerbaijani typed without its letters, Russian in Latin letters) the words
decide. A message too short or too mixed to tell returns None, and the caller keeps the language it had.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

_AZ_STRONG = set("əğı")  # letters no other supported language uses
_AZ_WEAK = set("şçöü")

# Frequent function words and domain words, written as people type them without special letters.
_AZ_WORDS = frozenset(
    """
    salam salamlar sagol sag ol tesekkur tesekkurler minnetdaram xahis zehmet olmasa nece nedir ne niye neye
    harada haradan hara hansi kim men menim mene meni sen sizin size biz bu o var yox beli xeyr edim etmek
    edirem etmeliyem etmek lazim lazimdir olar olmaq olur olsun ucun haqqinda ile ve amma yoxsa isteyirem
    isteyirik bilerem bilmirem bilirsiz bilersiniz qeydiyyat qeydiyyata qeydiyyatdan yasayis yasamaq icaze
    icazesi icazesini vetendasliq vetendasligi vetendasi qacqin qacqin statusu vetendasligi olmayan muveqqeti
    daimi miqrasiya xidmeti xidmet muraciet muracieti sened senedler senedleri pasportum rusum odenis gun
    gunluk gunu muddet muddeti uzatmaq uzadilmasi is isci isleyirem islemek necedir neceyem yaxsi cavab
    danis danisin dilinde dilde azerbaycan azerbaycanca azerbaycan dili insan operator emekdas kecin
    """.split()
)
_RU_LATIN_WORDS = frozenset(
    """
    privet zdravstvuyte zdravstvuite dobryi dobriy den vecher spasibo pozhaluista pozhaluysta pojaluysta
    kak kakie kakoy chto shto gde kogda skolko pochemu mne menya moy moya moi nuzhno nado mozhno khochu hochu
    poluchit oformit prodlit razreshenie razreshenia razreshenie na rabotu vid na zhitelstvo vnj rvp
    grazhdanstvo grajdanstvo registraciya registratsiya propiska bezhenec bezhentsa status dokumenty
    dokumentov srok sroki ya ty vy on ona eto dlya est net da ili ne na po rabota rabotu zhitelstvo
    govorit russkiy russki po-russki operator chelovek
    """.split()
)
_EN_WORDS = frozenset(
    """
    the a an what how is are do does did i my me you your can could would should need needs to for of in on
    at where when which who why hello hi hey thanks thank please help register registration apply application
    status refugee stateless permit residence visa work citizenship document documents fee fees much long
    get getting renew extend extension lost passport how's want know about with from there this that it
    and or not no yes human person operator speak english language
    """.split()
)


@dataclass(frozen=True)
class Detection:
    language: str
    confidence: float  # share of the evidence that points to `language`


def _strip_accents(word: str) -> str:
    """`qeydiyyatdan` for `qeydiyyatdan`, `vetendasliq` for `vətəndaşlıq`: compares typed-plain and proper."""
    word = word.replace("ə", "e").replace("ı", "i").replace("Ə", "e")
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def detect_language(text: str) -> Detection | None:
    lowered = text.lower()
    letters = [ch for ch in lowered if ch.isalpha()]
    if len(letters) < 2:
        return None
    cyrillic = sum(1 for ch in letters if "CYRILLIC" in unicodedata.name(ch, ""))
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    if cyrillic > latin:
        return Detection("ru", cyrillic / len(letters))
    if latin == 0:
        return None

    scores = {"az": 0.0, "ru": 0.0, "en": 0.0}
    if any(ch in _AZ_STRONG for ch in lowered):
        scores["az"] += 3
    scores["az"] += 0.5 * sum(1 for ch in lowered if ch in _AZ_WEAK)
    for word in _WORD.findall(lowered):
        plain = _strip_accents(word)
        if plain in _AZ_WORDS:
            scores["az"] += 1
        if plain in _RU_LATIN_WORDS:
            scores["ru"] += 1
        if plain in _EN_WORDS:
            scores["en"] += 1
    total = sum(scores.values())
    if total == 0:
        return None
    best = max(scores, key=scores.__getitem__)
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] == ranked[1]:
        return None
    return Detection(best, scores[best] / total)
