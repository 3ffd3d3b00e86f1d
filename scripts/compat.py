"""Runs the old package's own test suites (langchain-callback-parquet-logger 3.0.2 and 4.0.0)
against this package, with only their imports rewritten.

    python scripts/compat.py                       # both versions
    python scripts/compat.py --version 4.0.0 -k retrieval --keep
    python scripts/compat.py --against old         # the suites against their own package

Each version's sdist is downloaded once into .compat-cache/ (gitignored). Its tests/ are
copied, rewritten (scripts/compat_rewrite.py), given the fixtures the sdists lack
(scripts/compat_fixtures/), and run by pytest in a subprocess; per-test results come from its
JUnit XML. Tests listed in scripts/compat_excluded.toml (private internals, or timing the old
synchronous writes allowed) are reported apart. `--against old` checks the harness itself: the
suites run unrewritten against the old package's own source and should all pass.

Exit code: 0 when every test that is not excluded passed, 1 otherwise, 2 when a suite could
not be run at all (download, collection or timeout).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `scripts.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.compat_rewrite import OLD, SHIM_MODULE, SHIM_SOURCE, rewrite_source

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".compat-cache"
FIXTURES = ROOT / "scripts" / "compat_fixtures"
EXCLUDED = ROOT / "scripts" / "compat_excluded.toml"
VERSIONS = ("3.0.2", "4.0.0")
# Both sdists lack tests/conftest.py and use the same fixtures.
CONFTEST = {"3.0.2": FIXTURES / "conftest_4_0_0.py", "4.0.0": FIXTURES / "conftest_4_0_0.py"}
EXCLUSION_KINDS = ("private", "timing")
PYTEST_INI = """[pytest]
asyncio_default_fixture_loop_scope = function
timeout = {per_test_timeout_s}
filterwarnings = ignore::DeprecationWarning
"""

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_NOT_RUN = 2


@dataclass(frozen=True)
class Exclusion:
    """A test left out of the verdict, and why."""

    test: str
    kind: str
    reason: str


@dataclass
class TestResult:
    """One test's outcome ("passed", "failed", "error", "skipped") and its first message line."""

    test: str
    outcome: str
    message: str = ""
    excluded: str = ""


@dataclass
class SuiteRun:
    """One version's run: per-test results, what the rewrite could not map, and any fault."""

    version: str
    results: list[TestResult] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    fault: str = ""
    leaked_rings: list[str] = field(default_factory=list)
    stray_pids: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Passed / failed / excluded; a failure counts failed and errored tests alike."""
        c: Counter[str] = Counter()
        for r in self.results:
            if r.excluded:
                c["excluded"] += 1
                c["excluded_but_passing"] += r.outcome == "passed"
            else:
                c["passed" if r.outcome == "passed" else "failed"] += 1
        return {k: c[k] for k in ("passed", "failed", "excluded", "excluded_but_passing")}


def sdist(version: str) -> Path:
    """The cached sdist of `version`, downloaded with pip when missing."""
    path = CACHE / f"{OLD}-{version}.tar.gz"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        cmd += ["--disable-pip-version-check", f"{OLD.replace('_', '-')}=={version}"]
        subprocess.run([*cmd, "-d", str(CACHE)], check=True, capture_output=True, timeout=300)
    return path


def extract(archive: Path, dest: Path, with_package: bool) -> Path:
    """Unpacks tests/ (and the package, for `--against old`) into dest; returns the sdist root."""
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        wanted = ("tests/", f"{OLD}/") if with_package else ("tests/",)
        members = [m for m in tar.getmembers() if m.name.partition("/")[2].startswith(wanted)]
        tar.extractall(dest, members=members, filter="data")
    return dest / top


def prepare(version: str, root: Path, against_old: bool, per_test_timeout_s: float) -> list[str]:
    """Rewrites root/tests in place and adds conftest, shim and pytest.ini; returns unmapped."""
    tests = root / "tests"
    unmapped: list[str] = []
    if not against_old:
        for path in sorted(tests.glob("*.py")):
            rewritten = rewrite_source(path.read_text())
            path.write_text(rewritten.source)
            unmapped += [f"{path.name}: {name}" for name in rewritten.unmapped]
        (tests / f"{SHIM_MODULE}.py").write_text(SHIM_SOURCE)
    shutil.copyfile(CONFTEST[version], tests / "conftest.py")
    (tests / "pytest.ini").write_text(PYTEST_INI.format(per_test_timeout_s=per_test_timeout_s))
    return unmapped


def run_pytest(root: Path, against_old: bool, args: argparse.Namespace) -> tuple[Path, str]:
    """Runs the suite in a subprocess (its own session, killed whole on timeout)."""
    tests = root / "tests"
    junit = root / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", str(tests), "-c", str(tests / "pytest.ini")]
    cmd += ["--rootdir", str(tests), "-p", "no:cacheprovider", "-q", f"--junitxml={junit}"]
    cmd += [f"--tb={args.tb}"] + (["-k", args.k] if args.k else [])
    scratch = root / "tmp"  # every log directory the tests make lives under it
    scratch.mkdir()
    cmd += [f"--basetemp={scratch / 'pytest'}"]
    env = dict(os.environ, TQDM_DISABLE="1", TMPDIR=str(scratch))
    env.pop("PYTHONPATH", None)
    if against_old:
        env["PYTHONPATH"] = str(root)  # the sdist's own package, ahead of the installed 4.0.0
    else:
        env["COMPAT_EXPECT_ROOT"] = str(ROOT)
        env["COMPAT_RINGS_FILE"] = str(root / "rings.txt")
        env["COMPAT_RING_BYTES"] = str(args.ring_mib * 2**20)
    log = root / "pytest.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            cmd, cwd=tests, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        fault = _wait(proc, junit, args.timeout, args.exit_grace)
    if fault:
        fault += f" (see pytest.log; last line: {_last_line(log.read_text(errors='replace'))})"
    return junit, fault


def _wait(proc: subprocess.Popen[bytes], junit: Path, timeout_s: float, grace_s: float) -> str:
    """Waits for pytest; kills its session after `timeout_s`, or `grace_s` after it wrote its
    results (a process that cannot exit, e.g. atexit draining dozens of loggers). Returns the
    fault, "" when it ended by itself with a test verdict (5: nothing collected, e.g. by -k)."""
    deadline = time.monotonic() + timeout_s
    graced = False
    while proc.poll() is None:
        now = time.monotonic()
        if not graced and junit.exists():
            deadline, graced = min(deadline, now + grace_s), True
        if now >= deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if junit.exists():
                return f"pytest did not exit within {grace_s:.0f}s of writing its results"
            return f"timed out after {timeout_s:.0f}s"
        time.sleep(0.5)
    return "" if proc.returncode in (0, 1, 5) else f"pytest exited {proc.returncode}"


def _last_line(output: str) -> str:
    """The last non-empty line of pytest's output (its summary or the INTERNALERROR)."""
    internal = [line for line in output.splitlines() if line.startswith("INTERNALERROR> E")]
    lines = internal or [line for line in output.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def parse_junit(junit: Path) -> list[TestResult]:
    """Per-test results from pytest's JUnit XML, ids as `file.py::Class::test`."""
    results: list[TestResult] = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        module, _, cls = case.get("classname", "").partition(".")
        test_id = "::".join(p for p in (f"{module}.py", cls, case.get("name", "")) if p)
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = "failed" if tag == "failure" else tag
                lines = (node.get("message") or node.text or "").strip().splitlines()
                message = lines[0][:300] if lines else ""
                break
        results.append(TestResult(test_id, outcome, message))
    return results


def stray_processes(scratch: Path, grace_s: float = 15.0) -> list[int]:
    """Processes still running on a log directory of this run `grace_s` after pytest ended
    (a writer whose producer is gone should exit by itself); they are killed here."""
    deadline = time.monotonic() + grace_s
    while (pids := _processes_on(scratch)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


def _processes_on(scratch: Path) -> list[int]:
    """Pids whose command line names a path under `scratch`."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if proc.name.isdigit() and os.fsencode(scratch) in cmdline:
            pids.append(int(proc.name))
    return pids


def leaked_rings(rings_file: Path) -> list[str]:
    """Rings the run's tests made that still exist with no process mapping them; removed here.

    Only rings the suite's own pytest process mapped are considered (the conftest lists them),
    so rings of other programs on this host are never touched.
    """
    if not rings_file.exists():
        return []
    made = set(rings_file.read_text().split())
    in_use: set[str] = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        with contextlib.suppress(OSError):
            in_use.update(
                line.split(maxsplit=5)[5].strip()
                for line in maps.read_text().splitlines()
                if "/dev/shm/" in line and len(line.split()) > 5
            )
    leaked = sorted(p for p in made if os.path.exists(p) and p not in in_use)
    for path in leaked:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return leaked


def load_exclusions(path: Path = EXCLUDED) -> dict[str, dict[str, Exclusion]]:
    """version -> test id -> Exclusion, from the checked-in list (kinds checked)."""
    data = tomllib.loads(path.read_text()) if path.exists() else {}
    table: dict[str, dict[str, Exclusion]] = {v: {} for v in VERSIONS}
    for entry in data.get("excluded", []):
        if entry["kind"] not in EXCLUSION_KINDS or not entry.get("reason"):
            raise ValueError(f"{path}: {entry['test']}: kind must be one of {EXCLUSION_KINDS}")
        for version in entry["versions"]:
            table[version][entry["test"]] = Exclusion(entry["test"], entry["kind"], entry["reason"])
    return table


def run_version(version: str, args: argparse.Namespace, work: Path) -> SuiteRun:
    """Download, extract, rewrite and run one version's suite."""
    run = SuiteRun(version)
    against_old = args.against == "old"
    try:
        root = extract(sdist(version), work / version, with_package=against_old)
    except (subprocess.SubprocessError, OSError, tarfile.TarError) as exc:
        run.fault = f"could not get the {version} sdist: {exc}"
        return run
    run.unmapped = prepare(version, root, against_old, args.per_test_timeout)
    junit, run.fault = run_pytest(root, against_old, args)
    if not against_old:
        run.stray_pids = stray_processes(root / "tmp")
        run.leaked_rings = leaked_rings(root / "rings.txt")
    if junit.exists():
        run.results = parse_junit(junit)
    elif not run.fault:
        run.fault = "pytest wrote no JUnit XML"
    exclusions = {} if against_old else load_exclusions()[version]
    for result in run.results:
        if result.test in exclusions:
            ex = exclusions[result.test]
            result.excluded = f"{ex.kind}: {ex.reason}"
    known = {r.test for r in run.results}
    if not args.k and not run.fault:
        stale = sorted(set(exclusions) - known)
        run.unmapped += [f"stale exclusion (no such test): {t}" for t in stale]
    return run


def report(runs: list[SuiteRun], verbose: bool) -> None:
    """Prints per-version counts, every failure, and what could not be mapped."""
    for run in runs:
        c = run.counts()
        print(
            f"== {OLD} {run.version}: {c['passed']} passed, {c['failed']} failed, "
            f"{c['excluded']} excluded ({c['excluded_but_passing']} of them passing)"
        )
        if run.fault:
            print(f"   NOT RUN CLEANLY: {run.fault}")
        for r in run.results:
            if r.outcome != "passed" and (verbose or not r.excluded):
                tag = "EXCLUDED " if r.excluded else ""
                print(f"   {tag}{r.outcome.upper():7} {r.test}: {r.message}")
        if run.leaked_rings:
            print(f"   LEAKED {len(run.leaked_rings)} shared-memory rings (removed)")
        if run.stray_pids:
            print(f"   STRAY processes left running (killed): {run.stray_pids}")
        for name in run.unmapped:
            print(f"   unmapped: {name}")


def verdict(runs: list[SuiteRun]) -> int:
    """EXIT_OK only when every suite ran and every non-excluded test passed."""
    if any(run.fault or not run.results for run in runs):
        return EXIT_NOT_RUN
    if any(run.leaked_rings or run.stray_pids for run in runs):
        return EXIT_FAILURES
    if any(r.outcome != "passed" and not r.excluded for run in runs for r in run.results):
        return EXIT_FAILURES
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Runs the chosen suites and prints the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", choices=(*VERSIONS, "all"), default="all")
    parser.add_argument("-k", help="pytest -k expression (selects tests)")
    parser.add_argument("--json", type=Path, help="write the per-test results here")
    parser.add_argument("--keep", action="store_true", help="keep the rewritten suites")
    parser.add_argument("--against", choices=("ours", "old"), default="ours")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per suite")
    parser.add_argument("--per-test-timeout", type=float, default=120.0)
    parser.add_argument(
        "--exit-grace", type=float, default=60.0, help="seconds pytest may take to exit"
    )
    # "line": formatting full tracebacks parses source with `ast`, which on Python 3.11 can
    # fail pytest itself (an INTERNALERROR) while another thread formats a traceback too.
    parser.add_argument("--tb", default="line", help="pytest --tb style for pytest.log")
    # Each logger reserves its ring up front and the old tests never close theirs.
    parser.add_argument("--ring-mib", type=int, default=16, help="ring size of each logger")
    parser.add_argument("-v", "--verbose", action="store_true", help="list excluded failures")
    args = parser.parse_args(argv)
    versions = VERSIONS if args.version == "all" else (args.version,)
    CACHE.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="suites-", dir=CACHE))
    try:
        runs = [run_version(v, args, work) for v in versions]
    finally:
        if args.keep:
            print(f"rewritten suites kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(runs, args.verbose)
    if args.json:
        doc = {
            run.version: {
                "counts": run.counts(),
                "fault": run.fault,
                "unmapped": run.unmapped,
                "leaked_rings": run.leaked_rings,
                "stray_pids": run.stray_pids,
                "tests": [asdict(r) for r in run.results],
            }
            for run in runs
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return verdict(runs)


if __name__ == "__main__":
    sys.exit(main())
