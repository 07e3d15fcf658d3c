"""Results in order with a bounded number of tasks in flight: what the pool scoring feeds its workers with.

``multiprocessing.Pool.imap`` reads its whole input ahead and Dask's ``client.map`` submits all of it at once, so
fed a million-sentence pool either would hold every batch in memory; fed one shard at a time, the workers wait at
the end of every shard for the slowest batch. Submitting a few batches per worker ahead, across shards, keeps the
workers busy and the memory bounded.
"""
from collections import deque
from typing import Callable, Deque, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")
AHEAD_PER_WORKER = 2  # batches in flight per worker: one scoring, one waiting


def in_order(submit: Callable[[T], Callable[[], R]], items: Iterable[T], window: int) -> Iterator[R]:
    """Each item's result, in the items' order. ``submit`` starts the work on one item and returns the function
    that waits for its result; at most ``window`` items are started and not yet yielded."""
    pending: Deque[Callable[[], R]] = deque()
    for item in items:
        pending.append(submit(item))
        if len(pending) >= max(1, window):
            yield pending.popleft()()
    while pending:
        yield pending.popleft()()
