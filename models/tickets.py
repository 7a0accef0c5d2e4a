"""Complaint ticket numbers: unique by construction, short, digits only, not guessable.

A ticket is the complaint's row id passed through a keyed permutation (a Feistel network over
9-digit numbers), then a check digit. The id is unique, the permutation is one-to-one, so two
complaints can never get the same ticket and nothing is drawn at random or retried; without the
key, the ticket of complaint n says nothing about complaint n + 1. Ten digits can be typed on a
phone's number pad and read out on the phone; the Damm check digit catches any single mistyped
digit and any swap of two neighbours.

Capacity: 900 million complaints per installation. The first digit is never 0, so a ticket is
never taken for a landline number (0xx-xxxxxxx) by the personal-data scrubber.
"""

from __future__ import annotations

import hashlib
import hmac

HALF = 30_000  # the two Feistel halves: HALF * HALF = 900,000,000 ids
CAPACITY = HALF * HALF
ROUNDS = 8  # 4 make a pseudo-random permutation; 8 leave a margin
BASE = 100_000_000  # tickets' 9-digit body runs from 100000000: no leading 0
TICKET_LEN = 10

# Damm's quasigroup table (order 10, weakly totally anti-symmetric).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return interim


def _round(key: bytes, i: int, half: int) -> int:
    mac = hmac.new(key, f"{i}:{half}".encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") % HALF


def permute(n: int, key: bytes) -> int:
    """A keyed one-to-one map of [0, CAPACITY) onto itself."""
    if not 0 <= n < CAPACITY:
        raise ValueError("complaint id beyond the ticket space")
    left, right = divmod(n, HALF)
    for i in range(ROUNDS):
        left, right = right, (left + _round(key, i, right)) % HALF
    return left * HALF + right


def unpermute(m: int, key: bytes) -> int:
    """The inverse of `permute` (tests prove the map is one-to-one with it)."""
    left, right = divmod(m, HALF)
    for i in reversed(range(ROUNDS)):
        left, right = (right - _round(key, i, left)) % HALF, left
    return left * HALF + right


def ticket_for(row_id: int, key: bytes) -> str:
    """The ticket of complaint `row_id` (ids start at 1)."""
    body = str(BASE + permute(row_id - 1, key))
    return body + str(damm(body))


def well_formed(ticket: str) -> bool:
    """Ten digits with a valid check digit: what a correctly typed ticket looks like."""
    return len(ticket) == TICKET_LEN and ticket.isdigit() and damm(ticket) == 0
