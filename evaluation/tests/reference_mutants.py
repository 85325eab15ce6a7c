"""Wrong refactors of the reference task's notify_service, as data: each must fail at least one test.

Each mutant is a list of (old, new) text edits on `repository_after/notify_service.py`; `apply`
refuses an edit whose old text is not found exactly once, so a change of the reference refactor
shows up as a clear error here instead of a mutant that quietly stopped being one. `caught_by`
names the tests that catch the mutant by construction and failed on it in every run (10 runs on
a 2-core machine loaded far past its cores); any one of them failing is enough to call the
mutant caught. Other tests may fail on a mutant too, by chance: `submit_all` and `executor_map`,
for instance, also fail the fatal-error test in most runs, but that catch is a race between the
freed workers and the caller reading results in index order, so it is not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

P2P = "tests/test_behavior_basics.py"
F2P = "tests/test_concurrency_constraints.py"


@dataclass(frozen=True)
class Mutant:
    name: str
    flaw: str  # the requirement it breaks, in one line
    edits: tuple[tuple[str, str], ...]
    caught_by: tuple[str, ...]  # "file::test_name" of the tests that fail on it every time

    def apply(self, after_source: str) -> str:
        """The mutant's module source, made from the reference refactor's source."""
        source = after_source
        for old, new in self.edits:
            found = source.count(old)
            if found != 1:
                raise ValueError(
                    f"mutant {self.name!r}: the text to replace occurs {found} times in the refactor, "
                    f"expected once: {old[:70]!r}"
                )
            source = source.replace(old, new)
        return source


def write_mutants(after_path: Path, directory: Path) -> dict[str, Path]:
    """Write each mutant as `<directory>/<name>/notify_service.py`; return name -> folder."""
    after_source = after_path.read_text(encoding="utf-8")
    folders: dict[str, Path] = {}
    for mutant in MUTANTS.values():
        folder = directory / mutant.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "notify_service.py").write_text(mutant.apply(after_source), encoding="utf-8")
        folders[mutant.name] = folder
    return folders


# The body of notify_users after its docstring, as the reference refactor has it;
# mutants that rework the whole loop replace this text.
_DRIVER = """    executor = _shared_executor()
    upcoming: Iterator[tuple[int, Any]] = enumerate(user_ids)
    results: list[Any] = []
    in_flight: dict[Future[Any], int] = {}

    def submit(count: int) -> None:
        for index, user_id in itertools.islice(upcoming, count):
            results.append(None)  # the slot of input `index`, filled when its send is done
            in_flight[executor.submit(_notify_one, user_id, payload)] = index

    try:
        submit(MAX_WORKERS)
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                index = in_flight.pop(future)
                # The index travels with the future, so completion order cannot reorder results.
                # result() re-raises only what _notify_one let through: fatal errors.
                results[index] = future.result()
            # Refill only after the whole batch of completions was read: once a fatal error
            # is seen, nothing new is started.
            submit(len(done))
    except BaseException:
        # Also reached when Ctrl-C interrupts this thread while it waits.
        for future in in_flight:
            future.cancel()
        raise
    return results
"""

_POOL = 'ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="notify")'
_CALL = "        return send_notification(user_id, payload)\n"
_CATCH = "    except Exception as exc:  # not BaseException: KeyboardInterrupt and SystemExit must get through\n"


def _f2p(*names: str) -> tuple[str, ...]:
    return tuple(f"{F2P}::{name}" for name in names)


def _p2p(*names: str) -> tuple[str, ...]:
    return tuple(f"{P2P}::{name}" for name in names)


_MUTANTS = [
    Mutant(
        "sequential",
        "no real concurrency: the 'refactor' still sends one user after another on the caller's thread",
        (
            (
                _DRIVER,
                "    return [_notify_one(user_id, payload) for user_id in user_ids]\n",
            ),
        ),
        _f2p(
            "test_fatal_error_propagates_and_cancels_work_not_started",
            "test_fifty_sends_run_at_once_and_never_more",
            "test_large_batch_streams_with_bounded_concurrency",
            "test_limit_is_process_wide_across_concurrent_callers",
            "test_results_keep_input_order_when_sends_finish_in_reverse",
            "test_a_lazy_input_is_read_as_sends_finish",
        ),
    ),
    Mutant(
        "executor_per_call",
        "a new 50-worker pool per call: the limit is per caller, so concurrent callers exceed 50",
        (("    executor = _shared_executor()\n", f"    executor = {_POOL}\n"),),
        _f2p("test_limit_is_process_wide_across_concurrent_callers"),
    ),
    Mutant(
        "workers_per_user",
        "a pool of len(user_ids) workers per call, everything submitted at once: no limit at all",
        (
            (
                _DRIVER,
                "    users = list(user_ids)\n"
                "    if not users:\n"
                "        return []\n"
                "    with ThreadPoolExecutor(max_workers=len(users)) as executor:\n"
                "        futures = [executor.submit(_notify_one, user_id, payload) for user_id in users]\n"
                "        return [future.result() for future in futures]\n",
            ),
        ),
        _f2p(
            "test_fatal_error_propagates_and_cancels_work_not_started",
            "test_fifty_sends_run_at_once_and_never_more",
            "test_large_batch_streams_with_bounded_concurrency",
            "test_limit_is_process_wide_across_concurrent_callers",
            "test_a_lazy_input_is_read_as_sends_finish",
        ),
    ),
    Mutant(
        "default_pool_size",
        "the shared pool keeps ThreadPoolExecutor's default size (min(32, cpus + 4)), not 50",
        ((_POOL, 'ThreadPoolExecutor(thread_name_prefix="notify")'),),
        _f2p(
            "test_fatal_error_propagates_and_cancels_work_not_started",
            "test_fifty_sends_run_at_once_and_never_more",
            "test_large_batch_streams_with_bounded_concurrency",
            "test_limit_is_process_wide_across_concurrent_callers",
            "test_results_keep_input_order_when_sends_finish_in_reverse",
            "test_a_lazy_input_is_read_as_sends_finish",
        ),
    ),
    Mutant(
        "off_by_one",
        "51 workers and a window of 51: one send too many at once",
        (
            (_POOL, 'ThreadPoolExecutor(max_workers=MAX_WORKERS + 1, thread_name_prefix="notify")'),
            ("        submit(MAX_WORKERS)\n", "        submit(MAX_WORKERS + 1)\n"),
        ),
        _f2p(
            "test_fifty_sends_run_at_once_and_never_more",
            "test_limit_is_process_wide_across_concurrent_callers",
        ),
    ),
    Mutant(
        "submit_all",
        "the whole batch submitted up front to the shared pool: thousands of pending futures",
        (
            (
                _DRIVER,
                "    executor = _shared_executor()\n"
                "    futures = [executor.submit(_notify_one, user_id, payload) for user_id in user_ids]\n"
                "    try:\n"
                "        return [future.result() for future in futures]\n"
                "    except BaseException:\n"
                "        for future in futures:\n"
                "            future.cancel()\n"
                "        raise\n",
            ),
        ),
        _f2p(
            "test_large_batch_streams_with_bounded_concurrency",
            "test_a_lazy_input_is_read_as_sends_finish",
        ),
    ),
    Mutant(
        "executor_map",
        "executor.map on the shared pool: map submits every user before yielding the first result",
        (
            (
                _DRIVER,
                "    return list(_shared_executor().map(_notify_one, user_ids, itertools.repeat(payload)))\n",
            ),
        ),
        _f2p(
            "test_large_batch_streams_with_bounded_concurrency",
            "test_a_lazy_input_is_read_as_sends_finish",
        ),
    ),
    Mutant(
        "completion_order",
        "results appended as sends complete, so results[i] no longer matches user_ids[i]",
        (
            (
                "    in_flight: dict[Future[Any], int] = {}\n",
                "    in_flight: dict[Future[Any], int] = {}\n    finished: list[Any] = []\n",
            ),
            (
                "                results[index] = future.result()\n",
                "                finished.append(future.result())\n",
            ),
            ("        raise\n    return results\n", "        raise\n    return finished\n"),
        ),
        _p2p(
            "test_accepts_any_iterable_of_users[iterator]",
            "test_ordinary_errors_become_their_message_at_their_index",
            "test_real_send_notification_contract",
            "test_send_notification_is_looked_up_at_call_time",
        )
        + _f2p(
            "test_fifty_sends_run_at_once_and_never_more",
            "test_large_batch_streams_with_bounded_concurrency",
            "test_limit_is_process_wide_across_concurrent_callers",
            "test_results_keep_input_order_when_sends_finish_in_reverse",
            "test_a_lazy_input_is_read_as_sends_finish",
        ),
    ),
    Mutant(
        "fatal_as_string",
        "catches BaseException per user: a KeyboardInterrupt becomes a result string",
        ((_CATCH, "    except BaseException as exc:\n"),),
        _p2p(
            "test_fatal_errors_propagate[Fatal]",
            "test_fatal_errors_propagate[KeyboardInterrupt]",
            "test_fatal_errors_propagate[SystemExit]",
        )
        + _f2p("test_fatal_error_propagates_and_cancels_work_not_started"),
    ),
    Mutant(
        "swallow_fatal",
        "a fatal error stops the batch but is swallowed: notify_users returns the partial results",
        (
            (
                "            future.cancel()\n        raise\n",
                "            future.cancel()\n        return results\n",
            ),
        ),
        _p2p(
            "test_fatal_errors_propagate[Fatal]",
            "test_fatal_errors_propagate[KeyboardInterrupt]",
            "test_fatal_errors_propagate[SystemExit]",
        )
        + _f2p("test_fatal_error_propagates_and_cancels_work_not_started"),
    ),
    Mutant(
        "defer_fatal",
        "a fatal error is kept and re-raised only after the whole batch ran: nothing is cancelled",
        (
            (
                "    try:\n        submit(MAX_WORKERS)\n",
                "    fatal: BaseException | None = None\n    try:\n        submit(MAX_WORKERS)\n",
            ),
            (
                "                results[index] = future.result()\n",
                "                try:\n"
                "                    results[index] = future.result()\n"
                "                except BaseException as exc:\n"
                "                    fatal = fatal or exc\n",
            ),
            (
                "        raise\n    return results\n",
                "        raise\n    if fatal is not None:\n        raise fatal\n    return results\n",
            ),
        ),
        _f2p("test_fatal_error_propagates_and_cancels_work_not_started"),
    ),
    Mutant(
        "submit_all_without_cancel",
        "everything submitted up front and a fatal error re-raised without cancelling the queue",
        (
            (
                _DRIVER,
                "    executor = _shared_executor()\n"
                "    futures = [executor.submit(_notify_one, user_id, payload) for user_id in user_ids]\n"
                "    return [future.result() for future in futures]\n",
            ),
        ),
        _f2p(
            "test_fatal_error_propagates_and_cancels_work_not_started",
            "test_large_batch_streams_with_bounded_concurrency",
            "test_a_lazy_input_is_read_as_sends_finish",
        ),
    ),
    Mutant(
        "bound_at_import",
        "send_notification bound to a second name at import: replacing the module attribute is ignored",
        (
            ("\n\ndef lookup_user(", "\n\n_send = send_notification\n\n\ndef lookup_user("),
            (_CALL, "        return _send(user_id, payload)\n"),
        ),
        _p2p(
            "test_accepts_any_iterable_of_users[generator]",
            "test_accepts_any_iterable_of_users[iterator]",
            "test_accepts_any_iterable_of_users[tuple]",
            "test_fatal_errors_propagate[Fatal]",
            "test_fatal_errors_propagate[KeyboardInterrupt]",
            "test_fatal_errors_propagate[SystemExit]",
            "test_ordinary_errors_become_their_message_at_their_index",
            "test_payload_reaches_every_send_unchanged",
            "test_results_follow_input_order",
            "test_send_notification_is_looked_up_at_call_time",
        )
        + _f2p(
            "test_fatal_error_propagates_and_cancels_work_not_started",
            "test_fifty_sends_run_at_once_and_never_more",
            "test_large_batch_streams_with_bounded_concurrency",
            "test_limit_is_process_wide_across_concurrent_callers",
            "test_results_keep_input_order_when_sends_finish_in_reverse",
            "test_a_lazy_input_is_read_as_sends_finish",
        ),
    ),
    Mutant(
        "exception_propagates",
        "ordinary exceptions are not caught: the first failing user aborts the whole batch",
        (
            (
                _CATCH + "        return str(exc)\n",
                "    finally:\n        pass  # no except clause: every error escapes\n",
            ),
        ),
        _p2p(
            "test_ordinary_errors_become_their_message_at_their_index",
            "test_real_send_notification_contract",
            "test_send_notification_is_looked_up_at_call_time",
        )
        + _f2p(
            "test_fifty_sends_run_at_once_and_never_more",
            "test_large_batch_streams_with_bounded_concurrency",
            "test_results_keep_input_order_when_sends_finish_in_reverse",
        ),
    ),
    Mutant(
        "error_repr",
        "an ordinary error becomes repr(e) instead of str(e)",
        (("        return str(exc)\n", "        return repr(exc)\n"),),
        _p2p(
            "test_ordinary_errors_become_their_message_at_their_index",
            "test_real_send_notification_contract",
            "test_send_notification_is_looked_up_at_call_time",
        )
        + _f2p(
            "test_fifty_sends_run_at_once_and_never_more",
            "test_large_batch_streams_with_bounded_concurrency",
            "test_results_keep_input_order_when_sends_finish_in_reverse",
        ),
    ),
    Mutant(
        "semaphore_leaks_on_error",
        "a global semaphore released only after a successful send: every failure loses a slot for good",
        (
            (
                "\n_executor_lock = threading.Lock()\n",
                "\n_executor_lock = threading.Lock()\n_slots = threading.Semaphore(MAX_WORKERS)\n",
            ),
            (
                _CALL,
                "        _slots.acquire()\n"
                "        receipt = send_notification(user_id, payload)\n"
                "        _slots.release()\n"
                "        return receipt\n",
            ),
        ),
        _f2p(
            "test_fatal_error_propagates_and_cancels_work_not_started",
            "test_fifty_sends_run_at_once_and_never_more",
            "test_large_batch_streams_with_bounded_concurrency",
            "test_limit_is_process_wide_across_concurrent_callers",
            "test_results_keep_input_order_when_sends_finish_in_reverse",
            "test_a_lazy_input_is_read_as_sends_finish",
        ),
    ),
]

MUTANTS: dict[str, Mutant] = {mutant.name: mutant for mutant in _MUTANTS}
