"""relaywire's ``daguito`` against the official daguito-sdk 0.4.5, side by side.

Run from the repository root::

    python benches/bench_daguito.py                      # everything, about 1.5 minutes on 2 cores
    python benches/bench_daguito.py --only burst,import  # some sections
    python benches/bench_daguito.py --reference DIR      # daguito-sdk already installed in DIR
    python benches/bench_daguito.py --check              # exit 1 if a target FAILs or a run breaks

The reference is installed on first use with ``pip install --target
.bench-cache/daguito-sdk-0.4.5 daguito-sdk==0.4.5`` (its own websockets and httpx come with it).

Method
------
Each contender is a worker process running ``_daguito_client.py``, the same client code for
both (daguito-sdk's public API only). Ours runs with this interpreter's normal environment (the
editable install of this repository). The reference runs with ``-s -S`` (no site-packages at
all) and ``PYTHONPATH=<reference dir>``, so nothing of this environment can shadow it; the worker
reports where ``daguito``, ``websockets`` and ``httpx`` came from and any module loaded from
elsewhere, and a contender whose ``daguito`` is not the expected one is refused. Servers run in
processes of their own, so their CPU is never counted as the client's. Every turn is checked
(the token count, each token's text, the completion output) before its time is used; failures,
worker crashes, warnings and log records are listed under the table.

Sections (``--only``):

* ``burst``: ``_burst_ws_server.py`` writes all N ``node.token`` frames and ``flow.completed``
  in one ``transport.write``; the client's ``time.process_time()`` from just before ``send()``
  to ``flow.completed``, per token. Both consumption styles: ``async for`` over
  ``session.events()``, and ``session.on("node.token", ...)`` with a future set by
  ``flow.completed``. A bare ``websockets`` loop (``async for`` + ``json.loads``, in the
  reference's process and with its websockets) is the informative floor.
* ``paced``: the emulator (``_emulator_server.py``) streams ``/stream N`` with a
  ``token_delay``, so each token arrives in a socket read of its own; same measure. One
  stream takes N x ~1.2 ms, so the contenders (and the bare loop) stream at the same time, each
  in its own process: the clients are idle between tokens, and each reads its own CPU clock.
* ``run_webhook``: sequential calls against the emulator's ``POST /h/sk_wh_demo`` after one
  warm-up call; the median wall time per call (the CPU per call is informative).
* ``import``: ``import daguito`` in a fresh interpreter, timed with ``time.perf_counter()``
  inside it; also ``-X importtime``'s cumulative figure for ``daguito``, and
  ``from daguito import WebhookStreamSession, run_webhook, KnowledgeSession, Daguito``.

The contenders take turns: within a round each runs once, and the order flips every round.
Every cell is the median over the rounds (single rounds swing widely on a shared VM).
``ratio`` is ``reference / relaywire``: above 1, relaywire is that many times faster.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CLIENT = HERE / "_daguito_client.py"
REFERENCE_REQUIREMENT = "daguito-sdk==0.4.5"
DEFAULT_REFERENCE = REPO / ".bench-cache" / "daguito-sdk-0.4.5"
SECTIONS = ("burst", "paced", "run_webhook", "import")
STYLES = ("events", "on")

BURST_WEBHOOK = ("wh_bench", "sk_wh_bench")
EMULATOR_WEBHOOK = ("wh_demo", "sk_wh_demo")

TARGET_BURST = 5.0
TARGET_PACED = 1.0
TARGET_RUN_WEBHOOK = 20.0
TARGET_IMPORT = 1.0

IMPORT_STATEMENTS = {
    "import": "import daguito",
    "from": "from daguito import WebhookStreamSession, run_webhook, KnowledgeSession, Daguito",
}
IMPORT_PROBE = """\
import time
started = time.perf_counter()
{statement}
elapsed = time.perf_counter() - started
import daguito
print(elapsed, daguito.__file__)
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- contenders and their processes -----------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    key: str  # "reference" or "ours"
    label: str
    argv: tuple[str, ...]
    env: dict[str, str]
    home: Path  # where its ``daguito`` must come from
    allowed: tuple[str, ...] = ()  # if set: the only non-stdlib places modules may come from


def ours() -> Contender:
    return Contender(
        "ours", "relaywire", (sys.executable,), dict(os.environ), (REPO / "python").resolve()
    )


def reference(directory: Path) -> Contender:
    # No site-packages (-S), no user site (-s), no PYTHON* variables of ours: the reference's
    # directory, this file's directory and the standard library are all there is.
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
    env["PYTHONPATH"] = str(directory)
    return Contender(
        "reference",
        "daguito-sdk 0.4.5",
        (sys.executable, "-s", "-S"),
        env,
        directory.resolve(),
        (str(directory),),
    )


def ensure_reference(directory: Path | None) -> Path:
    if directory is not None:
        if not (directory / "daguito" / "__init__.py").is_file():
            sys.exit(f"--reference {directory}: no daguito package there")
        return directory.resolve()
    directory = DEFAULT_REFERENCE
    if not (directory / "daguito" / "__init__.py").is_file():
        log(f"installing {REFERENCE_REQUIREMENT} into {directory} (first use)")
        # Into a scratch directory first, so an interrupted install is never taken for one.
        partial = directory.with_name(directory.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                str(partial),
                REFERENCE_REQUIREMENT,
            ],
            check=True,
        )
        shutil.rmtree(directory, ignore_errors=True)
        partial.rename(directory)
    return directory.resolve()


class WorkerError(Exception):
    pass


class Worker:
    """A ``_daguito_client.py`` process of one contender: JSON lines in, JSON lines out."""

    def __init__(self, contender: Contender, name: str) -> None:
        self.contender = contender
        self.name = name
        # Open for the worker's lifetime (closed in close()): its traceback if it dies.
        self.stderr: IO[str] = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [*contender.argv, str(CLIENT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=contender.env,
            text=True,
        )
        self.broken = False

    def submit(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # it died; result() says how

    def result(self) -> dict[str, Any]:
        """The answer to the last command; a dead worker (a crash in native code...) answers
        with its exit status and stderr, and is replaced on the next ``Pool.get``."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.broken = True
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.stderr.seek(0)
            error = f"worker {self.name} died (exit status {self.process.returncode}):\n"
            return {"ok": False, "error": error + self.stderr.read(), "noise": []}
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        self.submit(command)
        return self.result()

    def close(self) -> list[str]:
        """Stop the worker; what it printed to stderr (shutdown warnings...) and a bad exit."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.stderr.seek(0)
        said = [line for line in self.stderr.read().splitlines() if line.strip()]
        self.stderr.close()
        if self.process.returncode:
            said.append(f"exit status {self.process.returncode}")
        return said


class Server:
    """A server in its own process that prints its base URL on its first line."""

    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.close()
            raise RuntimeError(f"{argv[1]} did not start")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- results ----------------------------------------------------------------------------------


@dataclass
class Results:
    """Per-round values of each (case, contender), and what went wrong."""

    values: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    errors: dict[tuple[str, str], str] = field(default_factory=dict)
    noise: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    unusable: set[str] = field(default_factory=set)

    def add(self, case: str, who: str, value: float) -> None:
        self.values.setdefault((case, who), []).append(value)

    def fail(self, case: str, who: str, error: str) -> None:
        if (case, who) not in self.errors:
            self.errors[(case, who)] = error
            first = error.strip().splitlines()[-1] if error.strip() else error
            log(f"  {case} [{who}] FAILED: {first}")

    def median(self, case: str, who: str) -> float | None:
        found = self.values.get((case, who))
        return statistics.median(found) if found else None

    def note(self, case: str, who: str, lines: list[str]) -> None:
        if lines:
            self.noise.setdefault((case, who), set()).update(lines)


class Pool:
    """Worker processes by (contender, slot), started on first use and checked once."""

    def __init__(self, contenders: Sequence[Contender], results: Results) -> None:
        self.contenders = contenders
        self.results = results
        self.workers: dict[tuple[str, str], Worker] = {}
        self.hellos: dict[str, dict[str, Any]] = {}
        self.unusable: dict[str, str] = {}

    def get(self, contender: Contender, slot: str = "main") -> Worker | None:
        if contender.key in self.unusable:
            return None
        worker = self.workers.get((contender.key, slot))
        if worker is not None and worker.broken:
            self.retire(contender.key, slot)
            worker = None
        if worker is None:
            worker = Worker(contender, f"{contender.key}/{slot}")
            self.workers[(contender.key, slot)] = worker
            hello = worker.ask({"op": "hello", "allowed": list(contender.allowed)})
            problem = check_hello(contender, hello)
            if problem is not None:
                self.unusable[contender.key] = problem
                self.results.unusable.add(contender.key)
                log(f"{contender.label} is not usable:\n{problem}")
                return None
            self.hellos.setdefault(contender.key, hello)
        return worker

    def retire(self, who: str, slot: str) -> None:
        said = self.workers.pop((who, slot)).close()
        if said:
            self.results.note(f"worker {slot}: stderr at exit", who, ["\n".join(said)])

    def close(self) -> None:
        for who, slot in list(self.workers):
            self.retire(who, slot)


def check_hello(contender: Contender, hello: dict[str, Any]) -> str | None:
    if not hello.get("ok"):
        return str(hello.get("error"))
    if not str(hello["daguito"]).startswith(str(contender.home)):
        return f"`import daguito` found {hello['daguito']}, not a module under {contender.home}"
    if contender.allowed:
        for module in ("websockets", "httpx"):
            if not str(hello[module]).startswith(str(contender.home)):
                return f"`import {module}` found {hello[module]}, outside {contender.home}"
        if hello.get("foreign"):
            return f"modules loaded from outside {contender.home}: {hello['foreign']}"
    return None


def in_turns(contenders: Sequence[Contender], round_number: int) -> Sequence[Contender]:
    return contenders if round_number % 2 == 0 else list(reversed(contenders))


def record(
    results: Results, case: str, who: str, answer: dict[str, Any], value: Callable[[Any], float]
) -> None:
    results.note(case, who, answer.get("noise") or [])
    if answer.get("ok"):
        results.add(case, who, value(answer))
    else:
        results.fail(case, who, str(answer.get("error")))


# --- sections ---------------------------------------------------------------------------------


def stream_command(url: str, webhook: tuple[str, str], tokens: int, style: str) -> dict[str, Any]:
    return {
        "op": "stream",
        "url": url,
        "webhook_id": webhook[0],
        "token": webhook[1],
        "tokens": tokens,
        "style": style,
        # Generous (a paced token takes ~1.2 ms), but a stuck session must not stall the run.
        "timeout": 60 + tokens * 0.01,
    }


def per_token(tokens: int) -> Callable[[dict[str, Any]], float]:
    return lambda answer: answer["cpu"] / tokens * 1e6


def bench_burst(args: argparse.Namespace, pool: Pool, results: Results) -> None:
    server = Server([sys.executable, str(HERE / "_burst_ws_server.py")])
    contenders = pool.contenders
    ref = next(c for c in contenders if c.key == "reference")
    value = per_token(args.tokens)
    try:
        for round_number in range(args.rounds):
            for style in STYLES:
                for contender in in_turns(contenders, round_number):
                    worker = pool.get(contender)
                    if worker is None:
                        continue
                    command = stream_command(server.url, BURST_WEBHOOK, args.tokens, style)
                    record(results, f"burst/{style}", contender.key, worker.ask(command), value)
            worker = pool.get(ref)
            if worker is not None:
                command = stream_command(server.url, BURST_WEBHOOK, args.tokens, "bare")
                record(results, "burst/bare", "reference", worker.ask(command), value)
            log(f"burst round {round_number + 1}/{args.rounds}: {progress(results, 'burst')}")
    finally:
        server.close()


def bench_paced(args: argparse.Namespace, pool: Pool, results: Results, emulator: Server) -> None:
    # One paced stream takes tokens x ~1.2 ms, so the streams of a round run at the same time,
    # each in a process of its own (its own CPU clock); the clients idle between tokens.
    runs: list[tuple[str, Contender, str]] = []
    for contender in pool.contenders:
        runs += [(f"paced/{style}", contender, style) for style in STYLES]
    ref = next(c for c in pool.contenders if c.key == "reference")
    # The bare loop, and a raw-protocol probe that counts frames per socket read (1.00: paced).
    runs += [("paced/bare", ref, "bare"), ("paced/probe", ref, "probe")]
    value = per_token(args.tokens)
    for round_number in range(args.paced_rounds):
        started: list[tuple[str, Contender, Worker]] = []
        for case, contender, style in runs:
            worker = pool.get(contender, f"paced-{style}")
            if worker is None:
                continue
            worker.submit(stream_command(emulator.url, EMULATOR_WEBHOOK, args.tokens, style))
            started.append((case, contender, worker))
        for case, contender, worker in started:
            answer = worker.result()
            if case == "paced/probe":
                record(results, case, contender.key, answer, lambda a: a["frames_per_read"])
            else:
                record(results, case, contender.key, answer, value)
        log(f"paced round {round_number + 1}/{args.paced_rounds}: {progress(results, 'paced')}")


def bench_run_webhook(
    args: argparse.Namespace, pool: Pool, results: Results, emulator: Server
) -> None:
    command: dict[str, Any] = {"op": "run_webhook", "url": emulator.url}
    command.update(token=EMULATOR_WEBHOOK[1], calls=args.calls, timeout=60 + args.calls * 5)
    for round_number in range(args.rounds):
        for contender in in_turns(pool.contenders, round_number):
            worker = pool.get(contender)
            if worker is None:
                continue
            answer = worker.ask(command)
            record(
                results,
                "run_webhook/wall",
                contender.key,
                answer,
                lambda a: statistics.median(a["walls"]) * 1e3,
            )
            record(
                results,
                "run_webhook/cpu",
                contender.key,
                answer,
                lambda a: statistics.median(a["cpus"]) * 1e3,
            )
        log(f"run_webhook round {round_number + 1}/{args.rounds}: {progress(results, 'run_w')}")


def import_once(contender: Contender, cwd: str, statement: str) -> float:
    code = IMPORT_PROBE.format(statement=statement)
    done = subprocess.run(
        [*contender.argv, "-c", code],
        env=contender.env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise WorkerError(done.stderr)
    elapsed, where = done.stdout.split(maxsplit=1)
    if not where.strip().startswith(str(contender.home)):
        raise WorkerError(f"`import daguito` found {where.strip()}, not under {contender.home}")
    return float(elapsed) * 1e3


def importtime_once(contender: Contender, cwd: str) -> float:
    done = subprocess.run(
        [*contender.argv, "-X", "importtime", "-c", "import daguito"],
        env=contender.env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise WorkerError(done.stderr)
    for line in done.stderr.splitlines():
        # "import time: self [us] | cumulative | imported package"; top level: no indent.
        parts = line.split("|")
        if len(parts) == 3 and parts[2].rstrip() == " daguito":
            return int(parts[1]) / 1e3
    raise WorkerError("no `daguito` line in the -X importtime output")


def bench_import(args: argparse.Namespace, pool: Pool, results: Results) -> None:
    jobs: list[tuple[str, Callable[[Contender, str], float]]] = [
        (f"import/{name}", functools.partial(import_once, statement=statement))
        for name, statement in IMPORT_STATEMENTS.items()
    ]
    jobs.append(("import/importtime", importtime_once))
    with tempfile.TemporaryDirectory() as cwd:  # nothing there can shadow a module
        for run in range(args.import_runs):
            for case, job in jobs:
                for contender in in_turns(pool.contenders, run):
                    if (case, contender.key) in results.errors:
                        continue
                    try:
                        results.add(case, contender.key, job(contender, cwd))
                    except WorkerError as err:
                        results.fail(case, contender.key, str(err))
    log(f"import: {args.import_runs} runs each: {progress(results, 'import')}")


def progress(results: Results, prefix: str) -> str:
    parts = []
    for (case, who), values in results.values.items():
        if case.startswith(prefix):
            parts.append(f"{case} {who} {values[-1]:.2f}")
    return ", ".join(parts)


# --- the table --------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    unit: str
    baseline: tuple[str, str]  # (case, contender) of the baseline column
    ours: tuple[str, str] | None
    target: float | None  # the ratio needed; None: informative


def rows() -> list[Row]:
    table = []
    for regime, target in (("burst", TARGET_BURST), ("paced", TARGET_PACED)):
        for style, how in (("events", "`async for` over `events()`"), ("on", "`on()` listeners")):
            table.append(
                Row(
                    f"{regime}: client CPU per token, {how}",
                    "us",
                    (f"{regime}/{style}", "reference"),
                    (f"{regime}/{style}", "ours"),
                    target,
                )
            )
        table.append(
            Row(
                f"{regime}: bare `websockets` loop (baseline column) vs our `events()`",
                "us",
                (f"{regime}/bare", "reference"),
                (f"{regime}/events", "ours"),
                None,
            )
        )
    table += [
        Row(
            "`run_webhook`, wall time per call",
            "ms",
            ("run_webhook/wall", "reference"),
            ("run_webhook/wall", "ours"),
            TARGET_RUN_WEBHOOK,
        ),
        Row(
            "`run_webhook`, client CPU per call",
            "ms",
            ("run_webhook/cpu", "reference"),
            ("run_webhook/cpu", "ours"),
            None,
        ),
        Row(
            "`import daguito`, fresh interpreter",
            "ms",
            ("import/import", "reference"),
            ("import/import", "ours"),
            TARGET_IMPORT,
        ),
        Row(
            "`import daguito`, `-X importtime` cumulative",
            "ms",
            ("import/importtime", "reference"),
            ("import/importtime", "ours"),
            None,
        ),
        Row(
            "`from daguito import WebhookStreamSession, run_webhook, KnowledgeSession, Daguito`",
            "ms",
            ("import/from", "reference"),
            ("import/from", "ours"),
            None,
        ),
    ]
    return table


def cell(results: Results, key: tuple[str, str] | None, unit: str) -> tuple[str, float | None]:
    if key is None:
        return "-", None
    value = results.median(*key)
    if value is None:
        failed = key in results.errors or key[1] in results.unusable
        return ("error" if failed else "-"), None
    digits = 2 if value < 100 else 1
    return f"{value:.{digits}f} {unit}", value


def render(results: Results) -> tuple[str, bool]:
    lines = [
        "| case | daguito-sdk 0.4.5 | relaywire | ratio | needed | result |",
        "|---|---|---|---|---|---|",
    ]
    all_pass = True
    for row in rows():
        base_text, base = cell(results, row.baseline, row.unit)
        ours_text, mine = cell(results, row.ours, row.unit)
        if base_text == "-" and ours_text == "-":
            continue  # a section that did not run
        ratio = base / mine if base is not None and mine else None
        ratio_text = f"{ratio:.2f}x" if ratio is not None else "-"
        if row.target is None:
            needed, verdict = "-", "info"
        else:
            needed = f">= {row.target:g}x"
            verdict = "PASS" if ratio is not None and ratio >= row.target else "FAIL"
            all_pass = all_pass and verdict == "PASS"
        lines.append(
            f"| {row.case} | {base_text} | {ours_text} | {ratio_text} | {needed} | {verdict} |"
        )
    return "\n".join(lines), all_pass


def machine_line() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = f" ({line.split(':', 1)[1].strip()})"
                break
    except OSError:
        pass
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{usable} usable CPUs{model}, Python {python}, {platform.machine()} {platform.system()}"


def describe(pool: Pool, contender: Contender) -> str:
    hello = pool.hellos.get(contender.key)
    if hello is None:
        return f"{contender.label}: not usable (see above)"
    where = Path(hello["daguito"]).parent.parent
    return (
        f"{contender.label}: daguito {hello['daguito_version']} from {where}, "
        f"websockets {hello['websockets_version']}"
    )


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of burst and run_webhook")
    parser.add_argument("--paced-rounds", type=int, default=3, help="rounds of paced streams")
    parser.add_argument("--tokens", type=int, default=20_000, help="tokens per timed stream")
    parser.add_argument(
        "--token-delay",
        type=float,
        default=0.0002,
        help="the emulator's sleep before each paced token (seconds)",
    )
    parser.add_argument("--calls", type=int, default=20, help="run_webhook calls per round")
    parser.add_argument("--import-runs", type=int, default=15, help="fresh interpreters each")
    parser.add_argument("--reference", type=Path, help="a directory where daguito-sdk is installed")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target FAILs")
    args = parser.parse_args(argv)
    args.only = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = sorted(set(args.only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    reference_dir = ensure_reference(args.reference)
    contenders = [reference(reference_dir), ours()]
    results = Results()
    pool = Pool(contenders, results)
    emulator: Server | None = None
    try:
        for contender in contenders:
            pool.get(contender)
        if pool.unusable.get("reference"):
            return 2  # nothing to compare against
        if "burst" in args.only:
            bench_burst(args, pool, results)
        if "paced" in args.only or "run_webhook" in args.only:
            emulator = Server(
                [sys.executable, str(HERE / "_emulator_server.py"), str(args.token_delay)]
            )
        if "paced" in args.only:
            assert emulator is not None
            bench_paced(args, pool, results, emulator)
        if "run_webhook" in args.only:
            assert emulator is not None
            bench_run_webhook(args, pool, results, emulator)
        if "import" in args.only:
            bench_import(args, pool, results)
    finally:
        pool.close()
        if emulator is not None:
            emulator.close()

    table, all_pass = render(results)
    print(f"# relaywire `daguito` vs daguito-sdk 0.4.5 ({machine_line()})")
    for contender in contenders:
        print(f"# {describe(pool, contender)}")
    settings = {
        "burst": f"burst: {args.tokens:,} tokens in one write, {args.rounds} rounds",
        "paced": f"paced: emulator `/stream {args.tokens}`, token_delay={args.token_delay:g} s, "
        f"{args.paced_rounds} rounds, the streams of a round at the same time",
        "run_webhook": f"run_webhook: {args.calls} calls x {args.rounds} rounds",
        "import": f"import: {args.import_runs} fresh interpreters each",
    }
    print("# " + "; ".join(text for name, text in settings.items() if name in args.only))
    probe = results.median("paced/probe", "reference")
    if probe is not None:
        print(
            f"# paced check: {probe:.3f} frames per socket read (a raw protocol reading one "
            "stream alongside; 1.000 = every token in a read of its own)"
        )
    print(
        "# a shared VM: each cell is the median of its rounds (contenders alternate); "
        "ratio = daguito-sdk / relaywire (above 1: relaywire is faster)"
    )
    print()
    print(table)
    problems = report_problems(pool, results)
    print()
    print(f"Finished in {time.perf_counter() - started:.0f} s.")
    failed = not all_pass or bool(problems)
    return 1 if failed and args.check else 0


def report_problems(pool: Pool, results: Results) -> bool:
    """Print what went wrong or looked odd; True if anything did."""
    lines: list[str] = []
    for who, problem in pool.unusable.items():
        lines.append(f"* {who} could not run at all:\n\n```\n{problem.strip()}\n```")
    for (case, who), error in results.errors.items():
        lines.append(f"* {case} [{who}] failed:\n\n```\n{error.strip()}\n```")
    for (case, who), noise in sorted(results.noise.items()):
        shown = sorted(noise)[:5]
        more = f" (+{len(noise) - 5} more)" if len(noise) > 5 else ""
        lines.append(f"* {case} [{who}] warnings/log records: {'; '.join(shown)}{more}")
    if lines:
        print()
        print("Problems:")
        print("\n".join(lines))
    return bool(lines)


if __name__ == "__main__":
    sys.exit(main())
