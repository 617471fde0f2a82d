"""Each value's position in a list of distinct ids: the account lookup of every event.

Three ways, same answer. Ids that all have one length (UUIDs, "A000123") are
looked up through a 64-bit integer key, then every byte is compared with the
id the key found; ids of 1 to 8 bytes of mixed lengths (numeric CRM ids) are
their own key; anything else goes to Arrow's hash lookup (`index_in`).
The keys are there because on 12M 36-character ids Arrow hashes and compares
each string (1.1–2.0 s of CPU) while the integer key costs 0.5 s, and on 12M
numeric ids 0.5 against 0.3 s (docs/performance.md, rounds six to eight).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Lookups of more values than this are split over two threads (one per core).
PARALLEL_LOOKUP = 2_000_000

_WORD = 8  # bytes per 64-bit word
_BLOCK = 1 << 15  # rows looked up at a time: their temporaries stay in the CPU's cache
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd constant: the last word's bits spread over the key
_SPREAD = np.uint64(0xD6E8FEB86659FD93)  # another: every bit of the key spread over its top bits
_SLOTS_PER_ID = 16  # table slots per account: 1 account in 16 shares its slot
_MAX_SLOT_BITS = 24  # at most 16M slots (64 MB), for a million accounts
_SHARED = -2  # a slot two ids share


def lookup_codes(values: pd.Series | pa.ChunkedArray, universe) -> np.ndarray:
    """Position of each value in ``universe`` (-1 where absent or missing), as int32.

    ``universe`` holds distinct values. Arrow and numpy release the GIL, so a long
    column is looked up in two threads.
    """
    if isinstance(values, pa.ChunkedArray):  # (`pa.array` would copy its chunks into one)
        array = values if values.type == pa.large_string() else values.cast(pa.large_string())
    else:
        array = pa.array(values, type=pa.large_string(), from_pandas=True)
    value_set = pa.array(universe, type=pa.large_string(), from_pandas=True)
    if isinstance(value_set, pa.ChunkedArray):
        value_set = value_set.combine_chunks()
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    codes = np.empty(len(array), dtype=np.int32)  # int32: half the memory of int64
    starts = np.cumsum([0] + [len(c) for c in chunks])
    table = FixedWidthIds.of(value_set)
    # Each chunk viewed as a byte matrix once: None for an empty chunk, or one with blanks or mixed lengths.
    matrices = [_fixed_width_bytes(chunk) for chunk in chunks] if table is not None else []
    if table is not None and all(rows is not None or not len(c) for rows, c in zip(matrices, chunks)):
        look_up = table.look_up_rows
        pieces = [(rows, codes[start:start + len(c)]) for rows, c, start in zip(matrices, chunks, starts)]
    elif all(_all_short(c) for c in chunks) and (short := ShortIds.of(value_set)) is not None:
        look_up = short.look_up  # ids of 1-8 bytes, lengths mixed (numeric CRM ids)
        pieces = [(c, codes[start:start + len(c)]) for c, start in zip(chunks, starts)]
    else:
        # Arrow rebuilds its hash table on every call (25 ms for 150k ids): one call per
        # core, not one per chunk, and a single call for a column looked up on one core.
        half = (len(array) + 1) // 2 if len(array) > PARALLEL_LOOKUP else len(array)
        pieces = [(array[:half], codes[:half]), (array[half:], codes[half:])][:2 if half < len(array) else 1]

        def look_up(part, out) -> None:
            out[:] = pc.index_in(part, value_set=value_set).fill_null(-1).to_numpy(zero_copy_only=False)
    if len(array) <= PARALLEL_LOOKUP:
        for part, out in pieces:
            look_up(part, out)
    else:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda piece: look_up(*piece), pieces))
    return codes


def id_keys(values: pa.ChunkedArray) -> np.ndarray | None:
    """Each value's 64-bit key (as `FixedWidthIds` or `ShortIds` make them: equal ids,
    equal keys), if every value is present and all have one width or all are 1-8 bytes
    long; else None."""
    chunks = [chunk for chunk in values.chunks if len(chunk)]
    matrices = [_fixed_width_bytes(chunk) for chunk in chunks]
    if matrices and all(m is not None and m.shape[1] == matrices[0].shape[1] for m in matrices):
        return np.concatenate([_key(m) for m in matrices])
    if chunks and all(_all_short(chunk) for chunk in chunks):
        return np.concatenate([_short_keys(chunk, slice(0, len(chunk)))[0] for chunk in chunks])
    return None


def value_bounds(chunk: pa.Array) -> np.ndarray:
    """A large_string chunk's value boundaries in its data buffer (int64, one more than
    its length): value i is bytes [bounds[i], bounds[i + 1]). A view, no copy."""
    return np.frombuffer(chunk.buffers()[1], dtype=np.int64, count=len(chunk) + 1, offset=chunk.offset * 8)


def _fixed_width_bytes(chunk: pa.Array) -> np.ndarray | None:
    """The chunk's values as an (n, width) byte matrix, without copying, if they are
    all present and all ``width`` bytes long; else None."""
    n = len(chunk)
    if not n or chunk.null_count:
        return None
    data = chunk.buffers()[2]
    ends = value_bounds(chunk)
    width = int(ends[1] - ends[0])
    if not width or ends[-1] - ends[0] != n * width or not (np.diff(ends) == width).all():
        return None
    return np.frombuffer(data, dtype=np.uint8, count=n * width, offset=int(ends[0])).reshape(n, width)


def _words(rows: np.ndarray) -> list[np.ndarray]:
    """Views of the 64-bit words that together cover every byte of each row (the
    last may overlap the one before): 36-byte rows give words at 0, 8, 16, 24, 28."""
    n, width = rows.shape
    flat = rows.reshape(-1)
    return [np.ndarray((n,), dtype="<u8", buffer=flat, offset=at, strides=(width,))
            for at in [*range(0, width - _WORD + 1, _WORD)] + ([width - _WORD] if width % _WORD else [])]


class FixedWidthIds:
    """Distinct ids of one width, indexed by a 64-bit key made from their bytes.

    Ids of up to 8 bytes are their own key (zero-padded). Longer ids are keyed by
    their first and last words, so several ids may share a key: a key shared by
    two accounts sends the whole lookup to Arrow, so a key can never pick the
    wrong one.

    A key is looked up in a table of about 16 slots per id, at the slot its top
    bits name: a numpy gather, where pandas' hash table cost 40 ns a key (12M
    keys: 0.45 s). Rows whose slot two ids share ask pandas' hash index instead
    (1 id in 16 shares one). Either way the id found is then compared with the
    row's byte for byte (its key, for ids of up to 8 bytes), so a row whose slot
    holds another id is not a match.
    """

    def __init__(self, keys: np.ndarray, index: pd.Index, rows: np.ndarray):
        self.keys, self.index, self.rows = keys, index, rows  # rows: the ids as an (ids, width) byte matrix
        self.width = rows.shape[1]
        bits = min(max(int(len(keys) * _SLOTS_PER_ID - 1).bit_length(), 1), _MAX_SLOT_BITS)
        self.shift = np.uint64(64 - bits)
        self.slots = np.full(1 << bits, -1, dtype=np.int32)
        slot = self._slot(keys)
        self.slots[slot] = np.arange(len(keys), dtype=np.int32)
        ordered = np.sort(slot)
        self.slots[ordered[1:][ordered[1:] == ordered[:-1]]] = _SHARED

    @classmethod
    def of(cls, value_set: pa.Array) -> "FixedWidthIds | None":
        rows = _fixed_width_bytes(value_set)
        if rows is None:
            return None
        keys = _key(rows)
        index = pd.Index(keys, copy=False)
        if not index.is_unique:
            return None
        return cls(keys, index, np.ascontiguousarray(rows))

    def _slot(self, keys: np.ndarray) -> np.ndarray:
        spread = keys * _SPREAD
        spread >>= self.shift
        return spread.view(np.int64)  # below 2**bits: the same number as a signed index

    def candidates(self, key: np.ndarray) -> np.ndarray:
        """Per key: the position of the one id that may have it, or -1 (int32)."""
        found = self.slots.take(self._slot(key))
        shared = found == _SHARED
        if shared.any():
            found[shared] = self.index.get_indexer(key[shared])
        return found

    def look_up(self, chunk: pa.Array, out: np.ndarray) -> None:
        self.look_up_rows(_fixed_width_bytes(chunk), out)

    def look_up_rows(self, rows: np.ndarray | None, out: np.ndarray) -> None:
        """``out[i]``: the position of row i's id, or -1. ``rows`` from `_fixed_width_bytes`;
        None (no rows, or not all of one width) answers -1 for all."""
        if rows is None or rows.shape[1] != self.width:  # another length: equal to no id here
            out[:] = -1
            return
        # A block at a time, into buffers used again for the next: the temporaries of
        # a whole chunk were a fresh 10 % of the run's memory.
        found_ids = np.empty((min(len(rows), _BLOCK), self.width), dtype=np.uint8)
        same = np.empty(len(found_ids), dtype=bool)
        equal = np.empty(len(found_ids), dtype=bool)
        for start in range(0, len(rows), _BLOCK):
            block = rows[start:start + _BLOCK]
            n = len(block)
            key = _key(block)
            found = self.candidates(key)
            np.greater_equal(found, 0, out=same[:n])
            if self.width <= _WORD:  # the key is the id
                np.equal(self.keys.take(found, mode="wrap"), key, out=equal[:n])  # -1: masked by `same`
                same[:n] &= equal[:n]
            else:  # one gather of whole ids (a cache miss each), then word by word in cache
                np.take(self.rows, found, axis=0, out=found_ids[:n], mode="wrap")
                for ids, values in zip(_words(found_ids[:n]), _words(block)):
                    np.equal(ids, values, out=equal[:n])
                    same[:n] &= equal[:n]
            found[~same[:n]] = -1
            out[start:start + n] = found


_LOW_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(_WORD + 1)], dtype=np.uint64)  # n low bytes set


def _all_short(chunk: pa.Array) -> bool:
    """Whether every value of ``chunk`` is present and 1 to 8 bytes long (an empty chunk is)."""
    if not len(chunk):
        return True
    if chunk.null_count:
        return False
    lengths = np.diff(value_bounds(chunk))
    return 1 <= lengths.min() and lengths.max() <= _WORD


def _short_keys(chunk: pa.Array, rows: slice) -> tuple[np.ndarray, np.ndarray]:
    """For ``rows`` of a chunk that passed `_all_short`: each value's bytes zero-padded
    into a 64-bit word (little-endian), and its length."""
    ends = value_bounds(chunk)[rows.start:rows.stop + 1]
    starts, lengths = ends[:-1], np.diff(ends)
    text = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)
    # 8 bytes read from each value's first byte, unaligned, without copying the text;
    # the last values of the buffer, with fewer than 8 bytes left, are read from a padded copy.
    last_window = len(text) - _WORD
    windows = np.ndarray((max(last_window + 1, 0),), dtype="<u8", buffer=text, strides=(1,))
    # (Indexing, not `take`: take first copies a strided array whole, 8 bytes per byte of text.)
    words = windows[np.minimum(starts, max(last_window, 0))] if len(windows) else np.zeros(len(starts), np.uint64)
    for i in np.flatnonzero(starts > last_window):
        tail = np.zeros(_WORD, dtype=np.uint8)
        tail[:len(text) - starts[i]] = text[starts[i]:]
        words[i] = tail.view("<u8")[0]
    words &= _LOW_BYTES.take(lengths)
    return words, lengths


class ShortIds:
    """Distinct ids of 1 to 8 bytes, lengths mixed ("7", "104233"): each is its own key,
    its bytes zero-padded into a 64-bit word, so a key and a length that match are the id.
    Candidates come from the same slot table as `FixedWidthIds`' (numeric ids of varying
    width otherwise go to Arrow's hash lookup: 12M ids, 0.5 s of CPU)."""

    def __init__(self, keys: np.ndarray, lengths: np.ndarray):
        self.keys, self.lengths = keys, lengths
        # Only its slot table is used (no rows to compare: a key and a length are the id).
        self.table = FixedWidthIds(keys, pd.Index(keys, copy=False), np.empty((len(keys), 0), dtype=np.uint8))

    @classmethod
    def of(cls, value_set: pa.Array) -> "ShortIds | None":
        if not len(value_set) or not _all_short(value_set):
            return None
        keys, lengths = _short_keys(value_set, slice(0, len(value_set)))
        if not pd.Index(keys, copy=False).is_unique:  # "a" and "a\0" share a key: Arrow tells them apart
            return None
        return cls(keys, lengths)

    def look_up(self, chunk: pa.Array, out: np.ndarray) -> None:
        for start in range(0, len(chunk), _BLOCK):
            rows = slice(start, min(start + _BLOCK, len(chunk)))
            key, length = _short_keys(chunk, rows)
            found = self.table.candidates(key)
            same = (found >= 0) & (self.keys.take(found, mode="wrap") == key)  # -1: masked by found >= 0
            same &= self.lengths.take(found, mode="wrap") == length
            found[~same] = -1
            out[rows] = found


def _key(rows: np.ndarray) -> np.ndarray:
    n, width = rows.shape
    if width <= _WORD:
        padded = np.zeros((n, _WORD), dtype=np.uint8)
        padded[:, :width] = rows
        return padded.view("<u8").reshape(n)
    words = _words(rows)
    key = words[-1] * _MIX
    key ^= words[0]
    return key
