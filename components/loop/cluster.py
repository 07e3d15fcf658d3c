"""Pool scoring on a Dask cluster (``loop.score_cluster``): the same batches as the local worker pool, elsewhere,
fed the same way: a few per worker ahead (:mod:`.inflight`).

Each Dask worker gets the round's model once (packed in memory and sent with a worker plugin, so the workers need no
shared disk), loads it, and scores the batches it is given; the scores come back in order, so they are those of
one local process. The workers need this package installed (the same version: the uncertainty component scores).

Why Dask and not Ray: ``dask[distributed]`` is a few MB of pure-Python wheels, starts a local cluster in seconds
(the tests run one on 127.0.0.1), and its worker plugin is exactly "load the pipeline once per worker"; Ray Data's
``map_batches`` with actors is the same pattern behind a 79 MB wheel and its own object store.
"""
import functools
import hashlib
import io
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..errors import LoopError
from .inflight import AHEAD_PER_WORKER, R, T, in_order

try:  # an optional extra: without it, only the error below says so
    from distributed import WorkerPlugin as _PluginBase
except ImportError:  # pragma: no cover
    _PluginBase = object  # type: ignore[assignment,misc]

CONNECT_TIMEOUT = "30s"  # to reach the scheduler
_LOCK = threading.Lock()  # one scoring at a time per worker process: a Dask worker may run several threads


def _pack(model: Path) -> bytes:
    """The model folder as an in-memory gzip tar."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(str(model), arcname="model")
    return buffer.getvalue()


class _Pipeline(_PluginBase):
    """A Dask worker plugin: unpack the model into a temporary folder and load it once per worker process."""

    def __init__(self, archive: bytes, key: str, load: Callable[[str], None]) -> None:
        self.archive, self.key, self.load = archive, key, load
        self.name = f"spacy-llm-loop-pipeline-{key}"  # a new model (a new round) replaces no other plugin's state

    def setup(self, worker: Any) -> None:
        folder = Path(tempfile.mkdtemp(prefix="spacy-llm-loop-model-"))
        with tarfile.open(fileobj=io.BytesIO(self.archive), mode="r:gz") as tar:
            tar.extractall(folder, filter="data")
        self.load(str(folder / "model"))


def _locked(chunk: Any, fn: Callable[[Any], Any]) -> Any:
    with _LOCK:
        return fn(chunk)


class DaskScorer:
    """The scoring batches sent to the Dask scheduler at ``address`` (``tcp://host:8786``); ``imap`` gives the
    results in the order of the batches, as :meth:`multiprocessing.pool.Pool.imap` does."""

    def __init__(self, address: str, model: Path, load: Callable[[str], None]) -> None:
        """``load``: the function that loads the pipeline in a scoring process (called once on each worker)."""
        try:
            from distributed import Client
        except ImportError:
            raise LoopError("loop.score_cluster needs Dask: pip install 'spacy-llm-loop[dask]'") from None
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as err:
            raise LoopError(f"cannot reach the Dask scheduler at '{address}' (loop.score_cluster): {err}") from None
        archive = _pack(model)
        key = hashlib.sha256(archive).hexdigest()[:12]
        self.client.register_plugin(_Pipeline(archive, key, load))
        self.workers = len(self.client.scheduler_info().get("workers", {}))
        if not self.workers:
            self.client.close()
            raise LoopError(f"the Dask scheduler at '{address}' has no workers (loop.score_cluster)")

    def imap(self, fn: Callable[[T], R], chunks: Iterable[T]) -> Iterator[R]:
        """``fn`` over ``chunks`` on the workers (one at a time in each, a few ahead: :mod:`.inflight`), results
        in order."""
        task = functools.partial(_locked, fn=fn)
        return in_order(lambda chunk: self.client.submit(task, chunk, pure=False).result, chunks,
                        AHEAD_PER_WORKER * self.workers)

    def close(self) -> None:
        self.client.close()

    def terminate(self) -> None:
        """Stop: the batches not yet scored are cancelled."""
        self.client.close()

    def join(self) -> None:
        return None
