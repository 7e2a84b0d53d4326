"""provisioning.lazy_import: a module stand-in that imports at the first read, once, from any thread."""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioning import lazy_import


def _write_module(directory: Path, body: str) -> str:
    name = f"lazy_probe_{uuid.uuid4().hex}"
    (directory / f"{name}.py").write_text(body)
    return name


@pytest.fixture()
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh module that takes a while to import and counts how often its body ran."""
    monkeypatch.syspath_prepend(str(tmp_path))
    counter = _write_module(tmp_path, "runs = []\n")
    name = _write_module(
        tmp_path,
        f"import time\nimport {counter} as counter\ncounter.runs.append(1)\ntime.sleep(0.2)\nVALUE = 42\n"
        f"COUNTER = counter\n",
    )
    yield name
    for module in [name, counter]:
        sys.modules.pop(module, None)


def test_the_module_is_imported_at_the_first_read_not_before(probe: str) -> None:
    stand_in = lazy_import.module(probe)
    assert probe not in sys.modules
    assert stand_in.VALUE == 42
    assert probe in sys.modules
    with pytest.raises(AttributeError):
        stand_in.MISSING  # noqa: B018 - the read is the test


def test_reads_see_the_module_as_it_is_now(probe: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in = lazy_import.module(probe)
    assert stand_in.VALUE == 42
    monkeypatch.setattr(sys.modules[probe], "VALUE", 7)
    assert stand_in.VALUE == 7


def test_threads_reading_first_at_once_import_the_module_once_and_all_see_it_whole(probe: str) -> None:
    stand_in = lazy_import.module(probe)
    threads_count = 8
    start = threading.Barrier(threads_count, timeout=10)
    seen: list[object] = []
    failures: list[BaseException] = []

    def first_read() -> None:
        start.wait()
        try:
            seen.append(stand_in.VALUE)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=first_read) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert failures == []
    assert seen == [42] * threads_count
    assert stand_in.COUNTER.runs == [1]
