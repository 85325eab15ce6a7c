"""FAIL_TO_PASS: the concurrency contract of the refactor.

notify_users must run sends concurrently, at most 50 at once in the whole process (from its very
first concurrent calls on), read its input as the work goes instead of queueing the whole batch
(wherever a backlog would wait: futures, a queue, a list), keep results in input order, and let a
fatal error through while starting nothing more of that batch once the error has reached the caller.

The fake send (SendBoard) blocks on conditions that the test controls instead of sleeping, so
"50 at once" is shown by 50 calls really being inside at the same moment. Claims that something
never happens (a 51st send, more pending work, a late start) are watched for SETTLE seconds
after the state where they would show: a wrong implementation shows them within milliseconds.

The fixture `concurrency_probe` comes from the concgrade pytest plugin; it records the figures
(max_active, calls, timeline) of each test with the graded run.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import ModuleType
from typing import Any

import notify_service
import pytest

LIMIT = 50  # the required process-wide ceiling on concurrent send_notification calls
# "Never thousands of pending futures": one pool's worth in flight, with one more round of slack.
PENDING_LIMIT = 2 * LIMIT
DEADLINE = 5.0  # seconds after which every wait of a test gives up (the task's test timeout is 10 s)
SETTLE = 0.5  # seconds a test watches for something that must not happen (violations show in < 0.1 s)
GRACE = 0.5  # seconds a design may spend on running sends before it re-raises a fatal error


class NotConcurrent(BaseException):
    """Raised by the fake on a caller's own thread once it is plain that sends run one after another."""


class Rejected(Exception):
    """An ordinary application error a send may raise."""


def receipt(user_id: Any, payload: Any) -> str:
    return f"fake receipt {user_id}/{payload}"


class Caller:
    """A thread that calls notify_users once and keeps its outcome."""

    def __init__(
        self, board: SendBoard, user_ids: Iterable[Any], payload: Any, notify: Callable[..., list[Any]]
    ) -> None:
        self.result: list[Any] | None = None
        self.error: BaseException | None = None
        self.done = False
        self.payload = payload
        self.sends_when_raised = 0  # how many sends (of any caller) had started when this call raised
        self.begun_when_raised: frozenset[Any] = frozenset()  # the users whose lookup had begun by then
        self._board = board
        self._user_ids = user_ids
        self._notify = notify
        self.thread = threading.Thread(target=self._run, name=f"caller-{payload}", daemon=True)

    def _run(self) -> None:
        self._board._caller_started()
        try:
            self.result = self._notify(self._user_ids, self.payload)
        except BaseException as exc:  # the outcome under test, fatal ones included
            with self._board.cond:
                self.sends_when_raised = len(self._board.sends)
                self.begun_when_raised = frozenset(self._board.begun)
            self.error = exc
        finally:
            self._board._caller_finished(self)

    def outcome(self) -> str:
        if self.error is not None:
            return f"raised {self.error!r}"
        return f"returned {str(self.result)[:120]}"


class SendBoard:
    """A fake send_notification whose calls block on conditions the test controls, plus its counts.

    Every count changes under one Condition, so the test waits for "50 sends inside" or "the
    callers returned" without polling. A send running on a caller's own thread never blocks: a
    sequential implementation finishes at once and fails on its figures instead of hanging, and
    after more than LIMIT such sends with none on any other thread the fake stops it with
    NotConcurrent, so even a large batch costs the original no time.
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self._deadline = time.monotonic() + DEADLINE
        self.script: Callable[[Any, Any], Any] = self.hold_then_receipt
        self.probe: Any = None  # the harness's CallProbe around this fake, set by the fixture
        self.is_open = False
        self.active = 0
        self.max_active = 0
        self.started = 0
        self.started_by: Counter[Any] = Counter()  # sends started, by payload (one payload per caller)
        self.sends: list[tuple[Any, Any]] = []  # (user, payload) of every send, in the order they started
        self.begun: set[Any] = set()  # users whose work began (their lookup was called)
        self.let_through: set[Any] = set()  # users whose held send may return before the gate opens
        self.on_callers = 0
        self.on_others = 0
        self.finish_order: list[Any] = []
        self.fatal_raised = False
        self.active_at_fatal = 0
        self.late_starts = 0
        self.callers: list[Caller] = []
        self._caller_threads: set[int] = set()
        self._running_callers = 0

    # -- the fake itself -------------------------------------------------------------------

    def send(self, user_id: Any, payload: Any) -> Any:
        with self.cond:
            on_caller = threading.get_ident() in self._caller_threads
            self.started += 1
            self.started_by[payload] += 1
            self.sends.append((user_id, payload))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            if self.fatal_raised:
                self.late_starts += 1
            if on_caller:
                self.on_callers += 1
            else:
                self.on_others += 1
            sequential = on_caller and self.on_others == 0 and self.on_callers > LIMIT
            self.cond.notify_all()
        try:
            if sequential:
                raise NotConcurrent(f"{self.on_callers} sends ran on the calling thread and none elsewhere")
            return self.script(user_id, payload)
        finally:
            with self.cond:
                self.active -= 1
                self.finish_order.append(user_id)
                self.cond.notify_all()

    def lookup(self, user_id: Any) -> dict[str, Any]:
        """A fake lookup_user that returns at once and notes that this user's work has begun."""
        with self.cond:
            self.begun.add(user_id)
        return {"id": user_id}

    def late_sends(self, caller: Caller) -> list[Any]:
        """The caller's users whose send started after its call raised, and whose work had not begun by then
        (work already running when the error reached the caller cannot be stopped, and is not late)."""
        with self.cond:
            later = self.sends[caller.sends_when_raised :]
            return [
                user for user, payload in later if payload == caller.payload and user not in caller.begun_when_raised
            ]

    def block_until(self, predicate: Callable[[], bool]) -> bool:
        """Inside a send: wait until predicate() holds or the deadline passes; never on a caller's thread."""
        with self.cond:
            if threading.get_ident() in self._caller_threads:
                return predicate()
            return self.cond.wait_for(predicate, timeout=self._remaining())

    def hold_then_receipt(self, user_id: Any, payload: Any) -> str:
        self.block_until(lambda: self.is_open or user_id in self.let_through)
        return receipt(user_id, payload)

    def mark_fatal(self) -> None:
        with self.cond:
            self.fatal_raised = True
            self.active_at_fatal = self.active
            self.cond.notify_all()

    def first_fatal(self) -> bool:
        """True for the first caller of this only: the send that is to raise the fatal error."""
        with self.cond:
            if self.fatal_raised:
                return False
        self.mark_fatal()
        return True

    @property
    def finished(self) -> int:
        return len(self.finish_order)

    # -- the test's side -------------------------------------------------------------------

    def start(self, user_ids: Iterable[Any], payload: Any, notify: Callable[..., list[Any]] | None = None) -> Caller:
        caller = Caller(self, user_ids, payload, notify or notify_service.notify_users)
        with self.cond:
            self.callers.append(caller)
            self._running_callers += 1
        caller.thread.start()
        return caller

    def release_user(self, user_id: Any) -> None:
        """Let the held send of this one user return (its worker is then free), the gate staying shut."""
        with self.cond:
            self.let_through.add(user_id)
            self.cond.notify_all()

    def release(self) -> None:
        """Open the gate: held sends return and later ones do not wait."""
        with self.cond:
            self.is_open = True
            self.cond.notify_all()

    def reaches(self, predicate: Callable[[], bool], seconds: float = DEADLINE) -> bool:
        """Wait until predicate() holds, every caller has returned, or time is up; return predicate()."""
        with self.cond:
            self.cond.wait_for(
                lambda: predicate() or self._running_callers == 0,
                timeout=min(seconds, self._remaining()),
            )
            return predicate()

    def stays_false(self, predicate: Callable[[], bool], seconds: float = SETTLE) -> bool:
        """Watch for `seconds`: False as soon as predicate() holds, True if it never did."""
        with self.cond:
            return not self.cond.wait_for(predicate, timeout=min(seconds, self._remaining()))

    def join(self, seconds: float = DEADLINE) -> bool:
        """Wait for every caller to return (within `seconds` and the deadline); True if all did."""
        return self.reaches(lambda: self._running_callers == 0, seconds)

    def figures(self) -> str:
        outcomes = "; ".join(caller.outcome() for caller in self.callers)
        return (
            f"max_active={self.max_active} started={self.started} "
            f"on caller threads={self.on_callers} on other threads={self.on_others} "
            f"late_starts={self.late_starts} by payload={dict(self.started_by)} callers: {outcomes}"
        )

    def close(self) -> None:
        """Release everything and let it drain, so the next test starts from an idle service."""
        self.release()
        self.join()
        self.reaches(lambda: self.active == 0)

    def _remaining(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def _caller_started(self) -> None:
        with self.cond:
            self._caller_threads.add(threading.get_ident())

    def _caller_finished(self, caller: Caller) -> None:
        with self.cond:
            # An ended thread's ident may be reused by a new thread, which must not count as a caller.
            self._caller_threads.discard(threading.get_ident())
            caller.done = True
            self._running_callers -= 1
            self.cond.notify_all()


class FutureCensus:
    """Counts concurrent.futures.Future objects created and not yet done, whatever executor made them.

    Hooked at class level (Future.__init__), so it sees executor.submit, executor.map and
    run_in_executor alike; a design without futures simply shows none.
    """

    def __init__(self, cond: threading.Condition) -> None:
        self._cond = cond
        self.live = 0
        self.peak = 0
        self.created = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original_init = Future.__init__
        census = self

        def counting_init(future: Future[Any], *args: Any, **kwargs: Any) -> None:
            original_init(future, *args, **kwargs)
            with census._cond:
                census.created += 1
                census.live += 1
                census.peak = max(census.peak, census.live)
                census._cond.notify_all()
            future.add_done_callback(census._done)

        monkeypatch.setattr(Future, "__init__", counting_init)

    def _done(self, _future: Future[Any]) -> None:
        with self._cond:
            self.live -= 1


class LazyUsers:
    """A lazy input (a generator) that counts the users taken from it, and how far the taking ran ahead of
    the sends that finished: the backlog of the call, wherever it waits (futures, a queue, a list)."""

    def __init__(self, board: SendBoard, users: Iterable[Any]) -> None:
        self._board = board
        self._users = users
        self.taken = 0
        self.max_ahead = 0
        self.taken_after_fatal: set[Any] = set()  # users taken once a send had raised a fatal error

    def __iter__(self) -> Iterator[Any]:
        for user in self._users:
            with self._board.cond:
                self.taken += 1
                self.max_ahead = max(self.max_ahead, self.taken - self._board.finished)
                if self._board.fatal_raised:
                    self.taken_after_fatal.add(user)
                self._board.cond.notify_all()
            yield user


def fresh_service() -> ModuleType:
    """A new copy of notify_service from its own file, as a process that has not used it yet sees it."""
    spec = importlib.util.spec_from_file_location("notify_service_fresh", notify_service.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def board(monkeypatch: pytest.MonkeyPatch, concurrency_probe: Any) -> Iterator[SendBoard]:
    """A SendBoard installed as notify_service.send_notification (and its lookup as lookup_user), with the
    harness's probe around the send.

    Fixture order matters: the board drains first, then the probe is removed, then monkeypatch
    puts the real send back.
    """
    fake = SendBoard()
    monkeypatch.setattr(notify_service, "send_notification", fake.send)
    monkeypatch.setattr(notify_service, "lookup_user", fake.lookup)
    fake.probe = concurrency_probe(notify_service, "send_notification")
    yield fake
    fake.close()


@pytest.fixture
def census(board: SendBoard, monkeypatch: pytest.MonkeyPatch) -> FutureCensus:
    counter = FutureCensus(board.cond)
    counter.install(monkeypatch)
    return counter


def test_limit_is_declared_as_max_workers() -> None:
    assert getattr(notify_service, "MAX_WORKERS", None) == LIMIT


def test_fifty_sends_run_at_once_and_never_more(board: SendBoard) -> None:
    users = list(range(120))

    def script(user_id: int, payload: str) -> str:
        board.block_until(lambda: board.is_open)
        if user_id % 2:  # 60 failures: more than 50, so no failure may cost a slot
            raise Rejected(f"user {user_id} rejected")
        return receipt(user_id, payload)

    board.script = script
    caller = board.start(users, "wave")

    assert board.reaches(lambda: board.active >= LIMIT), f"50 sends never ran at once: {board.figures()}"
    assert board.stays_false(lambda: board.active > LIMIT), f"more than 50 sends at once: {board.figures()}"
    board.release()
    assert board.join(), f"notify_users did not return: {board.figures()}"

    expected = [f"user {user} rejected" if user % 2 else receipt(user, "wave") for user in users]
    assert caller.error is None and caller.result == expected, board.figures()
    assert board.probe.max_active == LIMIT
    assert board.probe.calls == len(users)


def test_limit_is_process_wide_across_concurrent_callers(board: SendBoard) -> None:
    callers = [board.start(range(60), f"caller{number}") for number in range(3)]

    assert board.reaches(lambda: board.active >= LIMIT), f"50 sends never ran at once: {board.figures()}"
    assert board.stays_false(lambda: board.active > LIMIT), (
        f"three concurrent callers pushed past 50 sends at once: {board.figures()}"
    )
    board.release()
    assert board.join(), f"notify_users did not return: {board.figures()}"

    for caller in callers:
        assert caller.error is None and caller.result == [receipt(user, caller.payload) for user in range(60)]
    assert board.probe.max_active == LIMIT
    assert board.probe.calls == 3 * 60


def test_a_lazy_input_is_read_as_sends_finish(board: SendBoard, census: FutureCensus) -> None:
    """While every send is held, the call may take about a pool's worth of users from a generator, no more:
    a backlog is a backlog whether it waits in futures, a queue or a list."""
    users = LazyUsers(board, (user for user in range(300)))
    caller = board.start(users, "stream")

    assert board.reaches(lambda: board.active >= LIMIT), f"50 sends never ran at once: {board.figures()}"
    assert board.stays_false(lambda: users.taken > PENDING_LIMIT), (
        f"{users.taken} users taken from the input while no send had finished (at most {PENDING_LIMIT} expected)"
    )
    assert census.peak <= PENDING_LIMIT, f"{census.peak} futures pending at once for a batch of 300"
    board.release()
    assert board.join(), f"notify_users did not return: {board.figures()}"

    assert caller.error is None and caller.result == [receipt(user, "stream") for user in range(300)]
    assert users.max_ahead <= PENDING_LIMIT, f"the input was read {users.max_ahead} users ahead of finished sends"


def test_results_keep_input_order_when_sends_finish_in_reverse(board: SendBoard) -> None:
    """Each send waits for the next user's send to finish, so completions come last-first."""
    users = list(range(40))

    def script(user_id: int, payload: str) -> str:
        if user_id != users[-1]:
            board.block_until(lambda: user_id + 1 in board.finish_order)
        if user_id % 7 == 3:
            raise Rejected(f"user {user_id} rejected")
        return receipt(user_id, payload)

    board.script = script
    caller = board.start(users, "reverse")
    assert board.join(), f"notify_users did not return: {board.figures()}"

    assert board.finish_order == users[::-1], (
        f"sends did not overlap, so they could not finish last-first: {board.figures()}"
    )
    expected = [f"user {user} rejected" if user % 7 == 3 else receipt(user, "reverse") for user in users]
    assert caller.error is None and caller.result == expected, board.figures()
    assert 2 <= board.probe.max_active <= LIMIT


def test_fatal_error_propagates_and_cancels_work_not_started(board: SendBoard) -> None:
    """A send raises a fatal error while 49 others are held. The error reaches the caller, and what was in
    flight then is all that may still send: no user taken from the input after the error is ever sent (a
    design that keeps feeding the batch and raises at the end sends them), nor any whose work had not begun
    by the time the call raised."""
    users = LazyUsers(board, (user for user in range(300)))
    culprit = 10

    def script(user_id: int, payload: str) -> str:
        if user_id == culprit:
            board.block_until(lambda: board.active >= LIMIT)
            board.mark_fatal()
            raise KeyboardInterrupt(f"fatal at user {culprit}")
        return board.hold_then_receipt(user_id, payload)

    board.script = script
    caller = board.start(users, "fatal")
    # A design may let the sends already running finish before it re-raises. They are held, so
    # give it GRACE seconds to return, then let them go.
    board.reaches(lambda: board.fatal_raised)
    board.join(GRACE)
    board.release()
    assert board.join(), f"notify_users did not return: {board.figures()}"

    assert isinstance(caller.error, KeyboardInterrupt), f"the fatal error did not reach the caller: {board.figures()}"
    assert board.active_at_fatal >= LIMIT, f"the fatal error struck with only {board.active_at_fatal} send(s) in flight"
    assert board.stays_false(lambda: bool(board.late_sends(caller))), (
        f"users {board.late_sends(caller)[:10]} of the batch were started after its fatal error had reached the "
        f"caller: {board.figures()}"
    )
    sent_after = sorted(users.taken_after_fatal & {user for user, payload in board.sends if payload == "fatal"})
    assert not sent_after, (
        f"{len(sent_after)} users taken from the input after the fatal error were sent (e.g. {sent_after[:5]}): "
        f"{board.figures()}"
    )
    assert board.probe.max_active <= LIMIT


def test_a_fatal_error_cancels_the_work_queued_behind_another_caller(board: SendBoard) -> None:
    """Caller b holds every worker of the shared limit, so caller a's first users wait in line behind it. One
    of b's sends returns; the worker it frees takes a's first user, whose send raises a fatal error. Once a's
    call has raised, none of a's users may start: what had not started is cancelled, not run anyway (a user
    whose work had begun, its lookup called, was in flight and may still send)."""

    def script(user_id: int, payload: str) -> str:
        if payload == "a" and board.first_fatal():
            raise KeyboardInterrupt("fatal in caller a")
        return board.hold_then_receipt(user_id, payload)

    board.script = script
    b = board.start(range(LIMIT), "b")
    assert board.reaches(lambda: board.active >= LIMIT), f"50 sends never ran at once: {board.figures()}"
    a_users = LazyUsers(board, (user for user in range(LIMIT, LIMIT + 200)))
    a = board.start(a_users, "a")
    # a's first users are handed to the shared limit (a design may take fewer of them: then a moment passes).
    board.reaches(lambda: a_users.taken >= LIMIT, SETTLE)
    board.release_user(0)  # one of b's sends returns, its worker is free
    assert board.reaches(lambda: a.done), f"caller a did not return: {board.figures()}"
    assert isinstance(a.error, KeyboardInterrupt), f"the fatal error did not reach caller a: {board.figures()}"
    board.release()
    assert board.join(), f"notify_users did not return: {board.figures()}"

    assert board.stays_false(lambda: bool(board.late_sends(a))), (
        f"caller a's users {board.late_sends(a)[:10]} were started after its fatal error had reached it: "
        f"{board.figures()}"
    )
    assert b.error is None and b.result == [receipt(user, "b") for user in range(LIMIT)]
    assert board.probe.max_active <= LIMIT


def test_the_first_concurrent_callers_share_one_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three threads make the very first calls at once: whatever they set up on first use, the limit is one
    for the process. The pool's construction is held (until a second one starts, or SETTLE passes), so that
    a first-use check and the setting up it guards cannot be split by another caller unnoticed."""
    service = fresh_service()
    board = SendBoard()
    monkeypatch.setattr(service, "send_notification", board.send)
    monkeypatch.setattr(service, "lookup_user", board.lookup)
    building: list[Any] = []
    real_init = ThreadPoolExecutor.__init__

    def held_init(pool: ThreadPoolExecutor, *args: Any, **kwargs: Any) -> None:
        with board.cond:
            building.append(pool)
            board.cond.notify_all()
            board.cond.wait_for(lambda: len(building) > 1, timeout=SETTLE)
        real_init(pool, *args, **kwargs)

    monkeypatch.setattr(ThreadPoolExecutor, "__init__", held_init)
    try:
        callers = [board.start(range(60), f"first{number}", notify=service.notify_users) for number in range(3)]
        assert board.reaches(lambda: board.active >= LIMIT), f"50 sends never ran at once: {board.figures()}"
        assert board.stays_false(lambda: board.active > LIMIT), (
            f"the first concurrent callers pushed past 50 sends at once ({len(building)} pools built): "
            f"{board.figures()}"
        )
        board.release()
        assert board.join(), f"notify_users did not return: {board.figures()}"
        for caller in callers:
            assert caller.error is None and caller.result == [receipt(user, caller.payload) for user in range(60)]
    finally:
        board.close()


def test_large_batch_streams_with_bounded_concurrency(board: SendBoard, census: FutureCensus) -> None:
    """2,500 users from a generator, fast sends: at most 50 at once, a bounded backlog, ordered results.

    Past the sizes a bound is usually tried at: a bound that holds only for small batches, or grows with
    the batch, shows here."""
    count = 2500
    users = LazyUsers(board, (user for user in range(count)))

    def script(user_id: int, payload: str) -> str:
        if user_id % 97 == 13:
            raise Rejected(f"user {user_id} rejected")
        return receipt(user_id, payload)

    board.script = script
    caller = board.start(users, "bulk")
    assert board.join(), f"notify_users did not return: {board.figures()}"

    expected = [f"user {user} rejected" if user % 97 == 13 else receipt(user, "bulk") for user in range(count)]
    assert caller.error is None and caller.result == expected, board.figures()
    assert board.on_others > 0, f"every send ran on the calling thread: {board.figures()}"
    assert board.probe.max_active <= LIMIT
    assert board.probe.calls == count
    assert users.max_ahead <= PENDING_LIMIT, f"the input was read {users.max_ahead} users ahead of finished sends"
    assert census.peak <= PENDING_LIMIT, f"{census.peak} futures pending at once"
