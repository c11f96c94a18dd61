"""Per-section validation results reused across revisions (issue 10: a one-operation revision).

openapi-spec-validator's keyword checks run section by section (the tags, each path item,
each component schema: :func:`specs.validate._sections`), but the sections are not
independent: the schema checker remembers which schema objects it has visited and
meta-checked (a schema reached from two path items is checked, and reported, by the first
one only; one first reached inside ``allOf`` is checked without its ``required`` rule), and
the operation checker remembers the operationIds seen.  So a section's result is a function
of three things, and :class:`SectionMemo` keys and checks all three:

1. **what it can read**: its own subtree, its pointer, and the subtree of every same-document
   ``$ref`` target reachable from it, transitively (every ``"$ref": "#…"`` member of those
   subtrees, a superset of what the validator follows) — one hash, :func:`section_keys`;
2. **the document-wide settings** the checks read (version, ``jsonSchemaDialect``, the
   jsonschema-rs pre-check switch) — in every key;
3. **the shared state when it starts**: while a section runs for real, every question it
   asks the shared registries ("was this schema visited / meta-checked?", "was this
   operationId seen?") and every entry it adds is logged, with schema objects named by their
   JSON pointer instead of ``id()`` (:class:`Tracker`).  A logged section is reused only when
   replaying its log against the registries of *this* run gives the same answer to every
   question (:func:`replay`); its additions are then applied as if it had run.

A section that passes both checks would, run again, ask the same questions in the same order,
get the same answers, read the same bytes and so produce the same errors: it is looked up.
A revision's sections are those of the previous run, mostly with the same records: a replay
that provably gives the previous run's answers is skipped (:class:`SectionReplay`).
Anything else is validated for real.  Only documents where JSON pointers name objects one to
one are eligible (no YAML anchors/aliases, no external, dangling or wrong-kind references:
:func:`specs.validate.validate_document` decides); if the validator ever reaches an object
whose pointer cannot be followed, the whole document is validated again without the memo.
``tests/unit/specs/test_section_memo.py`` compares every corpus document's issues, cold and
through the memo after a one-operation change, an identical re-upload and other edits.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from specs import pointer as jp
from specs.pointer import CONTAINERS, decode_ref

#: ``("q", registry, key, answer)`` — a membership question and its answer;
#: ``("a", registry, key)`` — an entry added.  Registries: ``visited``, ``meta``, ``op``.
Event = tuple[Any, ...]

_REF = re.compile(r'"\$ref": ("(?:[^"\\]|\\.)*")')
_REF_START = '"$ref": "'
_BOOLS = {id(True): "true", id(False): "false"}
_GONE = object()
T = TypeVar("T")


@dataclass(slots=True)
class SectionRecord:
    """One section's logged run: its events and outcome.

    :ivar events: the shared-registry log (:data:`Event`), in order.
    :ivar outcome: what the run produced, for :func:`specs.validate.validate_document` to
        turn into issues again (errors as plain data; no object of the old document).
    """

    events: tuple[Event, ...]
    outcome: tuple[Any, ...]
    _asked: frozenset[tuple[str, Any]] | None = field(default=None, compare=False,
                                                      repr=False)
    _added: dict[str, frozenset[Any]] | None = field(default=None, compare=False, repr=False)

    @property
    def asked(self) -> frozenset[tuple[str, Any]]:
        """``(registry, key)`` of every question in :attr:`events` (computed once)."""
        if self._asked is None:
            self._asked = frozenset((e[1], e[2]) for e in self.events if e[0] == "q")
        return self._asked

    @property
    def added(self) -> dict[str, frozenset[Any]]:
        """Registry → the keys :attr:`events` add to it (computed once)."""
        if self._added is None:
            added: dict[str, set[Any]] = {}
            for event in self.events:
                if event[0] == "a":
                    added.setdefault(event[1], set()).add(event[2])
            self._added = {name: frozenset(keys) for name, keys in added.items()}
        return self._added


class Reuse:
    """Results computed from parts of a document, kept for the next revision of it.

    A revision read as a difference from the previous document (:func:`specs.load.load_document`
    with ``previous=``) shares every subtree that did not change **by identity** with the
    previous document's data, and no document's data is ever changed after loading.  So a
    result that is a function of a subtree (and of a ``context`` the caller names: anything
    else it reads, such as the OpenAPI version or the subtree's pointer) can be looked up by
    the subtree's ``id()`` instead of computed again.

    Each entry holds its subtree, so an ``id()`` is never reused while its entry lives.
    :meth:`settle` (at the end of each check) keeps only the entries this check used: the
    memo holds one document's results, never more.  Not thread-safe: one check at a time
    uses a memo (:meth:`MemoStore.borrow`).
    """

    __slots__ = ("_kept", "_now", "hits", "misses")

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        self._now: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, kind: str, node: Any, context: Any, compute: Callable[[], T]) -> T:
        """The result of ``compute()`` for ``node`` in ``context``: the one kept from the
        previous document when ``node`` is the same object there, else computed now.

        :param kind: the pass asking (keeps passes apart, e.g. ``"rules.credential"``).
        :param node: the subtree (a ``dict`` or ``list`` of the document's data).
        :param context: hashable; everything besides ``node`` that ``compute`` reads.
        """
        key = (kind, id(node), context)
        entry = self._now.get(key) or self._kept.get(key)
        if entry is not None and entry[0] is node:
            self.hits += 1
            self._now[key] = entry
            return cast(T, entry[1])
        self.misses += 1
        value = compute()
        self._now[key] = (node, value)
        return value

    def last(self, kind: str) -> Any:
        """The value :meth:`keep` stored under ``kind`` in the previous check (or earlier in
        this one), ``None`` when there is none: for a pass that keeps its own results by
        place and checks the identity of each subtree itself."""
        entry = self._now.get((kind,)) or self._kept.get((kind,))
        return None if entry is None else entry[1]

    def keep(self, kind: str, value: Any) -> None:
        """Keep ``value`` under ``kind`` for the next check (:meth:`last`); like every entry,
        dropped at the :meth:`settle` after a check that did not keep it again."""
        self._now[(kind,)] = (None, value)

    def settle(self) -> None:
        """End of a check: keep only the entries used since the last :meth:`settle`."""
        self._kept, self._now = self._now, {}
        self.hits = self.misses = 0


@dataclass
class SectionMemo:
    """What the last check of an API version's document leaves for its next revision.

    :ivar records: section key (:func:`section_keys`) → :class:`SectionRecord`; replaced
        as a whole by each validation (only the latest document's sections are kept, so the
        memo never grows beyond one document).
    :ivar reused: sections looked up in the last validation (for tests and benchmarks).
    :ivar validated: sections validated for real in the last validation.
    :ivar document: the last document checked (a JSON document keeps where its members sit
        in the text), from which the next upload is read as a difference; ``None`` at first.
    :ivar parts: results of the other passes by subtree (:class:`Reuse`).
    :ivar replayed: of the sections reused, those whose log had to be replayed (the others
        provably got the previous validation's answers: :class:`SectionReplay`).
    """

    records: dict[str, SectionRecord] = field(default_factory=dict)
    reused: int = 0
    validated: int = 0
    document: Any = None
    parts: Reuse = field(default_factory=Reuse)
    replayed: int = 0

    @property
    def size(self) -> int:
        """Bytes of the document held (what :class:`MemoStore` bounds)."""
        return len(self.document.raw) if self.document is not None else 0

    def forget(self) -> None:
        """Hold nothing: the next check is a cold one (and records again)."""
        self.records = {}
        self.document = None
        self.parts = Reuse()


Digest = tuple[bytes, tuple[str, ...]]
#: digests grouped by the first and second reference tokens of their pointers (escaped;
#: ``None`` where the pointer has no such token): unchanged groups are shared between
#: revisions, never changed
DigestTree = dict[str | None, dict[str | None, dict[str, Digest]]]


@dataclass(slots=True)
class KeyState:
    """What :func:`section_keys` keeps for the next revision (:meth:`Reuse.keep`).

    :ivar head: the digest of the settings.
    :ivar digests: pointer → ``(digest of pointer and subtree, its direct same-document
        reference targets)`` of every subtree hashed, as a :data:`DigestTree`.
    :ivar keys: section pointer → ``(key, the target pointers reachable from it)``.
    :ivar scan: the reference scan of the document they belong to (``unchanged.root``):
        kept digests are used only with answers about that very document.
    """

    head: bytes
    digests: DigestTree
    keys: dict[str, tuple[str, frozenset[str]]]
    scan: Any = None


def _tokens(where: str) -> tuple[str | None, str | None]:
    """The first two (escaped) reference tokens of the pointer ``where``."""
    if not where:
        return None, None
    first = where.find("/", 1)
    if first == -1:
        return where[1:], None
    second = where.find("/", first + 1)
    return where[1:first], where[first + 1:] if second == -1 else where[first + 1:second]


def section_keys(data: dict[str, Any], sections: Sequence[str], settings: str,  # noqa: C901, PLR0912, PLR0915 - one pass, its steps in order
                 parts: Reuse | None = None, unchanged: Any = None) -> list[str]:
    """The key of each section pointer in ``sections``: a SHA-256 of the settings, the
    pointer, the section's subtree and every ``$ref`` target subtree reachable from it.

    Each subtree is serialised (JSON, member order kept: it is the validator's order) and
    hashed once; a section's key combines the digests of its own subtree and of its
    reachable targets in pointer order.

    :param parts: where the digests and keys of the previous revision are kept
        (``"memo.keys"``); with ``unchanged`` (:class:`specs.refs.Unchanged`: true for a
        pointer whose value is provably that of the document whose scan is its ``since``,
        which must be the one the kept digests belong to), only the subtrees not
        known unchanged are hashed again (a group of digests under an unchanged member is
        kept whole, without looking at each), and a section whose own digest and
        reachable targets' digests are all the same keeps its key.
    """
    head = hashlib.sha256(settings.encode()).digest()
    previous: KeyState | None = parts.last("memo.keys") if parts is not None else None
    if (previous is None or previous.head != head or unchanged is None
            or unchanged.since is None or previous.scan is not unchanged.since):
        previous = None
    fresh: dict[str, Digest] = {}  # hashed now
    tree: DigestTree = {}  # kept from the previous revision (shared groups)
    decoded: dict[str, str | None] = {}

    def visit(where: str) -> Digest:
        value = jp.resolve(data, where, default=_GONE)
        text = "\x00gone" if value is _GONE else json.dumps(value, check_circular=False)
        digest = hashlib.sha256((where + "\x00" + text).encode("utf-8", "surrogatepass"))
        targets: list[str] = []
        for literal in _ref_literals(text):
            target: Any = decoded.get(literal, _GONE)
            if target is _GONE:
                ref = json.loads(literal) if "\\" in literal else literal[1:-1]
                target = decode_ref(ref) if ref.startswith("#") else None
                decoded[literal] = target
            if target is not None:
                targets.append(target)
        entry = fresh[where] = (digest.digest(), tuple(targets))
        return entry

    def digest_of(where: str) -> Digest:
        entry = fresh.get(where)
        if entry is None:
            first, second = _tokens(where)
            entry = tree.get(first, {}).get(second, {}).get(where)
        return entry if entry is not None else visit(where)

    changed: set[str] = set()
    old_keys: dict[str, tuple[str, frozenset[str]]] = {}
    if previous is not None and unchanged is not None:
        old_keys = previous.keys
        for first, level in previous.digests.items():
            kept = unchanged.kept_members("/" + first) if first is not None else False
            if kept is True:
                tree[first] = level
                continue
            group = {second: level[second] for second in level.keys() & kept} \
                if kept else {}
            for second in (level.keys() - kept if kept else level.keys()):
                entries: dict[str, Digest] = {}
                for where, entry in level[second].items():
                    if unchanged(where):
                        entries[where] = entry
                    elif visit(where) != entry:
                        changed.add(where)
                if entries:
                    group[second] = entries
            tree[first] = group
    keys = []
    kept_keys: dict[str, tuple[str, frozenset[str]]] = {}
    reach_moved = previous is None or old_keys.keys() != set(sections)
    for where in sections:
        old = old_keys.get(where)
        if old is not None and where not in changed and old[1].isdisjoint(changed):
            keys.append(old[0])
            kept_keys[where] = old
            continue
        own = digest_of(where)
        reach: set[str] = set()
        stack = list(own[1])
        while stack:
            target = stack.pop()
            if target in reach:
                continue
            reach.add(target)
            stack.extend(digest_of(target)[1])
        ordered = [head, own[0], *(digest_of(t)[0] for t in sorted(reach))]
        key = hashlib.sha256(b"".join(ordered)).hexdigest()
        keys.append(key)
        kept_keys[where] = (key, frozenset(reach))
        reach_moved = reach_moved or old is None or old[1] != kept_keys[where][1]
    if parts is not None:
        if reach_moved:  # keep only what the sections need
            needed = set(kept_keys).union(*(reach for _, reach in kept_keys.values()))
            digests: DigestTree = {}
            for where in needed:
                first, second = _tokens(where)
                digests.setdefault(first, {}).setdefault(second, {})[where] = \
                    digest_of(where)
        else:  # the same pointers: the kept groups, with what was hashed now
            digests = tree
            copied: set[int] = set()
            for where, entry in fresh.items():
                first, second = _tokens(where)
                level = digests.get(first) or {}
                if id(level) not in copied:
                    level = digests[first] = dict(level)
                    copied.add(id(level))
                entries = level.get(second) or {}
                if id(entries) not in copied:
                    entries = level[second] = dict(entries)
                    copied.add(id(entries))
                entries[where] = entry
        parts.keep("memo.keys", KeyState(
            head, digests, kept_keys, unchanged.root if unchanged is not None else None))
    return keys


def _ref_literals(text: str) -> list[str]:
    """The JSON string literal of every ``"$ref": "…"`` member in the serialised ``text``
    (``str.find`` to each, the pattern anchored there: a scan of the whole text by the
    pattern is five times slower).  A literal without a backslash ends at the next quote:
    found with ``str.find`` too (the pattern's result, three times faster)."""
    found = []
    find = text.find
    opening = len(_REF_START) - 1
    start = find(_REF_START)
    while start != -1:
        quote = start + opening
        end = find('"', quote + 1)
        if end != -1 and "\\" not in text[quote + 1:end]:
            found.append(text[quote:end + 1])
        else:
            match = _REF.match(text, start)
            if match is not None:
                found.append(match.group(1))
        start = find(_REF_START, start + 1)
    return found


class Tracker:
    """Names schema objects by JSON pointer and logs questions to the shared registries.

    The schema checker calls :meth:`enter` with each schema's traversal parts (which may pass
    through ``$ref`` s) before the library looks the object up; :class:`KeyedSet` then
    answers by pointer.  :attr:`unsound` becomes true when a traversal path cannot be
    followed in the data (the caller then validates without the memo).
    """

    def __init__(self, data: Any) -> None:
        self._data = data
        self._places: dict[tuple[Any, ...], tuple[Any, str] | None] = {}
        self.key_of: dict[int, str] = dict(_BOOLS)
        self.events: list[Event] = []
        self.unsound = False
        self.registries: dict[str, set[Any]] = {"visited": set(), "meta": set(), "op": set()}
        #: while not ``None``: ``(registry, key)`` → whether the key was there when it was
        #: first added since (:class:`SectionReplay`)
        self.first_adds: dict[tuple[str, Any], bool] | None = None

    def enter(self, parts: tuple[Any, ...]) -> None:
        """Record the pointer of the object the traversal ``parts`` lead to."""
        placed = self._place(parts)
        if placed is None:
            self.unsound = True
            return
        node, where = placed
        if isinstance(node, CONTAINERS):
            self.key_of[id(node)] = where

    def key(self, item: Any) -> Any:
        """The pointer of the schema object whose ``id()`` is ``item``."""
        key = self.key_of.get(item)
        if key is None:
            self.unsound = True
            return ("id", item)
        return key

    def _place(self, parts: tuple[Any, ...]) -> tuple[Any, str] | None:
        known: Any = self._places.get(parts, _GONE)
        if known is not _GONE:
            return cast("tuple[Any, str] | None", known)
        placed: tuple[Any, str] | None
        if parts:
            parent = self._place(parts[:-1])
            placed = None if parent is None else self._step(parent, parts[-1])
        else:
            placed = self._follow(self._data, "")
        self._places[parts] = placed
        return placed

    def _step(self, parent: tuple[Any, str], part: Any) -> tuple[Any, str] | None:
        node, where = parent
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            return None
        return self._follow(node[part], jp.child(where, part))

    def _follow(self, node: Any, where: str) -> tuple[Any, str] | None:
        hops = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#") or hops >= 32:
                return None
            where = decode_ref(ref)
            node = jp.resolve(self._data, where, default=_GONE)
            if node is _GONE:
                return None
            hops += 1
        return node, where


class KeyedSet(list[Any]):
    """A registry of the validator (a ``list`` it appends to and asks ``in``), answering by
    stable key and logging each question and addition to the :class:`Tracker`.

    :param name: ``visited``, ``meta`` (schema objects by ``id()``, named by pointer) or
        ``op`` (operationIds, their own key).
    """

    def __init__(self, tracker: Tracker, name: str) -> None:
        super().__init__()
        self._tracker = tracker
        self._name = name
        self._keys = tracker.registries[name]

    def _key(self, item: Any) -> Any:
        if self._name != "op":
            return self._tracker.key(item)
        try:
            hash(item)
        except TypeError:  # an operationId that is an object or array: no stable key
            self._tracker.unsound = True
            return ("unhashable", id(item))
        return item

    def __contains__(self, item: object) -> bool:
        key = self._key(item)
        answer = key in self._keys
        self._tracker.events.append(("q", self._name, key, answer))
        return answer

    def append(self, item: Any) -> None:
        key = self._key(item)
        first = self._tracker.first_adds
        if first is not None and (self._name, key) not in first:
            first[(self._name, key)] = key in self._keys
        self._keys.add(key)
        self._tracker.events.append(("a", self._name, key))
        super().append(item)


def replay(events: Sequence[Event], registries: dict[str, set[Any]], *, apply: bool = True
           ) -> bool:
    """Whether ``events`` give the same answers against ``registries`` now; if so (and
    ``apply``), apply their additions to ``registries`` (else leave them unchanged)."""
    added: dict[str, set[Any]] = {name: set() for name in registries}
    for event in events:
        if event[0] == "q":
            _, name, key, answer = event
            if (key in registries[name] or key in added[name]) != answer:
                return False
        else:
            added[event[1]].add(event[2])
    if not apply:
        return True
    for name, keys in added.items():
        registries[name] |= keys
    return True


class SectionReplay:
    """Replays section records in section order against one run's registries, using the
    previous run's sequence of sections to skip the replays that cannot fail.

    While this run's sections are those of the previous run, position by position, the
    registries of both runs differ only by the keys in :attr:`delta` (``(registry, key)``
    pairs whose membership differs before the current section).  A section whose record is
    the very record the previous run used at the same position, none of whose questions
    asks about a key in :attr:`delta`, gets the same answers as in the previous run — where
    they were its record's answers — so it replays without looking (its additions are
    applied later, when the registries are next needed: :meth:`flush`).  Any other section
    is replayed (:func:`replay`) or run, and :attr:`delta` is updated from what it added and
    what the previous run's section at that position added.

    :param tracker: the run's tracker; its :attr:`Tracker.registries` are updated.
    :param previous: the previous run's sequence (:attr:`sequence`), ``None`` when unknown;
        used only when it has ``count`` sections.
    """

    def __init__(self, tracker: Tracker, previous: Sequence[tuple[str, SectionRecord]] | None,
                 count: int) -> None:
        self._tracker = tracker
        self._registries = tracker.registries
        self._previous = previous if previous is not None and len(previous) == count else None
        self._pending: list[SectionRecord] = []
        self.delta: set[tuple[str, Any]] = set()
        #: ``(key, record)`` of each section of this run, in order (a run section's record
        #: even when it is not kept for reuse)
        self.sequence: list[tuple[str, SectionRecord]] = []
        #: sections reused without a replay (for tests and benchmarks)
        self.skipped = 0

    def flush(self) -> None:
        """Apply the additions of the sections reused without a replay."""
        registries = self._registries
        for record in self._pending:
            for name, keys in record.added.items():
                registries[name] |= keys
        self._pending = []

    def reuse(self, key: str, record: SectionRecord) -> bool:
        """Whether ``record`` (of section ``key``, the next section) gives the same answers
        against the registries now; if so its additions are applied and it is the next
        section of :attr:`sequence`."""
        index = len(self.sequence)
        previous = self._previous[index] if self._previous is not None else None
        if (previous is not None and previous[1] is record
                and (not self.delta or self.delta.isdisjoint(record.asked))):
            self._pending.append(record)
            self.sequence.append((key, record))
            self.skipped += 1
            return True
        self.flush()
        registries = self._registries
        if not replay(record.events, registries, apply=False):
            return False
        self._moved(previous, record.added,
                    lambda name, item: item in registries[name])
        for name, keys in record.added.items():
            registries[name] |= keys
        self.sequence.append((key, record))
        return True

    def start(self) -> None:
        """The next section is about to run (its events go to the tracker)."""
        self.flush()
        self._tracker.events = []
        self._tracker.first_adds = {} if self._previous is not None else None

    def ran(self, key: str, record: SectionRecord) -> None:
        """The section started by :meth:`start` ran and logged ``record``."""
        index = len(self.sequence)
        first = self._tracker.first_adds
        self._tracker.first_adds = None
        if self._previous is not None and first is not None:
            self._moved(self._previous[index], record.added,
                        lambda name, item: first.get((name, item), False))
        self.sequence.append((key, record))

    def _moved(self, previous: tuple[str, SectionRecord] | None,
               added: dict[str, frozenset[Any]], had: Callable[[str, Any], bool]) -> None:
        """Update :attr:`delta` for a section that added ``added`` (``had(registry, key)``:
        whether the key was there before it) where the previous run's section at the same
        place (``previous``) added its record's additions."""
        if previous is None:
            return
        before = previous[1].added
        delta = self.delta
        registries = self._registries
        for name in added.keys() | before.keys():
            now = added.get(name, frozenset())
            then = before.get(name, frozenset())
            for item in now ^ then:
                pair = (name, item)
                if item in now:
                    has = had(name, item)
                    had_then = has != (pair in delta)
                    differs = not had_then
                else:
                    differs = item not in registries[name]
                if differs:
                    delta.add(pair)
                else:
                    delta.discard(pair)
            for item in now & then:
                delta.discard((name, item))


class MemoStore:
    """A bounded, thread-safe map of :class:`SectionMemo` by owner (an API version's id).

    Beyond ``size`` owners, or ``max_bytes`` bytes of documents held (:attr:`SectionMemo.size`;
    their parsed data takes several times that), the least recently used owners are dropped.
    Per process: another worker process starts with an empty memo, which costs time only.
    """

    def __init__(self, size: int = 32, max_bytes: int = 32 * 1024 * 1024) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._memos: OrderedDict[Any, SectionMemo] = OrderedDict()
        self._busy: set[Any] = set()
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self, owner: Any) -> Iterator[SectionMemo | None]:
        """``owner``'s memo for one check, or ``None`` while another check is using it (two
        uploads to one version at once: the second checks without a memo, which costs time
        only)."""
        with self._lock:
            if owner in self._busy:
                memo = None
            else:
                self._busy.add(owner)
                memo = self._memos.pop(owner, None) or SectionMemo()
                self._memos[owner] = memo
        try:
            yield memo
        finally:
            if memo is not None:
                with self._lock:
                    self._busy.discard(owner)
                    self._trim()

    def _trim(self) -> None:
        """Drop the least recently used memos beyond the bounds (never one in use)."""
        total = sum(m.size for m in self._memos.values())
        for owner in list(self._memos):
            if len(self._memos) <= self._size and total <= self._max_bytes:
                break
            if owner in self._busy:
                continue
            total -= self._memos.pop(owner).size

    def clear(self) -> None:
        """Forget every memo not in use."""
        with self._lock:
            for owner in list(self._memos):
                if owner not in self._busy:
                    del self._memos[owner]
