"""Signed manifests (optional): with a public key, a re-hashed or unsigned artifact is refused."""

from __future__ import annotations

import base64
import functools
import shutil
from pathlib import Path

import pytest
from scorer_support import PRIMARY

pytest.importorskip("cryptography")
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from amlstack.artifact.manifest import (
    ArtifactError,
    load_public_key,
    sign_manifest,
    write_manifest,
)
from amlstack.artifact.reader import Model
from amlstack_scorer.settings import Settings, SettingsError


def _keypair(tmp: Path, name: str) -> tuple[Path, Path]:
    key = ed25519.Ed25519PrivateKey.generate()
    private = tmp / f"{name}.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = tmp / f"{name}.pub.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def _tamper(folder: Path) -> None:
    """Change a file, then re-hash the manifest as an attacker with write access would."""
    sample = folder / "sample_input.json"
    sample.write_text(sample.read_text().replace("}", ', "x": 1}', 1))
    write_manifest(folder)


@pytest.fixture
def keys(tmp_path) -> tuple[Path, Path]:
    return _keypair(tmp_path, "signer")


@pytest.fixture
def signed(scorer_artifact, tmp_path, keys) -> Path:
    folder = tmp_path / "artifact"
    shutil.copytree(scorer_artifact, folder)
    sign_manifest(folder, keys[0])
    return folder


def test_a_signed_artifact_loads_with_its_public_key(signed, keys):
    Model(signed, public_key=load_public_key(str(keys[1])))
    Model(signed)  # without a key the signature is not checked (nor is it an unlisted file)


def test_a_rehashed_artifact_is_refused(signed, keys):
    _tamper(signed)  # and re-hash: the manifest check alone would pass
    Model(signed)
    with pytest.raises(ArtifactError, match=r"MANIFEST\.sig does not verify"):
        Model(signed, public_key=load_public_key(str(keys[1])))


def test_another_key_or_no_signature_is_refused(signed, scorer_artifact, tmp_path):
    _, other = _keypair(tmp_path, "other")
    with pytest.raises(ArtifactError, match="does not verify"):
        Model(signed, public_key=load_public_key(other.read_text()))
    with pytest.raises(ArtifactError, match="is not signed"):
        Model(scorer_artifact, public_key=load_public_key(str(other)))


def test_the_key_may_be_pem_text_a_path_or_base64(keys):
    pem = keys[1].read_text()
    raw = load_public_key(pem).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    for value in (pem, str(keys[1]), base64.b64encode(raw).decode()):
        assert (
            load_public_key(value).public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            == raw
        )


def test_a_bad_key_setting_names_the_variable(tmp_path):
    rsa_pub = tmp_path / "rsa.pem"
    rsa_pub.write_bytes(
        rsa.generate_private_key(65537, 2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for value in ("not a key", str(rsa_pub)):
        env = {"AMLSTACK_PRIMARY_KEY": PRIMARY, "AMLSTACK_MANIFEST_PUBLIC_KEY": value}
        with pytest.raises(SettingsError, match=r"^AMLSTACK_MANIFEST_PUBLIC_KEY: "):
            Settings.from_env(env)


def test_the_scorer_refuses_a_rehashed_artifact_at_start(signed, keys, tmp_path):
    from test_gunicorn import start, stop

    proc, _ = start(signed, tmp_path, AMLSTACK_MANIFEST_PUBLIC_KEY=str(keys[1]))
    stop(proc)
    _tamper(signed)
    with pytest.raises(AssertionError, match=r"MANIFEST\.sig does not verify"):
        start(signed, tmp_path, AMLSTACK_MANIFEST_PUBLIC_KEY=str(keys[1]))


def test_the_writer_signs_when_given_a_key(tmp_path, keys, monkeypatch):
    import scorer_artifact_factory

    from amlstack.artifact.writer import write_artifact

    signing = functools.partial(write_artifact, signing_key=keys[0])
    monkeypatch.setattr(scorer_artifact_factory, "write_artifact", signing)
    folder = scorer_artifact_factory.build(tmp_path / "out")
    assert (folder / "MANIFEST.sig").is_file()
    Model(folder, public_key=load_public_key(str(keys[1])))


def test_train_checks_its_sign_key_before_training(tmp_path, capsys):
    from amlstack.cli import main

    data = Path(__file__).resolve().parents[3] / "data" / "bankmarketing_train.csv"
    args = ["train", "--data", str(data), "--out", str(tmp_path), "--max-iter", "1"]
    with pytest.raises(SystemExit) as info:
        main([*args, "--sign-key", str(tmp_path / "nope.pem")])
    assert info.value.code == 2
    assert "--sign-key" in " ".join(capsys.readouterr().err.split())
    assert not any(tmp_path.iterdir())
