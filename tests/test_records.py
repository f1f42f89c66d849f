"""Full-profile records: written with where and when they came from, read back, and refused when broken."""

import json
import math

import pytest

from vaebook.records import RECORDS_DIR, RecordError, describe, load_record, save_record


def test_round_trip_keeps_numbers_and_provenance(tmp_path):
    results = {"scores": {"1": {"CVAE": {"neg_elbo": 68.25}}}, "setup": "60,000 images"}
    path = save_record("demo", results, hardware="NVIDIA H100", seconds=754.26, profile="full", directory=tmp_path)
    assert path == tmp_path / "demo.json"
    record = load_record("demo", directory=tmp_path)
    assert record["results"] == results
    assert record["hardware"] == "NVIDIA H100" and record["profile"] == "full" and record["seconds"] == 754.3
    assert len(record["date"]) == 10 and record["vaebook"]
    assert describe(record) == f"profile `full`, NVIDIA H100, 13 min of training, {record['date']}"


def test_missing_record_is_none(tmp_path):
    assert load_record("never_ran", directory=tmp_path) is None


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_numbers_are_refused(tmp_path, bad):
    with pytest.raises(ValueError, match=r"results\.scores\[1\]"):
        save_record("demo", {"scores": [1.0, bad]}, hardware="cpu", seconds=1, directory=tmp_path)
    assert not (tmp_path / "demo.json").exists()


def test_corrupt_record_names_the_file(tmp_path):
    (tmp_path / "demo.json").write_text('{"name": "demo", "resu')
    with pytest.raises(RecordError, match="demo.json is not a readable record"):
        load_record("demo", directory=tmp_path)


def test_json_that_is_not_a_record_says_what_is_missing(tmp_path):
    (tmp_path / "demo.json").write_text(json.dumps({"name": "demo", "results": {}}))
    with pytest.raises(RecordError, match="lacks date, hardware, profile, seconds"):
        load_record("demo", directory=tmp_path)
    (tmp_path / "demo.json").write_text("[1, 2]")
    with pytest.raises(RecordError, match="lacks"):
        load_record("demo", directory=tmp_path)


@pytest.mark.parametrize("name", ["", "../escape", "a b", "x.json"])
def test_record_names_cannot_leave_the_directory(tmp_path, name):
    with pytest.raises(ValueError, match="record name"):
        save_record(name, {}, hardware="cpu", seconds=1, directory=tmp_path)


def test_shipped_records_are_readable():
    """Every record in the package (what the book's tables show) loads and came from the full profile, except
    chapter 17's run of make landscape's book-profile models, which says so in its name."""
    from vaebook.landscape import RECORDS

    profiles = {name: name_profile for name_profile, name in RECORDS.items()}
    for path in sorted(RECORDS_DIR.glob("*.json")):
        record = load_record(path.stem)
        assert record["profile"] == profiles.get(path.stem, "full"), path
        assert record["seconds"] > 0 and record["hardware"], path


def test_duration_in_seconds_then_minutes():
    from vaebook.records import duration

    assert duration(3.4) == "3 s" and duration(119) == "119 s"
    assert duration(120) == "2.0 min" and duration(590) == "9.8 min"
    assert duration(600) == "10 min" and duration(4314.1) == "72 min"
