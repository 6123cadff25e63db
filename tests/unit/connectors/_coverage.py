"""The corpus coverage check shared by every platform's golden tests (issue 4: every corpus payload
of a stored kind normalizes, checked by a golden).

A corpus file is a ``*.json`` in tests/fixtures/payloads/<platform>/ that is not a golden
(``*.expected.json``). A golden covers the payload it reads: the file its ``payload`` or
``source`` key names (else the file with its own stem), plus any file it ``embed``s. Every
corpus file is covered, or listed in the platform's exclusion set with the reason it holds
none of the stored kinds (a request Tillwise sends, an OAuth body, a signature vector, an
object that is none of sale/order, refund, payment/tender, inventory level or count,
product/variant/catalog item, customer, location, vendor, purchase order, employee, shift).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

GOLDEN = ".expected.json"


def corpus_files(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.json") if not p.name.endswith(GOLDEN)}


def covered_files(folder: Path) -> dict[str, set[str]]:
    """Corpus file → the goldens that read it."""
    out: dict[str, set[str]] = {}
    for golden in sorted(folder.glob(f"*{GOLDEN}")):
        case = json.loads(golden.read_text())
        own = golden.name.removesuffix(GOLDEN) + ".json"
        read = {case.get("payload") or case.get("source") or own}
        embedded = case.get("embed")
        if isinstance(embedded, dict):
            read |= set(embedded.values())
        for name in read:
            out.setdefault(name, set()).add(golden.name)
    return out


def assert_corpus_covered(
    folder: Path,
    excluded: Mapping[str, str],
    *,
    at_least: int,
    ignore: Callable[[str], bool] = lambda name: False,
) -> None:
    """Every corpus file in ``folder`` is read by a golden or excluded (name → why); an
    exclusion names a corpus file, has a reason, and is not also a golden's payload."""
    corpus = {n for n in corpus_files(folder) if not ignore(n)}
    covered = covered_files(folder)
    assert len(corpus) >= at_least, f"the corpus shrank: {len(corpus)} files"
    assert not sorted(set(covered) - corpus_files(folder)), "goldens read files not in the corpus"
    stale = sorted(set(excluded) - corpus)
    assert not stale, f"excluded but not in the corpus: {stale}"
    unreasoned = sorted(n for n, why in excluded.items() if len(why.strip()) < 10)
    assert not unreasoned, f"excluded without a reason: {unreasoned}"
    both = sorted(set(excluded) & set(covered))
    assert not both, f"excluded and yet covered by a golden: {both}"
    missing = sorted(corpus - set(excluded) - set(covered))
    assert not missing, f"corpus files with neither a golden nor a reasoned exclusion: {missing}"
