"""Parallel text (source -> target sentence pairs) for sequence-to-sequence apps.

Corpora (DESIGN.md section 5; ``shared/DATA.md`` lists the sources):

* ``dates``: human-readable dates -> ISO 8601. Dates are drawn with
  ``faker`` (seeded, 1900-01-01 .. 2099-12-31, each date once) and written
  by ``babel`` in one of :func:`date_formats` (eight locales, CLDR's full,
  long and medium forms, a few patterns of our own, and the numeric forms
  that are day-first with a four-digit year, so that no input is
  ambiguous): ``"mardi 3 mars 1998" -> "1998-03-03"``. The split is by
  date: a dev or test date is never seen in training, in any format.
* ``numbers``: English number words -> French number words (``num2words``),
  integers from 0 to 999,999 drawn with as many of each digit count
  (1..6 digits) as the range allows, each once:
  ``"one thousand, nine hundred and ninety-nine" -> "mille neuf cent
  quatre-vingt-dix-neuf"``.
* ``catalogs``: real English -> French sentence pairs from translation
  catalogs: Django's ``.po`` files (read from the installed ``django``
  package with ``babel.messages``, never imported) and, when present, the
  system's gettext catalogs (``/usr/share/locale/fr/LC_MESSAGES/*.mo``,
  read at run time and never copied: their licences vary). Messages of
  ``min_words`` .. ``max_words`` words on one line, translated (not fuzzy,
  not a copy of the source), deduplicated by source (first catalog wins, in
  path order); placeholders (``%s``, ``%(name)s``, ``{0}``) are kept.
* ``tsv``: the user's UTF-8 file of ``source<TAB>target`` lines
  (``data_dir=FILE``; further columns, as in Tatoeba's exports, are
  ignored).

Every corpus is split with a seed into train / dev / test by item (the
pair, the date, the number), so no held-out source is seen in training.

    >>> data = load_parallel("numbers", seed=1, pairs=100)
    >>> data.x_train[0], data.y_train[0]  # doctest: +SKIP
"""

import contextlib
import datetime
import functools
import importlib.util
import io
import os
import pathlib
import re

import numpy as np

from dlsuite.apps.data import splitting
from dlsuite.apps.data.splits import DataSplits
from dlsuite.apps.data.text import package_dir, read_utf8_file
from dlsuite.apps.errors import UsageError

CORPORA = ("dates", "numbers", "catalogs", "tsv")
CATALOG_SOURCES = ("all", "django", "system")
# Where Debian and Ubuntu install gettext catalogs of installed packages.
SYSTEM_CATALOG_DIRS = ("/usr/share/locale/fr/LC_MESSAGES",
                       "/usr/share/locale-langpack/fr/LC_MESSAGES")
FIRST_DATE, LAST_DATE = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)
DATE_LOCALES = ("en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT", "pt_BR", "nl_NL")
# Our own patterns beside CLDR's named forms (every locale's month and day names).
DATE_PATTERNS = ("d MMM y", "d MMMM y", "EEEE d MMMM y", "EEE d MMM y")
LARGEST_NUMBER = 999_999
# The largest user file read (bytes).
MAX_TSV_BYTES = 200_000_000
INSTALL_HINTS = {
    "faker": "pip install 'faker~=40.63.0' (make install does)",
    "babel": "pip install 'babel~=2.19.0' (make install does)",
    "num2words": "pip install 'num2words~=0.5.14' (make install does)",
    "django": "pip install 'django~=5.2.0' (the `translate` extra; make install does)",
}
_SPACES = re.compile(r"\s+")


def _require(module):
    """Import ``module`` (a dotted name) or say what to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise UsageError(f"the {package} package is missing: {INSTALL_HINTS[package]}") from None


def clean(text):
    """One line: every run of (Unicode) white space -> one space, stripped."""
    return _SPACES.sub(" ", text).strip()


# -- dates -----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def date_formats():
    """``[(locale, pattern), ...]``: every format the ``dates`` corpus writes.

    CLDR's ``full``, ``long`` and ``medium`` forms and :data:`DATE_PATTERNS`
    in every locale of :data:`DATE_LOCALES`, and the ``short`` form where it
    has a four-digit year. A format whose output is all digits must be
    day-first (checked on 14 March): month-first numeric dates (``3/14/1998``)
    read differently across locales and are left out, as are two-digit years.
    """
    babel_dates = _require("babel.dates")
    probe = datetime.date(1998, 3, 14)
    found = []
    for locale in DATE_LOCALES:
        for pattern in ("full", "long", "medium", "short") + DATE_PATTERNS:
            text = clean(babel_dates.format_date(probe, pattern, locale=locale))
            if "1998" not in text:
                continue
            numbers = [int(n) for n in re.findall(r"\d+", text)]
            if not re.search(r"[^\W\d_]", text) and numbers.index(14) > numbers.index(3):
                continue
            if (locale, pattern) not in found:
                found.append((locale, pattern))
    return found


def generate_dates(count, seed):
    """``count`` distinct dates, each in one seeded format: ``(pairs, source)``."""
    faker = _require("faker")
    babel_dates = _require("babel.dates")
    total_days = (LAST_DATE - FIRST_DATE).days + 1
    if count > total_days:
        raise UsageError(f"the dates corpus holds {total_days:,} distinct dates; "
                         f"received pairs={count}")
    fake = faker.Faker()
    fake.seed_instance(seed)
    formats = date_formats()
    chosen, pairs = set(), []
    while len(pairs) < count:
        day = fake.date_between_dates(FIRST_DATE, LAST_DATE)
        if day in chosen:
            continue
        chosen.add(day)
        locale, pattern = formats[fake.random_int(0, len(formats) - 1)]
        pairs.append((clean(babel_dates.format_date(day, pattern, locale=locale)),
                      day.isoformat()))
    return pairs, (f"generated: {count:,} distinct dates {FIRST_DATE}..{LAST_DATE} (faker, seed "
                   f"{seed}) written by babel in {len(formats)} formats of {len(DATE_LOCALES)} "
                   "locales -> ISO 8601")


# -- numbers ---------------------------------------------------------------------------------
def draw_numbers(count, seed, largest=LARGEST_NUMBER):
    """``count`` distinct integers in ``[0, largest]``: as many of each digit
    count as the range allows (the small ranges are taken whole), seeded."""
    if count > largest + 1:
        raise UsageError(f"the numbers corpus holds {largest + 1:,} distinct numbers; "
                         f"received pairs={count}")
    rng = np.random.default_rng(seed)
    ranges = []
    low = 0
    while low <= largest:
        high = min(largest, max(9, low * 10 - 1))
        ranges.append((low, high))
        low = high + 1
    shares, left = [], count
    for index, (low, high) in enumerate(ranges):
        share = min(high - low + 1, left // (len(ranges) - index))
        shares.append(share)
        left -= share
    # What a small range could not take goes to the larger ones, largest last.
    for index in range(len(ranges) - 1, -1, -1):
        low, high = ranges[index]
        extra = min(left, high - low + 1 - shares[index])
        shares[index] += extra
        left -= extra
    drawn = [low + rng.choice(high - low + 1, size=share, replace=False)
             for (low, high), share in zip(ranges, shares)]
    return rng.permutation(np.concatenate(drawn)).tolist()


def generate_numbers(count, seed):
    """``count`` distinct numbers as (English words, French words): ``(pairs, source)``."""
    num2words = _require("num2words").num2words
    numbers = draw_numbers(count, seed)
    pairs = [(num2words(n, lang="en"), num2words(n, lang="fr")) for n in numbers]
    return pairs, (f"generated: {count:,} distinct integers 0..{LARGEST_NUMBER:,} (seed {seed}) "
                   "in English and French words by num2words")


# -- translation catalogs --------------------------------------------------------------------
def django_catalogs():
    """Django's French ``.po`` files, sorted; [] when Django is not installed."""
    root = package_dir("django")
    return sorted(root.rglob("locale/fr/LC_MESSAGES/*.po")) if root else []


def system_catalogs(directories=SYSTEM_CATALOG_DIRS):
    """The system's French gettext ``.mo`` files, sorted; [] where there are none."""
    found = []
    for directory in directories:
        if os.path.isdir(directory):
            found += sorted(pathlib.Path(directory).glob("*.mo"))
    return found


def _messages(path):
    """``(id, translation)`` of every translated message of one catalog."""
    from babel.messages import mofile, pofile

    with open(path, "rb") as handle:
        if path.suffix == ".po":
            # babel prints a warning for each plural message with more forms
            # than CLDR's French has; the singular form is all we read.
            with contextlib.redirect_stdout(io.StringIO()):
                catalog = pofile.read_po(handle)
        else:
            catalog = mofile.read_mo(handle)
    for message in catalog:
        if not message.id or getattr(message, "fuzzy", False):
            continue
        source, target = message.id, message.string
        if isinstance(source, (tuple, list)):
            source, target = source[0], (target[0] if target else "")
        if isinstance(source, str) and isinstance(target, str) and target:
            yield source, target


def sentence_pair(source, target, min_words, max_words):
    """The cleaned pair if it is a sentence-like translation, else None: one
    line each, ``min_words`` .. ``max_words`` source words, a target of at
    most twice that, no control characters, not a copy of the source."""
    source, target = source.strip(), target.strip()
    if any(c in text for text in (source, target) for c in "\n\r\t\x00\x1b"):
        return None
    source, target = clean(source), clean(target)
    words = len(source.split())
    if not min_words <= words <= max_words or not 1 <= len(target.split()) <= 2 * max_words:
        return None
    if source == target:
        return None
    return source, target


def read_catalogs(sources="all", min_words=3, max_words=15, system_dirs=SYSTEM_CATALOG_DIRS):
    """Sentence pairs of the translation catalogs: ``(pairs, source)``."""
    _require("babel")
    paths = []
    if sources in ("all", "django"):
        django = django_catalogs()
        if not django and sources == "django":
            raise UsageError(f"Django's catalogs are missing: {INSTALL_HINTS['django']}")
        paths += django
    if sources in ("all", "system"):
        system = system_catalogs(system_dirs)
        if not system and sources == "system":
            raise UsageError(f"no French gettext catalogs in {', '.join(system_dirs)}; "
                             "use catalog_sources=django or all")
        paths += system
    if not paths:
        raise UsageError("no translation catalogs found: neither Django "
                         f"({INSTALL_HINTS['django']}) nor the system's "
                         f"({', '.join(system_dirs)})")
    seen, pairs, unreadable = set(), [], 0
    counts = {"django": 0, "system": 0}
    for path in paths:
        try:
            messages = list(_messages(path))
        except Exception:  # noqa: BLE001 - a corrupt catalog is skipped and counted
            unreadable += 1
            continue
        for source, target in messages:
            pair = sentence_pair(source, target, min_words, max_words)
            if pair is None or pair[0] in seen:
                continue
            seen.add(pair[0])
            pairs.append(pair)
            counts["django" if path.suffix == ".po" else "system"] += 1
    if not pairs:
        raise UsageError("the translation catalogs hold no sentence pair of "
                         f"{min_words}..{max_words} words")
    where = []
    if counts["django"]:
        where.append(f"{counts['django']:,} from Django's .po files")
    if counts["system"]:
        where.append(f"{counts['system']:,} from the system's gettext catalogs "
                     f"({', '.join(d for d in system_dirs if os.path.isdir(d))}, read in place)")
    skipped = f"; {unreadable} unreadable catalog(s) skipped" if unreadable else ""
    return pairs, (f"translation catalogs en -> fr: {len(pairs):,} unique sentence pairs of "
                   f"{min_words}..{max_words} words ({', '.join(where)}){skipped}")


# -- the user's file -------------------------------------------------------------------------
def read_tsv(path):
    """``source<TAB>target`` lines of the user's UTF-8 file: ``(pairs, source)``."""
    path, text = read_utf8_file(path, MAX_TSV_BYTES, "pair file",
                                "UTF-8 lines of source<TAB>target")
    seen, pairs, skipped = set(), [], 0
    for line in text.splitlines():
        columns = line.split("\t")
        if len(columns) < 2 or not columns[0].strip() or not columns[1].strip():
            skipped += line.strip() != ""
            continue
        source, target = clean(columns[0]), clean(columns[1])
        if source not in seen:
            seen.add(source)
            pairs.append((source, target))
    if len(pairs) < 3:
        raise UsageError(f"{path} holds {len(pairs)} pair(s); expected lines of "
                         "source<TAB>target (3 or more)")
    note = f", {skipped} line(s) without two tab-separated columns skipped" if skipped else ""
    return pairs, f"your pair file {path} ({len(pairs):,} unique pairs{note})"


# -- splits ----------------------------------------------------------------------------------
def split_sizes(total, dev_fraction, test_fraction):
    """``(train, dev, test)`` counts: each held-out split ``round(total *
    fraction)`` and at least one pair when its fraction is above 0."""
    def share(fraction):
        return 0 if fraction == 0 else max(1, splitting.round_half_up(total * fraction))

    dev, test = share(dev_fraction), share(test_fraction)
    if total - dev - test < 1:
        raise UsageError(f"{total} pair(s) are too few to split into train, dev and test")
    return total - dev - test, dev, test


def load_parallel(corpus, *, seed=1337, pairs=None, limit=None, dev_fraction=None,
                  test_fraction=None, data_dir="", catalog_sources="all", min_words=3,
                  max_words=15):
    """Read or generate a corpus and split it by item.

    Args:
        corpus: one of :data:`CORPORA`.
        seed: the seed of the generators and of the split.
        pairs: how many pairs the generated corpora (``dates``, ``numbers``)
            make; None: 30,000.
        limit: keep about ``limit`` training pairs (a seeded subset; dev and
            test shrink in proportion).
        dev_fraction, test_fraction: None takes the house default (10% each).
        data_dir: the user's pair file (``corpus=tsv``).
        catalog_sources, min_words, max_words: ``catalogs`` only.

    Returns:
        :class:`DataSplits` whose ``x_*`` are source strings and ``y_*`` the
        target strings (numpy object arrays).
    """
    default_dev, default_test = splitting.default_fractions(0)
    dev_fraction = default_dev if dev_fraction is None else float(dev_fraction)
    test_fraction = default_test if test_fraction is None else float(test_fraction)
    wanted = None
    if limit is not None:
        wanted = max(3, int(np.ceil(limit / max(1e-9, 1 - dev_fraction - test_fraction))))
    if corpus in ("dates", "numbers"):
        count = pairs or 30_000
        count = min(count, wanted) if wanted else count
        found, source = (generate_dates if corpus == "dates" else generate_numbers)(count, seed)
    elif corpus == "catalogs":
        found, source = read_catalogs(catalog_sources, min_words, max_words)
    elif corpus == "tsv":
        if not data_dir:
            raise UsageError("corpus=tsv needs --set data_dir=FILE (UTF-8 lines of "
                             "source<TAB>target)")
        found, source = read_tsv(data_dir)
    else:
        raise UsageError(f"unknown corpus {corpus!r}; choose one of {', '.join(CORPORA)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(found))
    if wanted is not None and wanted < len(order):
        order = order[:wanted]
        source += f"; a seeded subset of {wanted:,} pairs (limit={limit})"
    train, dev, test = split_sizes(len(order), dev_fraction, test_fraction)
    parts = np.split(order, [dev, dev + test])

    def column(indices, side):
        return np.array([found[i][side] for i in np.sort(indices)], dtype=object)

    dev_index, test_index, train_index = parts
    return DataSplits(
        name=corpus, x_train=column(train_index, 0), y_train=column(train_index, 1),
        x_dev=column(dev_index, 0), y_dev=column(dev_index, 1),
        x_test=column(test_index, 0), y_test=column(test_index, 1),
        class_names=[], source=source,
        split={"seed": seed, "dev_fraction": dev_fraction, "test_fraction": test_fraction,
               "unit": "pairs", "total": len(order), "limit": limit,
               "sizes": {"train": train, "dev": dev, "test": test}},
    )
