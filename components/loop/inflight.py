"""Results in order with a bounded number of tasks in flight: what the pool scoring feeds its workers with.

``multiprocessing.Pool.imap`` reads its whole input ahead and Dask's ``client.map`` submits all of it at once, so
fed a million-sentence pool either would hold every batch in memory; fed one shard at a time, the workers wait at
the end of every shard for the slowest batch. Submitting a few batches per worker ahead, across shards, keeps the
workers busy and the memory bounded.

What feeds them is read ahead in a thread (:func:`read_ahead`): building a shard's batches (a subsample's shard
decodes about ten pool shards, 4-5 s at a million sentences) otherwise happens while the workers have run out of
batches; in a thread, it happens while the loop's process only waits for results.
"""
import queue
import threading
from collections import deque
from typing import Any, Callable, Deque, Generator, Iterable, Iterator, Optional, Tuple, TypeVar

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


_END = object()  # the producer's last message
READER = "spacy-llm-loop-read-ahead"  # the reading thread's name


def read_ahead(items: Iterable[T], ahead: int) -> Generator[T, None, None]:
    """``items``, produced in a thread, in order: at most ``ahead`` wait in its queue, and one more is being read.
    The producer's error is raised here. Stopping early (an error downstream, an interrupt, ``close()``) stops the
    producer once the item it is reading is read (a shard's batches: seconds at most) and waits for that, so
    nothing else reads what it reads once this generator is done."""
    box: "queue.Queue[Tuple[Any, Optional[BaseException]]]" = queue.Queue(maxsize=max(1, ahead))
    stop = threading.Event()

    def put(message: Tuple[Any, Optional[BaseException]]) -> bool:
        while not stop.is_set():
            try:
                box.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as err:  # handed to the consumer, raised there
            put((_END, err))

    thread = threading.Thread(target=produce, name=READER, daemon=True)
    try:
        thread.start()
        while True:
            item, error = _take(box, thread)
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        _join(thread)


def _take(box: "queue.Queue[Tuple[Any, Optional[BaseException]]]", thread: threading.Thread) -> Tuple[Any, Any]:
    """The next message; an error if the producer died without one (it hands over its errors, so only a failure
    inside the queue itself gets here)."""
    while True:
        try:
            return box.get(timeout=0.1)
        except queue.Empty:
            if not thread.is_alive() and box.empty():
                raise RuntimeError(f"the thread '{READER}' stopped without its last message") from None


def _join(thread: threading.Thread) -> None:
    """Wait for the producer even through a second Ctrl-C (re-raised after): a reader left running would read the
    pool behind the caller's back."""
    interrupted: Optional[BaseException] = None
    while thread.is_alive():
        try:
            thread.join()
        except KeyboardInterrupt as err:
            interrupted = err
    if interrupted is not None:
        raise interrupted
