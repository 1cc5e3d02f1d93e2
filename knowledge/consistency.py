"""Checks an entry's three languages against each other and against the glossary of legal terms.

`figures(text)`: the numbers a text states, written so that the three languages compare equal when they say the
same thing. `figure_mismatches(entry)`: where an answer (or a question) states a number the other languages do
not. `glossary_problems(entry)`: wordings knowledge/glossary.yml tells staff to avoid. `problems(entry)`: both;
`python -m knowledge validate` and `import` refuse a file with any.

How numbers are read (the order below is the order they are taken out of the text, so a phone number is never
also read as an amount):
- Web addresses and e-mail addresses are skipped: "migration.gov.az/en/useful_detail/567" is a link, not a fact,
  and a link may point to each language's own page.
- International phone numbers: "+994 51 207 59 96", "+994-51-207-59-96", "(+994 51) 2075996" → "+994512075996"
  (a plus, the country code and, for Azerbaijan, exactly 9 more digits; other countries: the digits up to the
  next character that is not a digit, space, hyphen or bracket).
- Local numbers with the area code: "(012) 919", "(012) 493 12 34", "012 493 12 34" → "(012) 919",
  "(012) 4931234". Short numbers (919, 108, 112) stay plain numbers like any other.
- Leading zeros are kept on numbers of three digits or more ("012" stays "012" and never equals the amount
  "12"), and dropped on one- and two-digit numbers ("09" is the hour or day 9).
- Dates "25.11.2025" and "2025-11-25" → the day and the year (25, 2025): the other languages write the month
  as a word, which is not a figure. A month written in digits elsewhere is therefore not compared.
- Times "9:00", "09:00" → "9:00".
- Legal article numbers with two or more dots ("45.1.1") stay as written: they are the same in every language.
  Legal act numbers such as "Law 421-IQ" / "Закон 421-IQ" / "421-IQ nömrəli Qanun" give "421" in every
  language, so they need no exception.
- Thousands: "1 000" (space, no-break or thin space), "1,000", "1.000" → "1000". A group separator is a
  space, comma or dot followed by exactly three digits; so "3,500" is 3500, never 3.5. Two three-digit numbers
  with only a space between ("102 103") read as one amount: separate service numbers with a comma or a word.
- Decimals: "21.9", "3,5" → "21.9", "3.5" (trailing zeros dropped). "10,15" with no space is the decimal 10.15;
  a list is written "10, 15".
- Ranges "300-400", "300–400", "300 to 400" give their two ends (300, 400), so every spelling compares equal.
- Suffixes and ordinals do not matter: "2014-cü", "1-dən", "15th", "919-da" → 2014, 1, 15, 919.
- Numbers written as words ("one year", "bir il") are not figures: the house style writes numbers in digits,
  so a language that spells a number out is reported as lacking it.
Figures are compared as sets per language: saying a number twice in one language and once in another is fine.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, field_validator

from core.settings import LANGUAGES
from knowledge.schema import EntryData

GLOSSARY_PATH = Path(__file__).resolve().parent / "glossary.yml"

_D = "[0-9]"  # \d would also take Arabic-Indic and other digits
_NOT_BEFORE = r"(?<![0-9.,])"  # a number starts here, not in the middle of "1.000" or "3,5"
_SPACE = "[ \u00a0\u202f\u2009]"  # space, no-break space, narrow no-break space, thin space
_SEP = "[ \u00a0-]"  # between the groups of a phone number (never a line break: a new line is a new statement)

_LINK = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\b(?:[a-z0-9-]+\.)+(?:az|com|org|net|gov|int|ru|info|edu|io|uk|eu|tr)\b(?:/\S*)?",
    re.IGNORECASE,
)
_PHONE_AZ = re.compile(
    rf"\+{_SPACE}?\(?994\)?{_SEP}?\(?{_D}{{2}}\)?{_SEP}?{_D}{{3}}{_SEP}?{_D}{{2}}{_SEP}?{_D}{{2}}(?![0-9])"
)
_PHONE_INTL = re.compile(rf"\+{_SPACE}?{_D}[0-9 \u00a0()-]{{5,}}{_D}(?![0-9])")
_PHONE_LOCAL = re.compile(
    rf"(?<![0-9])(?:\(0{_D}{{2}}\){_SPACE}?|0{_D}{{2}}[ -])"
    rf"(?:{_D}{{3}}[ -]?{_D}{{2}}[ -]?{_D}{{2}}|{_D}{{3,4}})(?![0-9])"
)
_DATE_DMY = re.compile(rf"(?<![0-9.])({_D}{{1,2}})\.({_D}{{1,2}})\.({_D}{{4}})(?![0-9])")
_DATE_ISO = re.compile(rf"(?<![0-9])({_D}{{4}})-({_D}{{2}})-({_D}{{2}})(?![0-9])")
_TIME = re.compile(rf"(?<![0-9:])({_D}{{1,2}}):({_D}{{2}})(?![0-9:])")
_DOTTED = re.compile(rf"{_NOT_BEFORE}{_D}+(?:\.{_D}+){{2,}}(?![0-9])")
_THOUSANDS = re.compile(
    rf"{_NOT_BEFORE}{_D}{{1,3}}(?:(?:{_SPACE}{_D}{{3}})+|(?:,{_D}{{3}})+|(?:\.{_D}{{3}})+)(?![0-9]|[.,][0-9])"
)
_DECIMAL = re.compile(rf"{_NOT_BEFORE}({_D}+)[.,]({_D}+)(?![0-9])")
_INTEGER = re.compile(rf"(?<![0-9]){_D}+(?![0-9])")


def _plain(number: str) -> str:
    """An integer as compared: "012" keeps its zero (a code, not an amount), "09" is 9."""
    return number if len(number) >= 3 and number.startswith("0") else str(int(number))


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _local_phone(text: str) -> str:
    digits = _digits(text)
    return f"({digits[:3]}) {digits[3:]}"


def figures(text: str) -> set[str]:
    """The numbers `text` states, normalised as the module's docstring explains."""
    found: set[str] = set()
    rest = text

    def take(pattern: re.Pattern[str], read: Callable[[re.Match[str]], set[str]] | None) -> None:
        nonlocal rest

        def one(match: re.Match[str]) -> str:
            if read is not None:
                found.update(read(match))
            return " " * len(match.group())  # keep the positions: what follows still starts a new number

        rest = pattern.sub(one, rest)

    take(_LINK, None)
    take(_PHONE_AZ, lambda m: {"+" + _digits(m.group())})
    take(_PHONE_INTL, lambda m: {"+" + _digits(m.group())})
    take(_PHONE_LOCAL, lambda m: {_local_phone(m.group())})
    take(_DATE_DMY, lambda m: {_plain(m.group(1)), m.group(3)})
    take(_DATE_ISO, lambda m: {m.group(1), _plain(m.group(3))})
    take(_TIME, lambda m: {f"{int(m.group(1))}:{m.group(2)}"})
    take(_DOTTED, lambda m: {_dotted(m.group())})
    take(_THOUSANDS, lambda m: {str(int(_digits(m.group())))})
    take(_DECIMAL, lambda m: {_decimal(m.group(1), m.group(2))})
    take(_INTEGER, lambda m: {_plain(m.group())})
    return found


def _dotted(text: str) -> str:
    """ "45.1.1" (an article) as written; "1.000.000" (thousands, the Azerbaijani way) as 1000000."""
    head, *groups = text.split(".")
    if len(head) <= 3 and all(len(g) == 3 for g in groups):
        return str(int(head + "".join(groups)))
    return text


def _decimal(whole: str, fraction: str) -> str:
    fraction = fraction.rstrip("0")
    return f"{int(whole)}.{fraction}" if fraction else str(int(whole))


def _figure_order(figure: str) -> tuple[int, float, str]:
    try:
        return (0, float(figure), figure)
    except ValueError:
        return (1, 0.0, figure)


def _languages(present: Iterable[str]) -> list[str]:
    present = list(present)
    return [lang for lang in LANGUAGES if lang in present] + sorted(set(present) - set(LANGUAGES))


def figure_mismatches(entry: EntryData) -> list[str]:
    """Numbers one language's answer (or question) states and another's does not, e.g.
    "ru answer lacks 1200 (in az, en)" or "az answer has 15 that ru, en lack"."""
    problems: list[str] = []
    langs = _languages(entry.texts)
    for field in ("answer", "question"):
        found = {lang: figures(getattr(entry.texts[lang], field)) for lang in langs}
        groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
        for figure in set().union(*found.values()):
            have = tuple(lang for lang in langs if figure in found[lang])
            lack = tuple(lang for lang in langs if figure not in found[lang])
            if lack:
                groups.setdefault((have, lack), []).append(figure)
        for (have, lack), listed in sorted(groups.items(), key=lambda item: (item[0][1], item[0][0])):
            numbers = ", ".join(sorted(listed, key=_figure_order))
            if len(lack) == 1:
                problems.append(f"{lack[0]} {field} lacks {numbers} (in {', '.join(have)})")
            else:
                problems.append(f"{', '.join(have)} {field} has {numbers} that {', '.join(lack)} lack")
    return problems


class GlossaryRule(BaseModel):
    """One wording to avoid in one language (knowledge/glossary.yml explains the fields)."""

    avoid: str = Field(min_length=2)
    pattern: str
    use: str = Field(min_length=2)
    why: str = Field(min_length=10)
    case_sensitive: bool = False
    near: str | None = None
    about_topics: list[str] = Field(default_factory=list)
    about_words: str | None = None
    unless: str | None = None

    @field_validator("pattern", "near", "about_words", "unless")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a regular expression ({error}): {value!r}") from error
        return value

    def _compiled(self, value: str | None) -> re.Pattern[str] | None:
        flags = 0 if self.case_sensitive else re.IGNORECASE
        return re.compile(value, flags) if value else None

    def matches(self, sentence: str, topic: str) -> str | None:
        """The wording to avoid as `sentence` writes it, if the rule applies to that sentence."""
        found = self._compiled(self.pattern)
        match = found.search(sentence) if found else None
        if match is None:
            return None
        near, unless, words = self._compiled(self.near), self._compiled(self.unless), self._compiled(self.about_words)
        if near and not near.search(sentence):
            return None
        if unless and unless.search(sentence):
            return None
        if (self.about_topics or words) and not (
            topic in self.about_topics or (words is not None and words.search(sentence))
        ):
            return None
        return match.group()


@functools.cache
def glossary(path: Path = GLOSSARY_PATH) -> dict[str, list[GlossaryRule]]:
    """The glossary's rules per language. Raises ValueError when the file is not as documented."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} must map languages to lists of rules")
    unknown = set(data) - set(LANGUAGES)
    if unknown:
        raise ValueError(f"{path}: unknown languages {sorted(unknown)}")
    return {lang: [GlossaryRule.model_validate(rule) for rule in rules or []] for lang, rules in data.items()}


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")


def sentences(text: str) -> list[str]:
    """`text` cut where a sentence (or a line, or a list item) ends; the glossary's context is one sentence."""
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def glossary_problems(entry: EntryData, rules: dict[str, list[GlossaryRule]] | None = None) -> list[str]:
    """Wordings of the glossary found in the entry's questions and answers (not in its variants: those are how
    users write, and users do say "yaşadığı yer")."""
    rules = glossary() if rules is None else rules
    problems: list[str] = []
    for lang in _languages(entry.texts):
        for field in ("question", "answer"):
            text = getattr(entry.texts[lang], field)
            for rule in rules.get(lang, []):
                said = next((m for s in sentences(text) if (m := rule.matches(s, entry.topic))), None)
                if said:
                    problems.append(f'{lang} {field} says "{said}": write "{rule.use}" instead. Why: {rule.why}')
    return problems


def problems(entry: EntryData) -> list[str]:
    """Everything staff must fix before the entry goes in: figures that differ by language, and wordings the
    glossary rules out."""
    return figure_mismatches(entry) + glossary_problems(entry)
