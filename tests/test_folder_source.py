"""The ``folder`` data source: a saved or streamed world read by runs where it lies, never copied into the cache."""

from __future__ import annotations

import json

import pytest

from churnlab.cache import prepare_data
from churnlab.data import SOURCES
from churnlab.data.synthetic import generate, save_world
from churnlab.errors import DataSourceError, SpecError
from churnlab.spec import parse_spec


@pytest.fixture(scope="module")
def world_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world") / "w"
    dataset, truth = generate(300, start="2024-01-01", end="2024-04-30", seed=3)
    save_world(dataset, truth, folder)
    return folder, dataset


def _spec(path) -> dict:
    return {"name": "f", "data": {"source": "folder", "path": str(path)},
            "notebooks": ["notebooks/00_data_overview.ipynb"]}


def test_a_run_reads_the_folder_in_place_with_its_recorded_fingerprint(world_folder, tmp_path, monkeypatch):
    folder, dataset = world_folder
    spec = parse_spec(_spec(folder))
    monkeypatch.setenv("CHURNLAB_HOME", str(tmp_path))  # an empty project: nothing may be written to its cache
    prepared = prepare_data(spec.data)
    assert prepared.folder == folder
    assert prepared.fingerprint == dataset.fingerprint == json.loads((folder / "dataset.json").read_text())["fingerprint"]
    assert not (tmp_path / "data" / "generated").exists() or not any((tmp_path / "data" / "generated").iterdir())


def test_the_folder_opens_as_the_saved_dataset(world_folder):
    folder, dataset = world_folder
    opened = SOURCES["folder"].open({"path": str(folder)})
    assert opened.fingerprint == dataset.fingerprint
    assert opened.as_of == dataset.as_of and set(opened.tables) == set(dataset.tables)


def test_a_missing_folder_is_a_spec_error_naming_data_path(tmp_path):
    with pytest.raises(SpecError, match=r"data\.path: folder path .*nowhere.* not found \(a folder is expected\)"):
        parse_spec(_spec(tmp_path / "nowhere"))


def test_a_folder_without_dataset_json_says_what_it_expected(tmp_path):
    (tmp_path / "empty").mkdir()
    spec = parse_spec(_spec(tmp_path / "empty"))
    with pytest.raises(DataSourceError, match=r"no dataset\.json there; expected a folder written by `churnlab data "
                                              r"generate` or Dataset\.save"):
        prepare_data(spec.data)
