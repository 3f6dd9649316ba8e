"""cog.yaml loading: every key, and one precise problem (key, line, fix) per fault."""

import textwrap
from pathlib import Path

import pytest

from cog.config import ConfigError, default_image_name, load_config
from cog.errors import ConfigDoesNotExist


def project(tmp_path, yaml_text, files=("predict.py",)):
    for name in files:
        (tmp_path / name).write_text("")
    (tmp_path / "cog.yaml").write_text(textwrap.dedent(yaml_text).lstrip())
    return tmp_path


def problems(tmp_path, yaml_text, files=("predict.py",)):
    with pytest.raises(ConfigError) as info:
        load_config(project(tmp_path, yaml_text, files))
    return [(p.key, p.line, p.message, p.fix) for p in info.value.problems], str(info.value)


def test_a_complete_file_loads_every_key(tmp_path):
    config = load_config(
        project(
            tmp_path,
            """
            build:
              gpu: true
              cuda: "12.8"
              python_version: "3.12"
              python_requirements: requirements.txt
              system_packages:
                - ffmpeg
              run:
                - echo hello
                - command: pip install private
                  mounts:
                    - type: secret
                      id: netrc
                      target: /root/.netrc
              sdk_version: "0.16.0"
            predict: predict.py:Predictor
            train: train.py:train
            image: r8.im/me/model
            concurrency:
              max: 4
            environment:
              - HF_HOME=/src/hf
              - EMPTY=
            """,
            files=("predict.py", "train.py", "requirements.txt"),
        )
    )
    assert config.build.gpu and config.build.cuda == "12.8"
    assert config.build.python_version == "3.12"
    assert config.build.system_packages == ("ffmpeg",)
    assert [c.command for c in config.build.run] == ["echo hello", "pip install private"]
    assert config.build.run[1].mounts[0].target == "/root/.netrc"
    assert config.predict == "predict.py:Predictor" and config.train == "train.py:train"
    assert config.concurrency_max == 4
    assert config.environment == {"HF_HOME": "/src/hf", "EMPTY": ""}
    assert config.image == "r8.im/me/model"
    assert config.raw["build"]["gpu"] is True
    assert config.warnings == ()


def test_run_is_the_newer_name_of_predict(tmp_path):
    config = load_config(
        project(tmp_path, "build:\n  python_version: '3.11'\nrun: predict.py:Runner\n")
    )
    assert config.predict == "predict.py:Runner"


def test_an_empty_file_is_a_valid_empty_config(tmp_path):
    config = load_config(project(tmp_path, ""))
    assert config.predict is None and config.build.python_version == "3.13"


def test_a_missing_file_says_how_to_create_one(tmp_path):
    with pytest.raises(ConfigDoesNotExist, match="cog init"):
        load_config(tmp_path)


def test_python_version_rules(tmp_path):
    found, text = problems(tmp_path, 'build:\n  python_version: "3.9"\n')
    # Cog's words: its integration tests and users' scripts match them.
    message = 'invalid build.python_version "3.9": minimum supported Python version is 3.10'
    assert found == [("build.python_version", 2, message, "use 3.10–3.13")]
    assert f"cog.yaml:2: build.python_version: {message} (use 3.10–3.13)" in text
    found, _ = problems(tmp_path, 'build:\n  python_version: "2.7"\n')
    assert "minimum supported Python version is 3.10" in found[0][2]
    found, _ = problems(tmp_path, 'build:\n  python_version: "3.99"\n')
    assert found[0][2] == '"3.99" is not supported'
    found, _ = problems(tmp_path, "build:\n  python_version: 3.10\n")
    assert found == [
        (
            "build.python_version",
            2,
            "3.1 is a number, and YAML reads 3.10 as 3.1",
            'quote the version: python_version: "3.10"',
        )
    ]
    config = load_config(project(tmp_path, "build:\n  python_version: '3.10'\n"))
    assert config.build.python_version == "3.10"
    found, _ = problems(tmp_path, "build:\n  gpu: true\n")
    assert found == [("build", 1, "`python_version` is required", 'add `python_version: "3.12"`')]
    config = load_config(project(tmp_path, "build:\n  python_version: '3.12.1'\n"))
    assert config.build.python_version == "3.12"
    assert "patch version" in config.warnings[0]
    assert (
        load_config(project(tmp_path, "build:\n  python_version: 3.11\n")).build.python_version
        == "3.11"
    )


def test_packages_and_requirements_are_exclusive(tmp_path):
    found, _ = problems(
        tmp_path,
        """
        build:
          python_version: "3.12"
          python_requirements: requirements.txt
          python_packages:
            - torch==2.3.0
        """,
        files=("requirements.txt",),
    )
    assert found[0][0] == "build.python_packages"
    assert "both set" in found[0][2]


def test_missing_requirements_file(tmp_path):
    found, _ = problems(
        tmp_path, "build:\n  python_version: '3.12'\n  python_requirements: reqs.txt\n"
    )
    assert found[0][:2] == ("build.python_requirements", 3)
    assert "does not exist" in found[0][2]


def test_python_packages_is_deprecated_but_works(tmp_path):
    config = load_config(
        project(tmp_path, "build:\n  python_version: '3.12'\n  python_packages: [numpy==1.26.4]\n")
    )
    assert config.requirements_lines() == ["numpy==1.26.4"]
    assert "deprecated" in config.warnings[0]


def test_unknown_keys_are_reported_with_a_suggestion(tmp_path):
    found, _ = problems(
        tmp_path, "build:\n  python_version: '3.12'\n  python_verison: '3.12'\nprdict: x.py:P\n"
    )
    assert found == [
        ("build.python_verison", 3, "unknown key", "did you mean `python_version`?"),
        ("prdict", 4, "unknown key", "did you mean `predict`?"),
    ]


def test_every_problem_is_reported_in_one_run(tmp_path):
    found, text = problems(
        tmp_path,
        """
        build:
          python_version: "2.7"
          gpu: "yes"
          cuda: "10.2"
          run:
            - "echo a\\necho b"
            - mounts: []
        predict: predict:Predictor
        run: run.py:Runner
        concurrency:
          max: 0
        """,
    )
    keys = [key for key, *_ in found]
    assert keys == [
        "build.python_version",
        "build.gpu",
        "build.cuda",
        "build.run[0]",
        "build.run[1]",
        "predict",
        "run",
        "run",
        "concurrency.max",
    ]
    assert "cog.yaml has 9 problems:" in text
    lines = {key: line for key, line, *_ in found}
    assert lines["build.gpu"] == 3 and lines["concurrency.max"] == 11


def test_reference_rules(tmp_path):
    found, _ = problems(tmp_path, "predict: predict.py:Predictor\nrun: predict.py:Runner\n")
    assert ("run", 2, "only one of `run` or `predict` can be set", "remove one") in found
    found, _ = problems(tmp_path, "predict: missing.py:Predictor\n")
    assert "missing.py does not exist" in found[0][2]
    found, _ = problems(tmp_path, "train: train:Trainer\n")
    assert found[0][2] == "\"train:Trainer\" must be in the form 'train.py:train'"


def test_mount_rules(tmp_path):
    found, _ = problems(
        tmp_path,
        """
        build:
          python_version: "3.12"
          run:
            - command: echo
              mounts:
                - type: cache
                  id: x
                  target: /x
        """,
    )
    assert found[0][0] == "build.run[0].mounts[0].type"
    assert found[0][3] == "use `type: secret`"


def test_environment_rules(tmp_path):
    found, _ = problems(
        tmp_path,
        """
        environment:
          - GOOD=1
          - GOOD=2
          - 1BAD=x
          - PATH=/bin
          - CUDA_HOME=/x
        """,
    )
    assert [(k, m) for k, _, m, _ in found] == [
        ("environment[1]", "GOOD is set twice"),
        ("environment[2]", '"1BAD=x" is not NAME=value'),
        ("environment[3]", "PATH is reserved by Cog and cannot be set here"),
        ("environment[4]", "CUDA_HOME is reserved by Cog and cannot be set here"),
    ]


def test_model_and_weights_rules(tmp_path):
    found, _ = problems(tmp_path, "model: r8.im/me/m:v1\nimage: x\n")
    assert [m for _, _, m, _ in found] == [
        "must be a bare repository — tags and digests are not allowed",
        "`model` and `image` cannot both be set",
    ]
    found, _ = problems(
        tmp_path,
        """
        weights:
          - name: Base
            target: /src/w
            source: {uri: hf://a/b}
          - name: lora
            target: /src/w/lora
            source:
              - uri: ftp://x/y
                include: ["!x"]
        """,
    )
    messages = [(k, m) for k, _, m, _ in found]
    assert messages[0] == ("weights", "weights require `model` to be set")
    assert ("weights[0].name", '"Base" is not a valid weight name') in messages
    assert ("weights[1].source[0].uri", '"ftp://x/y" has an unsupported scheme') in messages
    assert ("weights[1].source[0].include", '"!x" is not a valid pattern') in messages


def test_valid_weights(tmp_path):
    config = load_config(
        project(
            tmp_path,
            """
            model: r8.im/me/model
            weights:
              - name: base
                target: /src/weights/base
                source: {uri: "hf://owner/repo", include: ["*.safetensors"]}
              - name: lora
                target: /src/weights/lora
                source: [{uri: "https://x.test/l.tar"}]
            """,
        )
    )
    assert [w.name for w in config.weights] == ["base", "lora"]
    assert config.weights[0].sources[0].include == ("*.safetensors",)


def test_yaml_syntax_errors_and_duplicate_keys(tmp_path):
    found, _ = problems(tmp_path, "build:\n  python_version: '3.12'\n   gpu: [\n")
    assert found[0][0] == "" and found[0][1] == 3 and found[0][2].startswith("invalid YAML")
    found, _ = problems(tmp_path, "image: a\nimage: b\n")
    assert found == [("image", 2, "is set twice", "keep one of the two")]


def test_wrong_types(tmp_path):
    found, _ = problems(tmp_path, "build: [1]\n")
    assert found == [("build", 1, "must be a mapping of keys, got [1]", None)]
    found, _ = problems(tmp_path, "build:\n  python_version: '3.12'\n  system_packages: ffmpeg\n")
    assert found[0][:3] == ("build.system_packages", 3, 'must be a list of strings, got "ffmpeg"')


def test_concurrency_default_target_is_ignored_with_a_warning(tmp_path):
    config = load_config(project(tmp_path, "concurrency:\n  max: 2\n  default_target: 1\n"))
    assert config.concurrency_max == 2
    assert "ignored" in config.warnings[0]


def test_concurrency_above_one_needs_python_3_11_as_in_cog(tmp_path):
    found, _ = problems(tmp_path, 'build:\n  python_version: "3.10"\nconcurrency:\n  max: 2\n')
    assert found == [
        (
            "concurrency.max",
            4,
            'invalid concurrency.max "2": concurrency requires Python 3.11 or higher',
            'set build.python_version to "3.11" or newer, or concurrency.max to 1',
        )
    ]
    single = 'build:\n  python_version: "3.10"\nconcurrency:\n  max: 1\n'
    assert load_config(project(tmp_path, single)).concurrency_max == 1
    newer = 'build:\n  python_version: "3.11"\nconcurrency:\n  max: 2\n'
    assert load_config(project(tmp_path, newer)).concurrency_max == 2


def test_default_image_name():
    assert default_image_name("My Model_v2!") == "cog-my-modelv2"
    assert len(default_image_name("x" * 100)) == 30


def test_cog_schema_reads_through_problems_the_schema_does_not_depend_on(tmp_path):
    import subprocess
    import sys

    (tmp_path / "predict.py").write_text(
        "from cog import BasePredictor\n"
        "class Predictor(BasePredictor):\n"
        "    def predict(self, x: str) -> str: ...\n"
    )
    (tmp_path / "cog.yaml").write_text(
        'build:\n  python_version: "3.8"\n  fast: true\n  python_requirements: nope.txt\n'
        "  wat: 1\npredict: predict.py:Predictor\n"
    )
    cog = [str(Path(sys.executable).parent / "cog")]
    schema = subprocess.run(
        [*cog, "schema", "--static"], cwd=tmp_path, capture_output=True, text=True
    )
    assert schema.returncode == 0, schema.stderr
    assert '"x"' in schema.stdout
    for words in (
        "minimum supported Python version is 3.10",
        "nope.txt",
        "build.wat: unknown key",
        "build.fast",
    ):
        assert words in schema.stderr
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path)
    assert "python_version" in str(refused.value) and "nope.txt" in str(refused.value)
