"""The warehouse's files on object storage: a local S3 server (moto) started by the test, the same pipeline through
fsspec; the DuckDB file stays local. Also the storage layer on its own."""

from __future__ import annotations

import json
import socket

import boto3
import dagster as dg
import duckdb
import pyarrow as pa
import pytest

from conftest import RAW
from pipelines.runner import run_pipeline
from pipelines.warehouse.storage import Storage

DOCS = ["incoming/gansu_ganzhou_district_gov_2016.txt", "incoming/shanghai_municipal_sci_tech_commission_2024.md"]


@pytest.fixture
def s3(monkeypatch):
    """A moto S3 server on a free port with an empty bucket; XXGK_STORAGE_OPTIONS points fsspec at it."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("XXGK_STORAGE_OPTIONS", json.dumps({"endpoint_url": endpoint}))
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket="xxgk")
    try:
        yield client
    finally:
        server.stop()


def objects(client) -> dict[str, str]:
    """Every object of the bucket with its ETag."""
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket="xxgk"):
        out.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
    return out


def test_storage_layer_on_s3(s3):
    from pipelines.warehouse.storage import storage_options

    storage = Storage("s3://xxgk/lake", **storage_options())
    table = pa.table({"a": [1, 2], "b": ["x", None]})
    storage.write_table("parquet/t/2023/0.parquet", table)
    storage.write_json("state/x.json", {"k": [1]})
    assert storage.read_table("parquet/t/2023/0.parquet").equals(table)
    assert storage.read_json("state/x.json") == {"k": [1]}
    assert storage.read_bytes("missing") is None and storage.read_table("missing.parquet") is None
    assert storage.list("parquet/t/2023") == ["parquet/t/2023/0.parquet"]
    storage.delete("parquet/t")
    assert not storage.exists("parquet/t/2023/0.parquet") and set(objects(s3)) == {"lake/state/x.json"}


def test_pipeline_with_files_on_s3(s3, tmp_path, raw_copy):
    raw = raw_copy(DOCS)
    wh = tmp_path / "warehouse"
    instance = dg.DagsterInstance.ephemeral()
    run_pipeline(raw, wh, workers=1, progress=False, instance=instance, storage_url="s3://xxgk/wh")
    keys = set(objects(s3))
    assert {"wh/parquet/cells/2016/0.parquet", "wh/parquet/reports/2024/0.parquet", "wh/parquet/document_inventory.parquet",
            "wh/state/years/2016.json", "wh/state/last_run.json"} <= keys
    assert sum(k.startswith("wh/records/") for k in keys) == len(DOCS)  # one extraction record per document
    assert not any(k.startswith("wh/dagster/") for k in keys)  # the run's op results are cleared
    assert not (wh / "parquet").exists() and (wh / "xxgk.duckdb").exists()  # only DuckDB and the report are local
    con = duckdb.connect(str(wh / "xxgk.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM reports").fetchone()[0] == len(DOCS)
        assert con.execute("SELECT count(*) FROM rule_results WHERE rule_id = 'O-CH-SUM' AND outcome = 'fail'").fetchone()[0] == 1
    finally:
        con.close()

    before = objects(s3)
    summary = run_pipeline(raw, wh, workers=1, progress=False, instance=instance, storage_url="s3://xxgk/wh")
    assert "nothing changed" in summary and objects(s3) == before  # nothing written, nothing read again

    (raw / "incoming" / "new_2024.md").write_bytes((RAW / DOCS[1]).read_bytes())
    run_pipeline(raw, wh, workers=1, progress=False, instance=instance, storage_url="s3://xxgk/wh")
    after = objects(s3)
    # same bytes, but no MANIFEST.csv row, so other extraction hints: a record of its own
    assert sum(k.startswith("wh/records/") for k in after) == len(DOCS) + 1
    assert after["wh/parquet/cells/2016/0.parquet"] == before["wh/parquet/cells/2016/0.parquet"]  # other year untouched
    assert after["wh/parquet/cells/2024/0.parquet"] != before["wh/parquet/cells/2024/0.parquet"]
