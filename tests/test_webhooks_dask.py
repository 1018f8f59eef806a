"""The README's Dask recipe, run as written: a Parquet archive verified by ``verify_arrow`` on a
local cluster of worker processes (two workers, one thread each, stopped at the end)."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dask import distributed

from relaywire.webhooks import StandardWebhook, verify_arrow

README = Path(__file__).resolve().parent.parent / "README.md"
NOW = 1_700_000_000
SECRETS = [
    "whsec_" + base64.b64encode(b"dask archive old secret!").decode(),
    "whsec_" + base64.b64encode(b"dask archive new secret!").decode(),
]


def recipe() -> dict[str, Any]:
    """The code between the README's ``dask-recipe`` markers, run as a module."""
    text = README.read_text(encoding="utf-8")
    match = re.search(
        r"<!-- dask-recipe -->\s*```python\n(.*?)```\s*<!-- /dask-recipe -->", text, re.S
    )
    assert match is not None, "the README has no dask-recipe block"
    namespace: dict[str, Any] = {"__name__": "relaywire_readme_dask_recipe"}
    exec(compile(match[1], "README.md (dask-recipe)", "exec"), namespace)
    return namespace


def write_archive(directory: Path, files: int, rows: int) -> tuple[list[str], int]:
    """Parquet files of Standard Webhooks deliveries signed with either secret; every 13th is
    tampered. Returns the paths and the number of bad deliveries."""
    signers = [StandardWebhook(secret) for secret in SECRETS]
    paths, bad = [], 0
    for file in range(files):
        bodies, ids, signatures = [], [], []
        for row in range(rows):
            n = file * rows + row
            body = b'{"type":"invoice.paid","n":%d}' % n
            ids.append(f"msg_{n}")
            signatures.append(signers[n % 2].sign(f"msg_{n}", NOW, body))
            if n % 13 == 0:
                body += b" "
                bad += 1
            bodies.append(body)
        table = pa.table(
            {
                "body": pa.array(bodies, pa.binary()),
                "webhook-id": ids,
                "webhook-timestamp": [str(NOW)] * rows,
                "webhook-signature": signatures,
                "received_at": pa.array(
                    [NOW * 1_000_000 + 2_000_000] * rows, pa.timestamp("us", "UTC")
                ),
            }
        )
        path = directory / f"part-{file:03d}.parquet"
        pq.write_table(table, path, row_group_size=rows // 2)
        paths.append(str(path))
    return paths, bad


def test_readme_recipe_on_a_local_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The recipe's workers read the secrets from their environment, which they inherit.
    monkeypatch.setenv("WEBHOOK_SECRETS", ",".join(SECRETS))
    paths, bad = write_archive(tmp_path, files=4, rows=400)
    code = recipe()
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster, timeout=60) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        total, failed = code["verify_archive"](client, paths)
    assert (total, failed) == (1600, bad)
    # The same answer in this process, over the whole archive at once.
    whole = pq.read_table(paths)
    local = verify_arrow(StandardWebhook(SECRETS), whole, now="received_at")
    assert local.to_pylist().count(False) == bad
