"""A real single-node Apache Kafka broker (KRaft) assembled from Maven Central.

No Docker and no Apache download site: the broker's runtime classpath is resolved by Maven
from ``deploy/kafka/pom.xml`` (``org.apache.kafka:kafka_2.13`` plus the log4j SLF4J binding
that Maven resolution misses) and cached in a jar folder: ``.cache/kafka-jars`` under the
project root unless another is given (``LocalBroker(jars=...)``, ``ensure_jars(path)``,
``python -m deploy.kafka_local fetch --jars DIR``).  Storage is formatted with
``kafka.tools.StorageTool format --standalone`` and the broker runs ``kafka.Kafka`` on loopback.

Used by ``ews broker``, by the demo and by the test suite (each test session gets its own
free ports and data directory).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.settings import KafkaAccess, client_args

PROJECT_ROOT = Path(__file__).resolve().parent.parent
POM = PROJECT_ROOT / "deploy" / "kafka" / "pom.xml"
DEFAULT_JARS = PROJECT_ROOT / ".cache" / "kafka-jars"
DEFAULT_HOME = PROJECT_ROOT / ".cache" / "broker"

LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRefs = file
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
"""


class BrokerError(RuntimeError):
    """The local broker could not be assembled, formatted or started."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_jars(jars: Path = DEFAULT_JARS, quiet: bool = False) -> Path:
    """Resolve the broker classpath with Maven once; later calls reuse the cache."""
    if (jars / ".complete").exists():
        return jars
    if shutil.which("mvn") is None:
        raise BrokerError("Maven (mvn) is needed once to fetch the Kafka jars; install it first")
    jars.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"fetching the Kafka broker jars from Maven Central into {jars} ...", flush=True)
    cmd = [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={jars}",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise BrokerError(f"mvn failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    if not any(p.name.startswith("kafka_2.13-") for p in jars.glob("*.jar")):
        raise BrokerError(f"mvn ran but no kafka_2.13 jar is in {jars}")
    (jars / ".complete").write_text("ok\n")
    return jars


def process_args(pid: int) -> list[str] | None:
    """The command line of a live process (``/proc/<pid>/cmdline``); None if unreadable."""
    if pid <= 0:
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # no such process, or not ours to look at
        return None
    if not raw:  # a zombie, or a kernel thread
        return None
    return [a.decode("utf-8", "surrogateescape") for a in raw.rstrip(b"\0").split(b"\0")]


def is_broker_process(pid: int, properties: Path) -> bool:
    """True if ``pid`` is a java process running ``kafka.Kafka`` with this ``properties`` file."""
    args = process_args(pid)
    if not args or Path(args[0]).name != "java" or "kafka.Kafka" not in args:
        return False
    at = args.index("kafka.Kafka") + 1
    if at >= len(args):
        return False
    given = args[at]
    if not os.path.isabs(given):  # started with a relative home: relative to its own cwd
        try:
            given = os.path.join(os.readlink(f"/proc/{pid}/cwd"), given)
        except OSError:
            return False
    return os.path.realpath(given) == os.path.realpath(properties)


def listener_properties(port: int, controller_port: int, admin_password: str | None) -> str:
    """The listeners: plain on loopback, or SASL/SCRAM with ACLs when an admin password is
    given (the controller listener stays plain on loopback; its principal is a super user)."""
    if admin_password is None:
        return f"""\
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
"""
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="admin" password="{admin_password}";'
    )
    return f"""\
listeners=SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
inter.broker.listener.name=SASL_PLAINTEXT
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256
sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config={jaas}
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:ANONYMOUS
allow.everyone.if.no.acl.found=false
"""


def server_properties(
    data_dir: Path, port: int, controller_port: int, admin_password: str | None = None
) -> str:
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}
{listener_properties(port, controller_port, admin_password).strip()}
controller.listener.names=CONTROLLER
log.dirs={data_dir}
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=9223372036854775807
"""


@dataclass
class LocalBroker:
    """One KRaft broker+controller process on loopback."""

    home: Path = DEFAULT_HOME
    port: int = 9092
    controller_port: int = 9093
    jars: Path = DEFAULT_JARS
    heap: str = "512m"
    secure: bool = False  # SASL/SCRAM and ACLs (deploy/kafka/acls.yaml)
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def credentials_file(self) -> Path:
        return self.home / "credentials.json"

    def passwords(self) -> dict[str, str]:
        """The SCRAM users of a secured broker and their passwords (made once, kept in the
        broker's home, readable by its owner only)."""
        path = self.credentials_file
        if path.exists():
            return json.loads(path.read_text())
        users = {"admin": secrets.token_urlsafe(18)}
        users.update({name: secrets.token_urlsafe(18) for name in acl_config()["users"]})
        self.home.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(users, indent=1))
        path.chmod(0o600)
        return users

    def access(self, user: str | None = None) -> KafkaAccess:
        """How ``user`` reaches this broker (the admin when None on a secured broker)."""
        if not self.secure:
            return KafkaAccess(self.bootstrap)
        name = user or "admin"
        return KafkaAccess(self.bootstrap, name, self.passwords()[name])

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "server.log"

    @property
    def properties_file(self) -> Path:
        return self.home / "server.properties"

    def _java(self, *args: str) -> list[str]:
        return ["java", "-cp", f"{self.jars}/*", *args]

    def format(self) -> None:
        """Write the config and format KRaft storage (idempotent)."""
        data = self.home / "data"
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        data.mkdir(parents=True, exist_ok=True)
        props = self.properties_file
        admin = self.passwords()["admin"] if self.secure else None
        props.write_text(server_properties(data, self.port, self.controller_port, admin))
        (self.home / "log4j2.properties").write_text(LOG4J2)
        cluster_id_file = self.home / "cluster.id"
        if not cluster_id_file.exists():
            cluster_id_file.write_text(uuid.uuid4().hex[:22])
        cmd = self._java(
            "-Dlog4j2.configurationFile=" + str(self.home / "log4j2.properties"),
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id_file.read_text().strip(),
            "-c",
            str(props),
            "--standalone",
            "--ignore-formatted",
            *(
                a
                for name, password in (self.passwords().items() if self.secure else ())
                for a in ("--add-scram", f"SCRAM-SHA-256=[name={name},password={password}]")
            ),
        )
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise BrokerError(f"formatting KRaft storage failed:\n{done.stdout}\n{done.stderr}")

    def running_pid(self) -> int | None:
        """The pid of the broker this home runs, if it is alive.

        The pid file is believed only if that pid is still a ``java ... kafka.Kafka`` process
        with this home's ``server.properties``; otherwise the file is stale (the broker died and
        the pid may now belong to anything) and is removed.
        """
        try:
            text = self.pid_file.read_text()
        except FileNotFoundError:
            return None
        try:
            pid: int | None = int(text.strip())
        except ValueError:
            pid = None
        if pid is not None and is_broker_process(pid, self.properties_file):
            return pid
        self.pid_file.unlink(missing_ok=True)
        print(
            f"kafka_local: {self.pid_file} names pid {pid if pid is not None else text[:20]!r}, "
            f"which is not this broker (java kafka.Kafka {self.properties_file}); "
            "removed the stale pid file, signalled nothing",
            file=sys.stderr,
            flush=True,
        )
        return None

    def start(self, timeout: float = 90.0) -> LocalBroker:
        """Start the broker (formatting on first use) and wait until it serves metadata."""
        if shutil.which("java") is None:
            raise BrokerError("a Java runtime (java) is needed to run the Kafka broker")
        ensure_jars(self.jars)
        if self.running_pid() is not None and port_open(self.port):
            return self
        self.format()
        cmd = self._java(
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            "-Dlog4j2.configurationFile=" + str(self.home / "log4j2.properties"),
            "kafka.Kafka",
            str(self.properties_file.absolute()),
        )
        out = open(self.home / "logs" / "stdout.log", "ab")
        self.process = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pid_file.write_text(str(self.process.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"the broker exited with {self.process.returncode}; see {self.log_file}"
                )
            if port_open(self.port) and metadata_ready(self.access()):
                return self
            time.sleep(0.5)
        self.stop()
        raise BrokerError(f"the broker did not come up in {timeout:.0f}s; see {self.log_file}")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after the timeout).

        Only a broker this object started, or the process in the pid file if it is still this
        home's broker (see ``running_pid``), is ever signalled.
        """
        if self.process is not None:
            process, self.process = self.process, None
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self.pid_file.unlink(missing_ok=True)
            return
        pid = self.running_pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while is_broker_process(pid, self.properties_file):
            if time.monotonic() >= deadline:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                break
            time.sleep(0.2)
        self.pid_file.unlink(missing_ok=True)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def metadata_ready(bootstrap: str | KafkaAccess) -> bool:
    """True once the broker answers a metadata request (kafka-python admin client)."""
    try:
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(**client_args(bootstrap), request_timeout_ms=3000)
        try:
            admin.list_topics()
            return True
        finally:
            admin.close()
    except Exception:
        return False


ACLS = Path(__file__).resolve().parent / "kafka" / "acls.yaml"


def acl_config(path: Path = ACLS) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def acls_for(prefix: str, config: dict | None = None) -> list:
    """The ACL bindings of the users of ``config`` (acls.yaml) for a deployment's prefix."""
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePattern,
        ResourceType,
    )

    def op(name: str) -> ACLOperation:
        return ACLOperation[re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()]

    def pattern(kind: ResourceType, key: str) -> ResourcePattern:
        if key == "all":
            return ResourcePattern(kind, prefix, ACLResourcePatternType.PREFIXED)
        return ResourcePattern(kind, f"{prefix}.{key}", ACLResourcePatternType.LITERAL)

    out = []
    for user, rights in (config or acl_config())["users"].items():
        principal = f"User:{user}"
        for kind, section in ((ResourceType.TOPIC, "topics"), (ResourceType.GROUP, "groups")):
            for key, ops in (rights.get(section) or {}).items():
                for name in ops:
                    out.append(
                        ACL(principal, "*", op(name), ACLPermissionType.ALLOW, pattern(kind, key))
                    )
        cluster = ResourcePattern(
            ResourceType.CLUSTER, "kafka-cluster", ACLResourcePatternType.LITERAL
        )
        for name in rights.get("cluster") or ():
            out.append(ACL(principal, "*", op(name), ACLPermissionType.ALLOW, cluster))
    return out


def grant(admin_access: LocalBroker | KafkaAccess, prefix: str) -> int:
    """Grant the rights of acls.yaml on a secured broker for a deployment's prefix, as its
    admin (a local broker's, or any broker's admin credential); returns how many."""
    from kafka import KafkaAdminClient

    if isinstance(admin_access, LocalBroker):
        admin_access = admin_access.access()
    admin = KafkaAdminClient(**client_args(admin_access), client_id="ews-acl")
    try:
        bindings = acls_for(prefix)
        result = admin.create_acls(bindings)
        if result["failed"]:
            raise BrokerError(f"granting rights failed: {result['failed'][:3]}")
        _wait_visible(admin, bindings)
        return len(bindings)
    finally:
        admin.close()


def _wait_visible(admin: Any, bindings: list, timeout: float = 30.0) -> None:
    """Until the broker reports every binding (its authorizer applies them a moment later
    than it answers the request), so a process started next finds its rights in place."""
    from kafka.admin import (
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePatternFilter,
    )

    kinds = {a.resource_pattern.resource_type for a in bindings}
    filters = [
        ACLFilter(
            None,
            None,
            ACLOperation.ANY,
            ACLPermissionType.ANY,
            ResourcePatternFilter(kind, None, ACLResourcePatternType.ANY),
        )
        for kind in kinds
    ]
    wanted = {(a.principal, a.operation, a.resource_pattern.resource_name) for a in bindings}
    deadline = time.monotonic() + timeout
    while True:
        found = [acl for f in filters for acl in admin.describe_acls(f)[0]]
        seen = {(a.principal, a.operation, a.resource_pattern.resource_name) for a in found}
        if wanted <= seen:
            time.sleep(1.0)  # every broker (here one) has applied what it reports
            return
        if time.monotonic() > deadline:
            raise BrokerError(f"{len(wanted - seen)} granted rights not visible after {timeout}s")
        time.sleep(0.3)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="kafka_local", description=__doc__)
    p.add_argument("action", choices=["fetch", "start", "stop", "status"])
    p.add_argument("--home", type=Path, default=DEFAULT_HOME)
    p.add_argument("--port", type=int, default=9092)
    p.add_argument(
        "--jars", type=Path, default=DEFAULT_JARS, help="jar folder (default: %(default)s)"
    )
    args = p.parse_args(argv)
    broker = LocalBroker(
        home=args.home, port=args.port, controller_port=args.port + 1, jars=args.jars
    )
    if args.action == "fetch":
        print(ensure_jars(args.jars))
    elif args.action == "start":
        broker.start()
        print(f"broker up at {broker.bootstrap} (pid {broker.running_pid()})")
    elif args.action == "stop":
        broker.stop()
    else:
        print("running" if broker.running_pid() else "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
