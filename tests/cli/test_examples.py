"""Every example through the real CLI on the local runtime: outputs, files, errors."""

import json
import struct
import zlib

from .conftest import run_cog


def png(width: int, height: int) -> bytes:
    """A real RGB PNG (solid colour), made without Pillow."""
    raw = b"".join(b"\x00" + bytes([200, 30, 30]) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_hello_world(example):
    project = example("hello-world")
    result = run_cog("predict", "-i", "name=pycog", "--runtime", "local", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello, pycog!\n"
    assert "Runtime: local" in result.stderr
    again = run_cog("run", "--runtime", "local", "--progress", "quiet", cwd=project)
    assert again.stdout == "Hello, World!\n"
    assert "Building the environment" not in again.stderr  # cached by its spec


def test_validation_errors_are_cogs_words_one_line_per_input(example):
    project = example("image-filter")
    unknown = run_cog(
        "run", "-i", "width=wide", "-i", "colour=red", "--runtime", "local", cwd=project
    )  # fmt: skip
    assert unknown.returncode == 1
    # Unknown names come first, alone (as Cog: a typo fails before anything is read).
    assert 'unknown input "colour"; valid inputs are: filter, image, width' in unknown.stderr
    result = run_cog(
        "run", "-i", "width=wide", "-i", "filter=sepia", "--runtime", "local", cwd=project
    )
    assert result.returncode == 1
    assert "input validation failed:" in result.stderr
    assert '- missing required input "image"' in result.stderr
    assert '- invalid input "width": expected integer, got string' in result.stderr
    assert (
        '- invalid input "filter": must be one of: grayscale, blur, edges, invert' in result.stderr
    )
    assert "Runtime:" not in result.stderr  # refused before any environment starts


def test_image_model_with_file_input_and_output(example):
    project = example("image-filter")
    (project / "in.png").write_bytes(png(8, 6))
    result = run_cog(
        "predict", "-i", "image=@in.png", "-i", "filter=grayscale", "-i", "width=4",
        "-o", "out.png", "--runtime", "local", cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = (project / "out.png").read_bytes()
    assert data.startswith(b"\x89PNG")
    assert struct.unpack(">II", data[16:24]) == (4, 3)


def test_text_generator_trains_then_streams(example):
    project = example("text-generator")
    trained = run_cog(
        "train",
        "-i",
        "text=@corpus.txt",
        "-i",
        "order=2",
        "-o",
        "weights.json",
        "--runtime",
        "local",
        cwd=project,
    )
    assert trained.returncode == 0, trained.stderr
    weights = json.loads((project / "weights.json").read_text())
    assert weights["order"] == 2 and weights["counts"]
    result = run_cog(
        "predict", "-i", "prompt=Once", "-i", "length=40", "-e", "COG_WEIGHTS=weights.json",
        "--runtime", "local", cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = result.stdout.rstrip("\n")
    assert len(text) == 40
    assert set(text) <= set((project / "corpus.txt").read_text())


def test_async_predictor_and_json_inputs(example):
    project = example("async-echo")
    result = run_cog(
        "predict",
        "--json",
        "@-",
        "--runtime",
        "local",
        cwd=project,
        stdin='{"text": "hi", "delay": 0}',
    )
    assert result.returncode == 0, result.stderr
    # `--json` prints the whole response, as Cog does
    response = json.loads(result.stdout)
    assert (response["status"], response["output"], response["error"]) == (
        "succeeded",
        "echo: hi",
        "",
    )


def test_sentence_embeddings(example):
    project = example("sentence-embedding")
    result = run_cog(
        "predict", "-i", "sentences=a cat\nthe cat", "--runtime", "local", cwd=project, timeout=1800
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = json.loads(result.stdout)
    assert output["dimensions"] == 384
    first, second = output["embeddings"]
    assert abs(sum(x * x for x in first) - 1) < 1e-3
    assert sum(a * b for a, b in zip(first, second)) > 0.5  # similar sentences


def test_schema_command(example):
    project = example("hello-world")
    static = run_cog("schema", "--static", cwd=project)
    runtime = run_cog("schema", "--runtime", "local", cwd=project)
    assert static.returncode == 0 and static.stdout == runtime.stdout
    assert (
        json.loads(static.stdout)["components"]["schemas"]["Input"]["properties"]["name"]["default"]
        == "World"
    )
    (project / "predict.py").write_text(
        "from cog import BasePredictor\nclass Predictor(BasePredictor):\n    def predict(self, x) -> str: ...\n"
    )
    broken = run_cog("schema", "--runtime", "local", cwd=project)
    assert broken.returncode == 1 and "input 'x' has no type annotation" in broken.stderr


def test_exec_runs_in_the_environment(example):
    project = example("image-filter")
    result = run_cog(
        "exec",
        "--runtime",
        "local",
        "python",
        "-c",
        "import PIL, sys; print(PIL.__version__, sys.prefix)",
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    version, prefix = result.stdout.split()
    assert version == "12.1.0" and "envs" in prefix


def test_setup_failure_shows_the_logs(example, tmp_path):
    project = example("hello-world")
    (project / "predict.py").write_text(
        "from cog import BasePredictor\n"
        "class Predictor(BasePredictor):\n"
        "    def setup(self):\n        raise RuntimeError('no weights here')\n"
        "    def predict(self) -> str:\n        return ''\n"
    )
    result = run_cog("predict", "--runtime", "local", cwd=project)
    assert result.returncode == 1
    assert "model setup failed" in result.stderr and "no weights here" in result.stderr


def test_data_url_outputs_in_lists(example, tmp_path):
    project = example("hello-world")
    (project / "predict.py").write_text(
        "from cog import BasePredictor, Path\n"
        "class Predictor(BasePredictor):\n"
        "    def predict(self, n: int = 2) -> list[Path]:\n"
        "        out = []\n"
        "        for i in range(n):\n"
        "            p = Path(f'/tmp/pycog-cli-{i}.txt'); p.write_text(str(i)); out.append(p)\n"
        "        return out\n"
    )
    result = run_cog("predict", "--runtime", "local", "-o", str(tmp_path / "res"), cwd=project)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "res.0.txt").read_text() == "0" and (
        tmp_path / "res.1.txt"
    ).read_text() == "1"
