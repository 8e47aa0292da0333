"""The fuzz suite's machinery: seeded mutators, a per-case time bound, outcome classification, a tally.

Every case ends in one of:

* ``ok``     — the reader/command returned and its result passed the case's checks (correct results);
* ``clean``  — an :class:`~xsuite.errors.XsuiteError` (exit 2) whose message is one line naming the file;
* ``crash``  — any other exception, a multi-line or anonymous error, or a result failing its checks;
* ``hang``   — the case did not end within its time bound (``SIGALRM`` interrupts it).

Environment: ``XSUITE_FUZZ_CASES`` (mutated reader inputs per run, default 1100), ``XSUITE_FUZZ_SEED``
(default 17), ``XSUITE_FUZZ_BOUND_S`` (per-case bound, default 10 s), ``XSUITE_FUZZ_REPORT`` (a JSON
file the figures of the run are written to).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xsuite.errors import XsuiteError

CASES = int(os.environ.get("XSUITE_FUZZ_CASES", "1100"))
SEED = int(os.environ.get("XSUITE_FUZZ_SEED", "17"))
BOUND_S = float(os.environ.get("XSUITE_FUZZ_BOUND_S", "10"))
REPORT = os.environ.get("XSUITE_FUZZ_REPORT")


class Hang(BaseException):
    """Raised by SIGALRM inside a case that ran past its bound (a BaseException: `except Exception` in the
    code under test cannot swallow it)."""


@dataclass
class Outcome:
    kind: str  # ok | clean | crash | hang
    detail: str = ""
    seconds: float = 0.0


def _alarm(signum: int, frame: Any) -> None:
    raise Hang()


def run_bounded(fn: Callable[[], Any], check: Callable[[Any], str | None] | None = None,
                names: tuple[str, ...] = (), bound_s: float = BOUND_S) -> Outcome:
    """Run ``fn()`` with a wall-clock bound and classify what happened.

    ``check(result)`` returns None for a correct result or a reason; ``names`` are strings one of which a
    clean error must contain (the file's name).
    """
    assert threading.current_thread() is threading.main_thread(), "SIGALRM bound needs the main thread"
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, bound_s)
    t0 = time.perf_counter()
    try:
        result = fn()
        signal.setitimer(signal.ITIMER_REAL, 0)
        problem = check(result) if check is not None else None
        out = Outcome("ok") if problem is None else Outcome("crash", f"accepted but wrong: {problem}")
    except Hang:
        out = Outcome("hang", f"no end within {bound_s:g} s")
    except XsuiteError as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        msg = str(exc)
        if "\n" in msg.strip() or not msg.strip():
            out = Outcome("crash", f"error not one line: {msg!r}")
        elif names and not any(n in msg for n in names):
            out = Outcome("crash", f"error does not name the file ({names[0]}): {msg}")
        else:
            out = Outcome("clean", msg)
    except Exception as exc:  # noqa: BLE001 - exactly what the fuzz suite looks for
        signal.setitimer(signal.ITIMER_REAL, 0)
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        out = Outcome("crash", f"{type(exc).__name__}: {exc} @ {tb[-2].strip() if len(tb) > 1 else ''}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    out.seconds = time.perf_counter() - t0
    return out


# ------------------------------------------------------------------------------------------- mutators
_HOSTILE_NUMBERS = ("nan", "NaN", "inf", "-inf", "-1", "0", "-0.0", "1e30", "1e-30", "1e308", "1e6",
                    "-1e30", "", "abc", "1,5", "0x10", "99999999999999999999")
_NUMBER_RE = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One seeded mutation of a binary file: its name and the new content."""
    n = len(data)
    choice = rng.randrange(9)
    if choice == 8:
        return "empty", b""
    if choice == 0 or n < 4:
        cut = rng.randrange(max(n, 1))
        return f"truncate@{cut}", data[:cut]
    if choice == 1:
        b = bytearray(data)
        for _ in range(rng.choice((1, 2, 8, 64))):
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
        return "bitflip", bytes(b)
    if choice == 2:
        i = rng.randrange(n)
        k = rng.choice((4, 16, 256, 4096))
        fill = rng.choice((b"\x00", b"\xff", b"\x7f"))
        return f"fill@{i}", data[:i] + fill * min(k, n - i) + data[i + k:]
    if choice == 3:
        i = rng.randrange(n)
        k = rng.choice((8, 64, 512))
        return f"random@{i}", data[:i] + rng.randbytes(min(k, n - i)) + data[i + k:]
    if choice == 4:
        i, j = sorted((rng.randrange(n), rng.randrange(n)))
        return "duplicate", data[:j] + data[i:j] + data[j:]
    if choice == 5:
        i = rng.randrange(n)
        return "delete", data[:i] + data[i + rng.choice((1, 7, 100, 1000)):]
    if choice == 6:
        return "header-only", data[: rng.choice((8, 64, 256, 516, 1024))]
    # overwrite an aligned 4/8-byte word with an extreme value (sizes, offsets, counts)
    i = rng.randrange(max(n - 8, 1)) & ~3
    word = rng.choice((b"\xff\xff\xff\x7f", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff\xff\xff\xff\x7f",
                       b"\x00\x00\x80\x7f", b"\x00\x00\xc0\x7f", b"\x01\x00\x00\x00"))
    return f"word@{i}", data[:i] + word + data[i + len(word):]


def mutate_text(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One seeded mutation of a text file (numbers, lines, encoding) or, sometimes, a byte mutation."""
    lines = data.split(b"\n")
    choice = rng.randrange(7)
    nums = list(_NUMBER_RE.finditer(data))
    if choice <= 2 and nums:
        m = rng.choice(nums)
        val = rng.choice(_HOSTILE_NUMBERS).encode()
        return f"number {m.group().decode()}->{val.decode()}", data[: m.start()] + val + data[m.end():]
    if choice == 3 and len(lines) > 1:
        i = rng.randrange(len(lines))
        return f"drop line {i}", b"\n".join(lines[:i] + lines[i + 1:])
    if choice == 4:
        i = rng.randrange(len(lines))
        junk = rng.choice((b"\xff\xfe\x00bad", b"\xc3\x28", b"[" * 200, b"{" * 200, b"x" * 100_000,
                           b"key: [1, 2", b"\t\t:::", b"!!python/object:os.system ls"))
        return "insert junk", b"\n".join(lines[:i] + [junk] + lines[i:])
    if choice == 5 and len(lines) > 1:
        i = rng.randrange(len(lines))
        return f"repeat line {i}", b"\n".join(lines[: i + 1] + [lines[i]] * rng.choice((2, 50)) + lines[i + 1:])
    return mutate_bytes(data, rng)


# ------------------------------------------------------------------------------------------------ tally
@dataclass
class Tally:
    """Counts of outcomes per reader/command, and the failures to report."""

    counts: Counter = field(default_factory=Counter)
    by_target: dict[str, Counter] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, target: str, case: str, out: Outcome) -> None:
        self.counts[out.kind] += 1
        self.by_target.setdefault(target, Counter())[out.kind] += 1
        self.seconds += out.seconds
        if out.kind in ("crash", "hang"):
            self.failures.append(f"{target} [{case}]: {out.kind}: {out.detail}")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        c = self.counts
        return (f"{self.total} inputs: {c['clean']} clean errors, {c['ok']} exit 0 correct, "
                f"{c['crash']} crashes, {c['hang']} hangs ({self.seconds:.1f} s)")

    def write(self, name: str) -> None:
        if not REPORT:
            return
        path = Path(REPORT)
        doc = json.loads(path.read_text()) if path.is_file() else {}
        doc[name] = {"total": self.total, **dict(self.counts), "seconds": round(self.seconds, 1),
                     "by_target": {k: dict(v) for k, v in self.by_target.items()},
                     "failures": self.failures[:50]}
        path.write_text(json.dumps(doc, indent=1))
