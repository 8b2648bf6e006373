"""Parallel text: generated dates and numbers, translation catalogs, the user's TSV."""

import datetime
import re

import numpy as np
import pytest

from dlsuite.apps.data import parallel
from dlsuite.apps.errors import UsageError


def test_date_formats_are_day_first_with_four_digit_years():
    import babel.dates

    formats = parallel.date_formats()
    assert len(formats) >= 40
    assert {locale for locale, _ in formats} == set(parallel.DATE_LOCALES)
    # 2 March and 3 February must never read the same.
    for locale, pattern in formats:
        first = babel.dates.format_date(datetime.date(1998, 3, 2), pattern, locale=locale)
        second = babel.dates.format_date(datetime.date(1998, 2, 3), pattern, locale=locale)
        assert first != second, (locale, pattern)
        assert "1998" in first
    assert ("en_US", "short") not in formats  # 3/14/98: month first, two-digit year


def test_dates_are_distinct_seeded_and_held_out_by_date():
    data = parallel.load_parallel("dates", seed=3, pairs=3000)
    again = parallel.load_parallel("dates", seed=3, pairs=3000)
    other = parallel.load_parallel("dates", seed=4, pairs=3000)
    np.testing.assert_array_equal(data.x_train, again.x_train)
    assert list(data.x_train[:50]) != list(other.x_train[:50])
    assert data.split["sizes"] == {"train": 2400, "dev": 300, "test": 300}
    targets = np.concatenate([data.y_train, data.y_dev, data.y_test])
    assert len(set(targets)) == 3000, "every date once"
    assert set(data.y_test).isdisjoint(data.y_train) and set(data.y_dev).isdisjoint(data.y_train)
    for source, target in zip(data.x_train[:200], data.y_train[:200]):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", target)
        assert target[:4] in source, (source, target)  # the year is written in full
        assert source == " ".join(source.split()), "white space normalised"


def test_numbers_cover_every_digit_count_and_match_num2words():
    from num2words import num2words

    numbers = parallel.draw_numbers(600, seed=1)
    assert len(set(numbers)) == 600 and min(numbers) >= 0 and max(numbers) <= 999_999
    digits = np.bincount([len(str(n)) for n in numbers], minlength=7)[1:]
    assert digits[0] == 10  # all ten one-digit numbers: the range could not give 100
    assert all(count >= 90 for count in digits[1:]), digits
    data = parallel.load_parallel("numbers", seed=1, pairs=200)
    english, french = data.x_train[0], data.y_train[0]
    number = next(n for n in parallel.draw_numbers(200, seed=1) if num2words(n) == english)
    assert french == num2words(number, lang="fr")


def test_django_catalogs_keep_placeholders_and_are_deduplicated():
    pairs, source = parallel.read_catalogs("django", min_words=3, max_words=15)
    assert "Django" in source and len(pairs) > 200
    sources = [s for s, _ in pairs]
    assert len(sources) == len(set(sources))
    assert all(3 <= len(s.split()) <= 15 and s != t for s, t in pairs)
    with_names = [(s, t) for s, t in pairs if "%(" in s]
    assert with_names, "messages with named placeholders are kept"
    for s, t in with_names:
        assert set(re.findall(r"%\(\w+\)", s)) == set(re.findall(r"%\(\w+\)", t)), (s, t)
    assert ("Enter a valid URL.", "Saisissez une URL valide.") in pairs


def test_system_catalogs_are_read_in_place_when_present(tmp_path):
    if not parallel.system_catalogs():
        with pytest.raises(UsageError, match="no French gettext catalogs"):
            parallel.read_catalogs("system")
        return
    pairs, source = parallel.read_catalogs("system")
    assert "system's gettext catalogs" in source and len(pairs) > 1000
    with pytest.raises(UsageError, match="no French gettext catalogs"):
        parallel.read_catalogs("system", system_dirs=(str(tmp_path),))


def test_a_sentence_pair_is_one_translated_line():
    assert parallel.sentence_pair("Enter a  value.\n", "Saisissez une valeur.", 3, 15) == (
        "Enter a value.", "Saisissez une valeur.")
    assert parallel.sentence_pair("two\nlines here", "deux lignes ici", 3, 15) is None
    assert parallel.sentence_pair("Too short", "Trop court", 3, 15) is None
    assert parallel.sentence_pair("Not translated here", "Not translated here", 3, 15) is None


def test_the_users_tsv(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("Go.\tVa !\tCC-BY 2.0\nHi.\tSalut !\n\nno tab here\nRun!\tCours !\n"
                    "Run!\tCourez !\nWho?\tQui ?\n", encoding="utf-8")
    pairs, source = parallel.read_tsv(path)
    assert pairs == [("Go.", "Va !"), ("Hi.", "Salut !"), ("Run!", "Cours !"), ("Who?", "Qui ?")]
    assert "1 line(s) without two tab-separated columns skipped" in source
    data = parallel.load_parallel("tsv", data_dir=str(path), seed=0)
    assert sum(data.split["sizes"].values()) == 4
    with pytest.raises(UsageError, match="pair file not found"):
        parallel.read_tsv(tmp_path / "missing.tsv")
    (tmp_path / "latin1.tsv").write_bytes("caf\xe9\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(UsageError, match="not UTF-8"):
        parallel.read_tsv(tmp_path / "latin1.tsv")
    (tmp_path / "short.tsv").write_text("a\tb\n", encoding="utf-8")
    with pytest.raises(UsageError, match="expected lines of source<TAB>target"):
        parallel.read_tsv(tmp_path / "short.tsv")
    with pytest.raises(UsageError, match="corpus=tsv needs"):
        parallel.load_parallel("tsv")


def test_limit_shrinks_every_split_and_bad_requests_are_usage_errors():
    data = parallel.load_parallel("numbers", seed=0, pairs=5000, limit=80)
    assert data.split["sizes"] == {"train": 80, "dev": 10, "test": 10}
    with pytest.raises(UsageError, match="unknown corpus"):
        parallel.load_parallel("poems")
    with pytest.raises(UsageError, match="distinct dates"):
        parallel.generate_dates(80_000, seed=0)
    with pytest.raises(UsageError, match="too few to split"):
        parallel.split_sizes(2, 0.4, 0.4)
