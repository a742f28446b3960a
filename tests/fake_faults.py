"""Provider faults the stand-ins can serve (tests/fake_anthropic.py, tests/fake_openai.py).

A `FaultPlan` is a script of steps, each "fail the next N requests with this fault" (N = None:
every request from then on); once the steps are used up the stand-in answers normally again, so
a test can make a provider fail and then recover. Each stand-in turns a `Fault` into its own
provider's wire format (status, headers, error body); the kinds mean the same for both:

- rate_limit     HTTP 429 with `retry-after` (a per-minute rate limit)
- overloaded     Anthropic: HTTP 529 overloaded_error; OpenAI: HTTP 503 (server overloaded)
- server_error   HTTP 500
- usage_limit    HTTP 429 rejecting a plan's usage limit, with its reset `reset_in` s ahead
- unauthorized   HTTP 401 (an invalid key)
- billing        the account is out of credit (Anthropic: HTTP 400 "credit balance is too low";
                 OpenAI: HTTP 429 insufficient_quota); no reset, a person must act
- disconnect     the connection is closed before any response
- stream_cut     a 200 stream that breaks after its first event

A plan's `scope` says which requests it may fail: "all" (as a real outage or usage limit would)
or "main" (only the agent's own turns, not a CLI's side requests such as title generation), so
that "the first N" counts the requests a test can predict.

From the command line or the environment a plan is written `KIND[:COUNT][,KIND[:COUNT]...]`,
e.g. `usage_limit:2,server_error:1` (COUNT `*` or left out: forever; a usage limit without a
COUNT refuses every request until its reset and then lets them through).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

KINDS = (
    "rate_limit",
    "overloaded",
    "server_error",
    "usage_limit",
    "unauthorized",
    "billing",
    "disconnect",
    "stream_cut",
)


@dataclass(frozen=True)
class Fault:
    """One failure to serve. `reset_at` (Unix seconds) is when a usage limit resets;
    `retry_after` (seconds), when given, is the `retry-after` header sent with it (None: what
    the provider would send: 1 s for a rate limit, the time to the reset for a usage limit)."""

    kind: str
    retry_after: int | None = None
    reset_at: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; one of {', '.join(KINDS)}")

    @property
    def resets_at(self) -> int:
        """The usage limit's reset in whole Unix seconds (rounded up, as providers send it)."""
        return math.ceil(self.reset_at)


@dataclass
class _Step:
    fault: Fault
    left: int | None  # None: forever


@dataclass
class FaultPlan:
    """Thread-safe script of faults; `take()` is called once per request that may fail."""

    scope: str = "all"  # all | main
    _steps: list[_Step] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    served: list[Fault] = field(default_factory=list)

    def add(
        self,
        kind: str,
        count: int | None = 1,
        *,
        retry_after: int | None = None,
        reset_in: float = 5.0,
    ) -> FaultPlan:
        """Append "fail the next `count` requests with `kind`" (None: all of them; for a
        usage limit, all of them until it resets `reset_in` seconds from now)."""
        fault = Fault(kind, retry_after=retry_after, reset_at=time.time() + reset_in)
        with self._lock:
            self._steps.append(_Step(fault, count))
        return self

    def clear(self) -> None:
        """Answer normally from now on."""
        with self._lock:
            self._steps.clear()

    def take(self, main: bool = True) -> Fault | None:
        """The fault for this request (`main`: one of the agent's own turns), or None to answer
        it normally."""
        if not main and self.scope == "main":
            return None
        with self._lock:
            while self._steps and self._spent(self._steps[0]):
                self._steps.pop(0)
            if not self._steps:
                return None
            step = self._steps[0]
            if step.left is not None:
                step.left -= 1
            self.served.append(step.fault)
            return step.fault

    def peek(self) -> Fault | None:
        """The fault the next request would be served (None: answered normally)."""
        with self._lock:
            step = next((s for s in self._steps if not self._spent(s)), None)
            return step.fault if step else None

    @staticmethod
    def _spent(step: _Step) -> bool:
        if step.left == 0:
            return True
        reset = step.fault.kind == "usage_limit" and step.left is None
        return reset and time.time() >= step.fault.reset_at

    @classmethod
    def parse(
        cls,
        spec: str,
        scope: str = "all",
        *,
        retry_after: int | None = None,
        reset_in: float = 5.0,
    ) -> FaultPlan:
        """A plan from `KIND[:COUNT],...` (see the module docstring)."""
        plan = cls(scope=scope)
        for part in filter(None, (p.strip() for p in spec.split(","))):
            kind, _, count = part.partition(":")
            limit = None if count in ("", "*") else int(count)
            plan.add(kind, limit, retry_after=retry_after, reset_in=reset_in)
        return plan
