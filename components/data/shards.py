"""A pool too large to hold as Docs: its sentences on disk in shards, read one shard at a time.

``corpus/<lang>/train.shards/`` stands in for ``train.spacy``: ``shard-00000.msgpack`` ... each holds up to
:data:`SHARD_SIZE` sentences as ``[id, words, IOB2 tags or None, task record]``; ``ids.msgpack`` lists every id in
pool order, ``lengths.msgpack`` every sentence's number of tokens and ``entity_tokens.msgpack`` its number of
tokens inside a gold entity (so selection, cost and the entity-rich seed sampler need no pass over the shards; a
folder written before them is read without them), and ``index.json`` (written last, so its presence
says the folder is complete) the shards, their sizes and digests. Why not DocBin shards: building Docs is what costs
(100,000 Docs from a DocBin: 52 s and 1.1 GB on this project's 2-core machine), and scoring and annotating need only
each sentence's words, which a msgpack shard gives without a Doc. Why not Parquet: the pool is read shard by shard,
front to back, so columns would add a 55 MB dependency (pyarrow) for nothing srsly's msgpack (spaCy's own
serialiser) does not already do.

:class:`ShardedPool` is a read-only ``Sequence[Doc]`` over such a folder, building a Doc only when one is asked
for; :class:`DocsById` the by-id lookup the loop keeps for the sentences it labels.
"""
import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union, overload

import srsly
from spacy.tokens import Doc
from spacy.vocab import Vocab

from ..errors import InputError
from ..fileio import atomic_path, write_json
from .docs import doc_tags, get_task, make_doc, sentence_id, set_task

SHARD_SIZE = 10_240  # sentences per shard: 40 scoring batches of 256, so a shard is scored in whole batches
INDEX = "index.json"
IDS = "ids.msgpack"
LENGTHS = "lengths.msgpack"
ENTITY_TOKENS = "entity_tokens.msgpack"
SUFFIX = ".shards"
FORMAT = 1
Record = Tuple[str, List[str], Optional[List[str]], Dict[str, Any]]  # id, words, tags (None: unlabelled), task; read
# back from a shard it is the decoded list of the four, shared with the cache: read it, do not change it


def shards_for(path: Union[str, Path]) -> Path:
    """``corpus/x/train.spacy`` -> ``corpus/x/train.shards``: where a sharded pool of that file lives."""
    path = Path(path)
    return path if path.suffix == SUFFIX else path.with_suffix(SUFFIX)


def is_sharded(path: Union[str, Path]) -> bool:
    """Whether ``path`` is a finished shards folder (its index written)."""
    return (Path(path) / INDEX).is_file()


def doc_record(doc: Doc) -> Record:
    """What a shard keeps of a Doc: its id, words, IOB2 tags (None when it carries no entity annotation) and task
    record (meta included)."""
    tags = doc_tags(doc) if doc.has_annotation("ENT_IOB") else None
    return sentence_id(doc), [t.text for t in doc], tags, dict(get_task(doc))


def record_doc(vocab: Vocab, record: Record) -> Doc:
    """The Doc of a shard record."""
    _, words, tags, task = record
    doc = make_doc(vocab, words, tags)
    set_task(doc, dict(task))
    return doc


def write_shards(docs: Iterable[Doc], folder: Union[str, Path], shard_size: int = SHARD_SIZE) -> Dict[str, Any]:
    """Write ``docs`` (any iterable: it is consumed once, a shard at a time) as a shards folder; return its index.

    A sentence id seen twice is refused (the loop finds sentences by id). The folder is written whole or not at
    all: into a temporary sibling, renamed at the end.
    """
    folder = Path(folder)
    if int(shard_size) < 1:
        raise ValueError(f"a shard holds at least 1 sentence, not {shard_size}")
    shards: List[Dict[str, Any]] = []
    ids: List[str] = []
    lengths: List[int] = []
    entity_tokens: List[int] = []
    seen: set = set()
    with atomic_path(folder, is_dir=True) as tmp:
        tmp.mkdir(parents=True, exist_ok=True)
        buffer: List[Record] = []

        def flush() -> None:
            name = f"shard-{len(shards):05d}.msgpack"
            data = srsly.msgpack_dumps(buffer)
            (tmp / name).write_bytes(data)
            shards.append({"file": name, "n": len(buffer), "sha256": hashlib.sha256(data).hexdigest()[:16]})
            buffer.clear()

        for doc in docs:
            record = doc_record(doc)
            if record[0] in seen:
                raise InputError(f"sentence id '{record[0]}' appears twice; ids must be unique", folder)
            seen.add(record[0])
            ids.append(record[0])
            lengths.append(len(record[1]))
            entity_tokens.append(sum(tag != "O" for tag in record[2] or ()))
            buffer.append(record)
            if len(buffer) == shard_size:
                flush()
        if buffer:
            flush()
        (tmp / IDS).write_bytes(srsly.msgpack_dumps(ids))
        (tmp / LENGTHS).write_bytes(srsly.msgpack_dumps(lengths))
        (tmp / ENTITY_TOKENS).write_bytes(srsly.msgpack_dumps(entity_tokens))
        digest = hashlib.sha256("".join(s["sha256"] for s in shards).encode()).hexdigest()[:16]
        index = {"format": FORMAT, "n": len(ids), "shard_size": shard_size, "digest": digest, "shards": shards}
        write_json(tmp / INDEX, index)
    return index


class _Docs(Sequence[Doc]):
    """A sequence of Docs built from shard records on demand: ``_record_at(i)`` and ``__len__`` say which."""

    vocab: Vocab

    def _record_at(self, i: int) -> Record:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> Doc: ...

    @overload
    def __getitem__(self, i: slice) -> List[Doc]: ...

    def __getitem__(self, i: Union[int, slice]) -> Union[Doc, List[Doc]]:
        if isinstance(i, slice):
            return [record_doc(self.vocab, self._record_at(j)) for j in range(*i.indices(len(self)))]
        return record_doc(self.vocab, self._record_at(i))


class ShardedPool(_Docs):
    """A read-only sequence of the Docs of a shards folder. Holds the ids and up to ``cache`` shards' records; a
    Doc is built each time one is asked for (do not rely on getting the same object twice)."""

    def __init__(self, folder: Union[str, Path], vocab: Vocab, cache: int = 4) -> None:
        self.folder = Path(folder)
        if not is_sharded(self.folder):
            raise InputError(f"not a finished shards folder (no {INDEX})", self.folder)
        try:
            self.info = srsly.read_json(self.folder / INDEX)
            if self.info.get("format") != FORMAT:
                raise InputError(f"shards format {self.info.get('format')}, this version reads {FORMAT}",
                                 self.folder / INDEX)
            self.size, sizes = int(self.info["shard_size"]), [int(entry["n"]) for entry in self.info["shards"]]
            self._digest, self._files = str(self.info["digest"]), [str(e["file"]) for e in self.info["shards"]]
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            if isinstance(err, InputError):
                raise
            raise InputError(f"not a readable shards index ({type(err).__name__}: {err}); write the shards again",
                             self.folder / INDEX) from None
        if self.size < 1 or any(n != self.size for n in sizes[:-1]) or not 0 < (sizes or [1])[-1] <= self.size \
                or sum(sizes) != self.info.get("n"):
            raise InputError(f"shard sizes {sizes[:5]}... do not add up to {self.info.get('n')} sentences in shards "
                             f"of {self.size}; write the shards again", self.folder / INDEX)
        try:
            self.ids: List[str] = [str(sid) for sid in srsly.msgpack_loads((self.folder / IDS).read_bytes())]
        except (OSError, ValueError, TypeError) as err:
            raise InputError(f"cannot read the ids ({err}); write the shards again", self.folder / IDS) from None
        if len(self.ids) != self.info["n"]:
            raise InputError(f"{len(self.ids)} ids for {self.info['n']} sentences", self.folder / IDS)
        self.lengths = self._read_counts(LENGTHS, "lengths")
        self.entity_tokens = self._read_counts(ENTITY_TOKENS, "entity token counts")
        self.vocab = vocab
        self._positions: Optional[Dict[str, int]] = None
        self._cache: "OrderedDict[int, List[Record]]" = OrderedDict()
        self._cache_size = max(1, cache)

    def _read_counts(self, name: str, what: str) -> Optional[List[int]]:
        """One count per sentence from the file ``name`` (its lengths, its entity tokens); None for a folder
        written without it."""
        path = self.folder / name
        if not path.exists():
            return None
        try:
            counts = [int(n) for n in srsly.msgpack_loads(path.read_bytes())]
        except (OSError, ValueError, TypeError) as err:
            raise InputError(f"cannot read the {what} ({err}); write the shards again", path) from None
        if len(counts) != len(self.ids):
            raise InputError(f"{len(counts)} {what} for {len(self.ids)} sentences; write the shards again", path)
        return counts

    def n_tokens(self, positions: Iterable[int]) -> List[int]:
        """The lengths of the sentences at ``positions`` (from ``lengths.msgpack``, else read shard by shard)."""
        if self.lengths is not None:
            return [self.lengths[p] for p in positions]
        return [len(r[1]) for r in self.records(positions)]

    @property
    def digest(self) -> str:
        """A digest of every shard's content: what identifies the pool (a run checks it on resume)."""
        return self._digest

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Doc]:
        for s in range(len(self.info["shards"])):
            for record in self._shard(s):
                yield record_doc(self.vocab, record)

    def _record_at(self, i: int) -> Record:
        return self.record(i)

    def record(self, i: int) -> Record:
        """Sentence ``i``'s record (its shard read, or taken from the cache)."""
        i = self._checked(i)
        return self._shard(i // self.size)[i % self.size]

    def _checked(self, i: int) -> int:
        """Position ``i`` as a non-negative position (an IndexError outside the pool)."""
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return i

    def records(self, indices: Iterable[int]) -> Iterator[Record]:
        """The records at ``indices`` (read in their order; sorted indices read each shard once). A subsample's
        scoring asks for a tenth of every shard: the shard is looked up once per run of indices, not per index."""
        s, rows = -1, []
        for i in map(self._checked, indices):
            if i // self.size != s:
                s = i // self.size
                rows = self._shard(s)
            yield rows[i % self.size]

    def position(self, sid: str) -> int:
        """The pool position of sentence ``sid`` (a KeyError if it is not in the pool)."""
        if self._positions is None:
            self._positions = {s: i for i, s in enumerate(self.ids)}
        return self._positions[sid]

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return self.position_or_none(item) is not None
        return False

    def position_or_none(self, sid: str) -> Optional[int]:
        """:meth:`position`, or None."""
        try:
            return self.position(sid)
        except KeyError:
            return None

    def _shard(self, s: int) -> List[Record]:
        if s in self._cache:
            self._cache.move_to_end(s)
            return self._cache[s]
        entry = self.info["shards"][s]
        path = self.folder / self._files[s]
        try:
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest()[:16] != entry["sha256"]:
                raise InputError("its content is not what the index recorded (changed or damaged); write the shards "
                                 "again", path)
            records = srsly.msgpack_loads(data)  # checked, not copied: copying a shard's records cost more than
            if not isinstance(records, list) or not all(map(_is_record, records)):  # decoding them
                raise InputError("a sentence in it is not [id, words, tags or null, task]; write the shards again",
                                 path)
        except (OSError, ValueError, IndexError, TypeError, KeyError) as err:
            if isinstance(err, InputError):
                raise
            raise InputError(f"cannot read this shard ({err}); write the shards again", path) from None
        first = s * self.size
        if len(records) != entry["n"] or [r[0] for r in records] != self.ids[first:first + len(records)]:
            raise InputError(f"{len(records)} sentences not those the index lists ({entry['n']}); write the shards "
                             "again", path)
        self._cache[s] = records
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return records


def _is_record(r: Any) -> bool:
    """Whether a decoded shard entry has a record's shape (what :func:`record_doc` and the scoring rely on)."""
    return type(r) is list and len(r) == 4 and type(r[0]) is str and type(r[1]) is list \
        and (r[2] is None or type(r[2]) is list) and type(r[3]) is dict


class DocsById(Mapping[str, Doc]):
    """Sentences by id over a sharded pool (and a seed file's Docs): the ones :meth:`pin`\\ ned are kept as records,
    read in one pass over their shards; any other is read from its shard when asked for."""

    def __init__(self, pool: ShardedPool, extra: Sequence[Doc] = ()) -> None:
        self.pool = pool
        self.extra = {sentence_id(doc): doc for doc in extra}
        self.pinned: Dict[str, Record] = {}

    def pin(self, ids: Iterable[str]) -> None:
        """Keep these sentences' records (those not kept yet), reading each shard they are in once."""
        wanted = sorted(p for p in (self.pool.position_or_none(sid) for sid in ids
                                    if sid not in self.pinned and sid not in self.extra) if p is not None)
        for record in self.pool.records(wanted):
            self.pinned[record[0]] = record

    def __getitem__(self, sid: str) -> Doc:
        if sid in self.extra:
            return self.extra[sid]
        record = self.pinned.get(sid)
        if record is None:
            record = self.pool.record(self.pool.position(sid))
        return record_doc(self.pool.vocab, record)

    def __iter__(self) -> Iterator[str]:
        yield from self.pool.ids
        yield from self.extra

    def __len__(self) -> int:
        return len(self.pool) + len(self.extra)

    def __contains__(self, sid: object) -> bool:
        return isinstance(sid, str) and (sid in self.extra or self.pool.position_or_none(sid) is not None)


class PoolView(_Docs):
    """Some of a sharded pool's sentences (by position, in pool order): a round's unlabelled pool, or its
    subsample. ``words(start, stop)`` gives ``(id, words)`` without building Docs (for scoring)."""

    def __init__(self, pool: ShardedPool, positions: Sequence[int]) -> None:
        self.pool, self.positions, self.vocab = pool, list(positions), pool.vocab

    def __len__(self) -> int:
        return len(self.positions)

    def _record_at(self, i: int) -> Record:
        return self.pool.record(self.positions[i])

    def id(self, i: int) -> str:
        """The id of the view's sentence ``i``."""
        return self.pool.ids[self.positions[i]]

    def words(self, start: int, stop: int) -> List[Tuple[str, List[str]]]:
        """``(id, words)`` of the view's sentences ``start:stop``."""
        return [(r[0], r[1]) for r in self.pool.records(self.positions[start:stop])]

    def n_tokens(self) -> List[int]:
        """Every sentence's length."""
        return self.pool.n_tokens(self.positions)

    def subset(self, indices: Sequence[int]) -> "PoolView":
        """The view of this view's sentences at ``indices``."""
        return PoolView(self.pool, [self.positions[i] for i in indices])
