"""Shapley values of channels, by the "simplified Shapley value" of Zhao, Mahboobi and Bagheri (2018).

The game (Zhao et al., "Shapley Value Methods for Attribution Modeling in Online Advertising", arXiv:1804.05327,
section 3; the characteristic function of Dalessandro et al., "Causally Motivated Attribution for Online
Advertising", ADKDD 2012, counted in conversions): the players are the channels, and the worth of a set of
channels S is the number of conversions whose journey touched only channels in S,

    v(S) = sum over channel sets T ⊆ S of R(T),   R(T) = conversions whose journey's channel set is exactly T.

v is a sum of unanimity games (one per conversion), so each channel's Shapley value has a closed form, Zhao's
simplified formula: a conversion with channel set T gives 1/|T| to each channel in T,

    phi_i = sum over channel sets T containing i of R(T) / |T|.

This is the Shapley value itself, computed exactly, in time linear in the number of distinct channel sets, for any
number of channels: no 2^n enumeration and no sampling. Efficiency holds by construction: the values add up to
v(all channels), every conversion that had a touch. Journeys that did not convert are worth nothing in this game;
they leave the values unchanged (Markov is the model that learns from them).

Credits: the Shapley value is additive over conversions, and one conversion's own game gives 1/|T| to each of
its channels. So a conversion's Shapley credit is split equally among the distinct channels it touched (and,
within a channel, among its touches by weight; ``rules.RAW_SCORES["shapley"]``); summed over the conversions of
the fit window these credits are exactly the values below.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

__all__ = ["shapley_values"]


def shapley_values(conversions: Mapping[frozenset[str], int]) -> dict[str, float]:
    """Shapley value of every channel from ``{channel set: conversions with exactly that set}``.

    Channels of sets without conversions get 0; the empty set (a conversion without touches) is no channel's.
    """
    values: dict[str, float] = defaultdict(float)
    for channels, count in conversions.items():
        for channel in channels:
            values[channel] += count / len(channels)
    return dict(sorted(values.items()))
