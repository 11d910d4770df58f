"""The Dockerfile: hadolint-clean, and built the way the deploy kit promises (pinned base by
build argument, every install step in deploy/install.sh, a final stage without compilers,
non-root, secrets only from files)."""

from __future__ import annotations

import re
import subprocess

from deploy_support import REPO, venv_tool

DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage (the part before the first FROM dropped)."""
    result: list[list[tuple[str, str]]] = []
    for item in instructions():
        if item[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(item)
    return result


def test_hadolint_passes() -> None:
    """hadolint (pinned in pyproject.toml) reports nothing on the Dockerfile."""
    result = subprocess.run(
        [str(venv_tool("hadolint")), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_can_fail() -> None:
    """hadolint flags a Dockerfile with an unpinned base and apt without versions."""
    bad = "FROM python:latest\nRUN apt-get update && apt-get install -y gcc\n"
    result = subprocess.run(
        [str(venv_tool("hadolint")), "--no-color", "-"],
        input=bad,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout


def test_base_image_is_pinned_by_digest_through_a_build_argument() -> None:
    """Both stages build FROM ${BASE_IMAGE}, whose default is python:3.11-slim@sha256."""
    args = dict(rest.partition("=")[::2] for word, rest in instructions() if word == "ARG")
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", args["BASE_IMAGE"])
    assert [s[0][1].split()[0] for s in stages()] == ["${BASE_IMAGE}", "${BASE_IMAGE}"]


def test_every_install_step_is_the_install_script() -> None:
    """The only RUN is deploy/install.sh (what CI runs as a non-root user)."""
    runs = [rest for word, rest in instructions() if word == "RUN"]
    assert len(runs) == 1
    assert "deploy/install.sh /opt/livetokens" in runs[0]


def test_final_stage_is_non_root_without_compilers_or_secrets() -> None:
    """The final stage copies the venv only, runs as a numeric non-root user, installs
    nothing, sets no secret, and starts `livetokens serve`."""
    final = stages()[-1]
    words = [w for w, _ in final]
    assert "RUN" not in words, "the final stage must not install anything (no compilers)"
    copies = [rest for w, rest in final if w == "COPY"]
    assert copies == ["--from=build /opt/livetokens /opt/livetokens"]
    user = [rest for w, rest in final if w == "USER"]
    assert len(user) == 1
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user[0])
    env = " ".join(rest for w, rest in final if w == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    names = re.findall(r"(\w+)=", env)
    assert names
    assert not [n for n in names if n.endswith(("_KEY", "_TOKEN", "_SECRET", "_PASSWORD"))]
    assert [rest for w, rest in final if w == "ENTRYPOINT"] == ['["livetokens", "serve"]']
    assert words.index("USER") < words.index("ENTRYPOINT")
