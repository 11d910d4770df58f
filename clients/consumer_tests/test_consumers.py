"""Consumer-side contract tests: each client installed and used the way its README says.

For each language a fresh project outside clients/ (pytest's tmp_path) installs the client
as a user would (the README's install block, run verbatim), compiles the README's example
verbatim under strict checks (go vet, tsc --strict, javac -Werror, mypy --strict), runs it
against the live server that tools/with_livetokens.py started (LIVETOKENS_TARGET) and checks
what it prints: the scenario every client README shares.

Run through `make test-clients` (clients/consumer_tests/client.mk), or by hand:
    .venv/bin/python tools/with_livetokens.py -- .venv/bin/pytest clients/consumer_tests
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "clients"
INSTALL_MARKER = "<!-- consumer-test: install -->"
# Every README example prints this (the gRPC code in the language's own spelling).
OUTPUT = re.compile(
    r"name: auth_tokens/\.\.\.\(redacted\)\n"
    r"expires: (?P<expires>\S+)\n"
    r"fingerprint: hmac-sha256:[0-9a-f]{32}\n"
    r"rejected: (?P<code>INVALID_ARGUMENT|InvalidArgument) INVALID_REQUEST\n"
    r"violation: uses: must be 0 or more, got -1\n"
)
# Installing and compiling a client takes a while on a busy machine (Maven most of all).
TIMEOUT = 600


def readme(language: str) -> str:
    return (CLIENTS / language / "README.md").read_text()


def code_block(text: str, info: str) -> str:
    """The first fenced block with this info string."""
    match = re.search(rf"^```{re.escape(info)}\n(.*?)^```$", text, re.S | re.M)
    assert match, f"no ```{info} block"
    return match.group(1)


def install_block(text: str) -> str:
    """The ```sh block right after the consumer-test install marker."""
    start = text.index(INSTALL_MARKER) + len(INSTALL_MARKER)
    return code_block(text[start:], "sh")


def target() -> str:
    value = os.environ.get("LIVETOKENS_TARGET", "")
    assert value, "LIVETOKENS_TARGET is unset: run through tools/with_livetokens.py"
    return value


def consumer_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no make or venv variables, the live server's target."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"GOFLAGS", "VIRTUAL_ENV", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PYTHONPATH"}
    }
    venv_bin = str(pathlib.Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != venv_bin)
    env["LIVETOKENS_REPO"] = str(ROOT)
    env["LIVETOKENS_TARGET"] = target()
    env.update(extra)
    return env


def run(
    command: list[str], cwd: pathlib.Path, env: Mapping[str, str], timeout: float = TIMEOUT
) -> str:
    """Runs a command; on failure the assertion shows its output (compiler messages)."""
    result = subprocess.run(  # noqa: S603 - the test's own commands
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (
        f"{' '.join(command[:3])}... exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )
    return result.stdout


def shell(script: str, cwd: pathlib.Path, env: Mapping[str, str]) -> str:
    return run(["bash", "-euo", "pipefail", "-c", script], cwd, env)


def check_output(stdout: str) -> None:
    """The example's output is the shared scenario's, with an expiry 10 minutes from now."""
    match = OUTPUT.fullmatch(stdout)
    assert match, f"the example printed:\n{stdout}"
    expires = datetime.fromisoformat(re.sub(r"\.\d+", "", match["expires"]))
    assert expires.tzinfo is not None, "the expiry has no time zone"
    offset = expires - (datetime.now(UTC) + timedelta(minutes=10))
    assert abs(offset) < timedelta(minutes=2), f"expiry {expires} is {offset} off now + 10 min"


@pytest.mark.timeout(TIMEOUT)
def test_go_module_consumer(tmp_path: pathlib.Path) -> None:
    """A new Go module installs the client per the README, go vet passes, the example runs."""
    text = readme("go")
    env = consumer_env()
    run(["go", "mod", "init", "example.com/minter"], tmp_path, env)
    (tmp_path / "main.go").write_text(code_block(text, "go"))
    # The README's install lines, then what a user does next, in the same shell (GOPRIVATE).
    shell(install_block(text) + "go mod tidy\ngo vet ./...\ngo build -o mint .\n", tmp_path, env)
    assert "github.com/livetokens/livetokens/clients/go v0.1.0" in (tmp_path / "go.mod").read_text()
    check_output(run([str(tmp_path / "mint")], tmp_path, env))


@pytest.mark.timeout(TIMEOUT)
def test_python_wheel_consumer(tmp_path: pathlib.Path) -> None:
    """A fresh venv installs the built wheel per the README; mypy --strict passes; it runs."""
    text = readme("python")
    env = consumer_env()
    shell(install_block(text), tmp_path, env)
    wheel = next((tmp_path / "dist").glob("livetokens_client-*.whl"))
    assert "livetokens/client/py.typed" in run(
        [sys.executable, "-m", "zipfile", "-l", str(wheel)], tmp_path, env
    )
    example = tmp_path / "mint.py"
    example.write_text(code_block(text, "python"))
    python = tmp_path / ".venv/bin/python"
    run([str(python), "-m", "mypy", "--strict", "--no-incremental", str(example)], tmp_path, env)
    check_output(run([str(python), str(example)], tmp_path, env))


# The consumer's own TypeScript settings: strict, and stricter than `tsc --init`.
TSCONFIG = {
    "compilerOptions": {
        "target": "ES2022",
        "module": "NodeNext",
        "moduleResolution": "NodeNext",
        "types": ["node"],
        "strict": True,
        "noUncheckedIndexedAccess": True,
        "exactOptionalPropertyTypes": True,
        "skipLibCheck": False,
        "noEmitOnError": True,
        "outDir": "build",
    },
    "files": ["mint.ts"],
}


@pytest.mark.timeout(TIMEOUT)
def test_typescript_tarball_consumer(tmp_path: pathlib.Path) -> None:
    """A fresh ESM project installs the packed tarball per the README; strict tsc; it runs."""
    text = readme("typescript")
    # npm's cache (filled by `npm ci` in clients/typescript) serves the registry packages.
    env = consumer_env(
        npm_config_prefer_offline="true", npm_config_audit="false", npm_config_fund="false"
    )
    (tmp_path / "package.json").write_text(
        json.dumps({"name": "consumer", "private": True, "type": "module"})
    )
    shell(install_block(text), tmp_path, env)
    installed = tmp_path / "node_modules/@livetokens/client"
    assert (installed / "build/src/index.d.ts").is_file(), "the tarball has no declarations"
    assert not (installed / "build/test").exists(), "the tarball ships the tests"
    (tmp_path / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    (tmp_path / "mint.ts").write_text(code_block(text, "ts"))
    run([str(tmp_path / "node_modules/.bin/tsc"), "-p", "."], tmp_path, env)
    check_output(run(["node", "build/mint.js"], tmp_path, env))


CONSUMER_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId>
  <artifactId>minter</artifactId>
  <version>1</version>
  <properties>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
    <maven.compiler.release>17</maven.compiler.release>
  </properties>
  <dependencies>
{dependency}
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-compiler-plugin</artifactId>
        <version>3.14.0</version>
        <configuration>
          <compilerArgs><arg>-Xlint:all</arg><arg>-Werror</arg></compilerArgs>
        </configuration>
      </plugin>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-resources-plugin</artifactId>
        <version>3.3.1</version>
      </plugin>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>2.8</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


@pytest.mark.timeout(TIMEOUT)
def test_java_maven_consumer(tmp_path: pathlib.Path) -> None:
    """mvn install per the README, a fresh Maven project depends on it, javac -Werror, it runs."""
    text = readme("java")
    env = consumer_env()
    shell(install_block(text), tmp_path, env)
    (tmp_path / "pom.xml").write_text(CONSUMER_POM.format(dependency=code_block(text, "xml")))
    example = code_block(text, "java")
    package = re.search(r"^package ([\w.]+);", example, re.M)
    name = re.search(r"^public (?:final )?class (\w+)", example, re.M)
    assert package, "the example has no package"
    assert name, "the example has no public class"
    source = tmp_path / "src/main/java" / package[1].replace(".", "/") / f"{name[1]}.java"
    source.parent.mkdir(parents=True)
    source.write_text(example)
    mvn = ["mvn", "-B", "-q", "-ntp"]
    run([*mvn, "compile", "dependency:build-classpath", "-Dmdep.outputFile=cp.txt"], tmp_path, env)
    classpath = f"target/classes{os.pathsep}{(tmp_path / 'cp.txt').read_text().strip()}"
    check_output(run(["java", "-cp", classpath, f"{package[1]}.{name[1]}"], tmp_path, env))
