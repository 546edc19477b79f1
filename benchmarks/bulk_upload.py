"""Rows per second and peak memory of 'property-bulk-upload' against a moto server.

Loads a 10,000-row and a 100,000-row file in one run (one chunk each: the chunk size
is set above the row count) and prints rows/s and the tracemalloc peak of each, and
the ratio of the peaks. The goal is a ratio close to 1: memory must not grow with the
file. moto runs as a server in its own process, so its copy of the stored items is
not counted; moto's DynamoDB dominates the time, so rows/s is a floor, not a forecast.

    .venv/bin/python benchmarks/bulk_upload.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="eu-west-2",
    AWS_REGION="eu-west-2",
)

import boto3

from runtime.tasks.uploads.chunks import UploadSettings
from runtime.tasks.uploads.model import UploadRef, UploadStatus, put_upload_status
from runtime.tasks.uploads.property_bulk_upload import UploadServices, load_chunk

BUCKET = "bench"
HEADER = "uprn,address_line_1,address_line_2,address_line_3,town,postcode,property_type,floor_area_sqm,build_year\n"  # noqa: E501


def csv_bytes(rows: int) -> bytes:
    lines = [HEADER]
    lines.extend(
        f"{n},{n} Long Road,,,Leeds,LS1 1AA,terraced,80.5,1990\n" for n in range(1, rows + 1)
    )
    return "".join(lines).encode()


@contextmanager
def moto_server() -> Iterator[None]:
    """A moto server on a free 127.0.0.1 port, as AWS_ENDPOINT_URL, stopped after."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


def run(rows: int) -> tuple[float, int]:
    with moto_server():
        s3 = boto3.client("s3")
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        ddb = boto3.resource("dynamodb")
        table = ddb.create_table(
            TableName="tasks",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        key = f"uploads/properties/{rows}.csv"
        s3.put_object(Bucket=BUCKET, Key=key, Body=csv_bytes(rows))
        upload = UploadRef(BUCKET, key)
        put_upload_status(table, upload, UploadStatus.CLEAN)
        services = UploadServices(
            s3=s3,
            table=table,
            enqueue=lambda *a, **k: "unused",
            settings=UploadSettings(chunk_rows=rows + 1),
        )
        # The handler's own peak: growth over what is allocated when it starts.
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        assert load_chunk(upload, None, services)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        return rows / elapsed, peak


def main() -> None:
    small_rate, small_peak = run(10_000)
    large_rate, large_peak = run(100_000)
    print(f"10,000 rows:  {small_rate:8.0f} rows/s  peak {small_peak / 2**20:7.1f} MiB")
    print(f"100,000 rows: {large_rate:8.0f} rows/s  peak {large_peak / 2**20:7.1f} MiB")
    print(f"peak ratio (100k / 10k): {large_peak / small_peak:.2f}")


if __name__ == "__main__":
    main()
