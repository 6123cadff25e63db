"""Public-holiday effects on daily demand, learned from the panel's own history.

A store's holidays come from the `holidays` package (python-holidays: offline, maintained
calendars for ~200 countries and their subdivisions) for the store's country, e.g. ``GB`` or
``GB-ENG`` (:func:`country_holidays`), or from any ``{date: name}`` mapping — such as those merged
with the retailer's own events (``--events``, :func:`merge_calendars`), which are learned the
same way.

:func:`holiday_profile` turns them into one multiplier per forecast day, estimated on the
panel's total demand before the forecast origin. Each past day touched by a holiday is compared
with its *reference*: the mean of the same weekday within four weeks either side, on days no
holiday touches. The ratio of that day to its reference is the effect of its role:

* the holiday itself, by name ("Christmas Day": 0 where the store closes; "Black Friday" above
  1) — used when the same holiday occurred at least once before the origin;
* any holiday (all names pooled), for a holiday never seen before — needs 3 occurrences;
* the day before and the day after a holiday (pooled) — 3 occurrences each.

Where history does not allow (too few occurrences), the multiplier is 1. Multipliers are the
mean ratio over occurrences, clipped to [0, 5]. Weekly panels get no holiday effects.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tillwise.ports.forecasting import UnknownHolidays

if TYPE_CHECKING:
    from .panel import Panel

ANY = "*"  # the pooled key of every holiday
MIN_POOLED = 3  # occurrences a pooled effect needs
REFERENCE_DAYS = 28  # same-weekday reference days within this many days either side
MAX_EFFECT = 5.0


def country_holidays(spec: str, start: date, end: date) -> dict[date, str]:
    """Public holidays from ``start`` to ``end`` for ``spec``: an ISO 3166 country code with an
    optional subdivision after a hyphen (``US``, ``GB-ENG``, ``CA-ON``).
    :class:`~tillwise.ports.forecasting.UnknownHolidays` when the `holidays` package has no
    such calendar."""
    import holidays

    country, _, subdiv = spec.strip().upper().partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported or (subdiv and subdiv not in supported[country]):
        raise UnknownHolidays(
            f"no public-holiday calendar for {spec!r} (a country code such as GB, US, DE, "
            "optionally with a subdivision: GB-ENG, US-CA)"
        )
    cal = holidays.country_holidays(
        country, subdiv=subdiv or None, years=range(start.year, end.year + 1)
    )
    return {d: str(name) for d, name in sorted(cal.items()) if start <= d <= end}


def merge_calendars(*calendars: Mapping[date, str]) -> dict[date, str]:
    """One ``{day: name}`` calendar from several (public holidays, the retailer's events); a
    day in more than one is named after each once, in order: ``"Christmas Eve + Final sale"``."""
    out: dict[date, str] = {}
    for calendar in calendars:
        for day, name in calendar.items():
            if day not in out:
                out[day] = name
            elif name not in out[day].split(" + "):
                out[day] = f"{out[day]} + {name}"
    return dict(sorted(out.items()))


def roles(day: date, holidays: Mapping[date, str]) -> list[tuple[str, int]]:
    """How holidays touch ``day``: ``(name, 0)`` on the holiday, ``(ANY, -1)`` the day before
    one and ``(ANY, 1)`` the day after (a day that is itself a holiday has only its own)."""
    if day in holidays:
        return [(holidays[day], 0)]
    out = []
    if day + timedelta(days=1) in holidays:
        out.append((ANY, -1))
    if day - timedelta(days=1) in holidays:
        out.append((ANY, 1))
    return out


def touched(dates: pd.DatetimeIndex, holidays: Mapping[date, str]) -> np.ndarray:
    """Bool per date: a holiday, or the day before or after one."""
    return np.array([bool(roles(d.date(), holidays)) for d in dates], dtype=bool)


def holiday_effects(panel: Panel, cutoff: int) -> dict[tuple[str, int], float]:
    """Mean ratio to the reference per role, from the panel's total demand before ``cutoff``
    (named day-0 roles from one occurrence, pooled roles from ``MIN_POOLED``)."""
    hol = panel.holidays
    if not hol or cutoff <= 0:
        return {}
    dates = panel.calendar[:cutoff]
    total = np.nansum(panel.y[:, :cutoff], axis=0)
    hit = touched(dates, hol)
    if not hit.any():
        return {}
    dow = dates.dayofweek.to_numpy()
    day_no = (dates - dates[0]).days.to_numpy()
    ratios: dict[tuple[str, int], list[float]] = {}
    for t in np.flatnonzero(hit):
        near = (
            (dow == dow[t])
            & ~hit
            & (np.abs(day_no - day_no[t]) <= REFERENCE_DAYS)
            & (day_no != day_no[t])
        )
        if near.sum() < 2:
            continue
        ref = float(total[near].mean())
        if ref <= 0:
            continue
        r = float(total[t]) / ref
        for name, offset in roles(dates[t].date(), hol):
            ratios.setdefault((name, offset), []).append(r)
            if offset == 0:
                ratios.setdefault((ANY, 0), []).append(r)
    out = {}
    for key, rs in ratios.items():
        pooled = key[0] == ANY
        if len(rs) >= (MIN_POOLED if pooled else 1):
            out[key] = float(np.clip(np.mean(rs), 0.0, MAX_EFFECT))
    return out


def holiday_days(panel: Panel, cutoff: int, horizon: int) -> list[tuple[int, str, float]]:
    """``(step, name, multiplier)`` for each holiday role that moves one of the ``horizon``
    periods after ``cutoff`` where history allows an estimate; ``name`` as a buyer reads it:
    "Christmas Day", "the day before Good Friday". None on weekly panels."""
    from .panel import season_length

    if not panel.holidays or season_length(panel.freq) <= 1:
        return []
    effects = holiday_effects(panel, cutoff)
    if not effects:
        return []
    out = []
    for k, d in enumerate(panel.dates(cutoff, horizon)):
        day = d.date()
        for name, offset in roles(day, panel.holidays):
            effect = effects.get((name, offset))
            if effect is None and offset == 0:
                effect = effects.get((ANY, 0))
            if effect is None:
                continue
            if offset:
                near = panel.holidays[day + timedelta(days=-offset)]
                name = f"the day {'before' if offset < 0 else 'after'} {near}"
            out.append((k, name, effect))
    return out


def holiday_profile(panel: Panel, cutoff: int, horizon: int) -> np.ndarray:
    """(horizon,) multipliers for the ``horizon`` periods after ``cutoff`` (ones where no
    holiday touches a day or history does not allow an estimate)."""
    out = np.ones(horizon)
    for k, _name, effect in holiday_days(panel, cutoff, horizon):
        out[k] *= effect
    return out


def holidays_for(
    spec: str | Mapping[date, str] | None,
    history: pd.DataFrame,
    horizon: int,
    freq: object = "D",
    events: Mapping[date, str] | None = None,
) -> dict[date, str]:
    """The days a forecaster was given: the holidays of ``spec`` — a mapping as is, a country
    code's public holidays (see :func:`country_holidays`) over a long-format ``history`` and the
    ``horizon`` periods after it — merged with the retailer's ``events``; empty for none."""
    from .panel import freq_offset

    public: dict[date, str] = {}
    if spec is None or isinstance(spec, Mapping):
        public = dict(spec or {})
    elif spec.strip() and not history.empty:
        ds = pd.to_datetime(history["ds"])
        end = ds.max() + freq_offset(freq) * horizon
        public = country_holidays(spec, ds.min().date(), end.date())
    return merge_calendars(public, events or {})
