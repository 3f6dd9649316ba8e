"""WeightsCache: one download per URL across processes, LRU eviction, hub URL resolution."""

import multiprocessing
import os
import time

import pytest

from cog import Secret
from cog.weights import DownloadOptions, Endpoints, WeightsCache, WeightsError, resolve_source

OPTIONS = DownloadOptions(backoff_base=0.01)


def test_ensure_downloads_once_and_reuses(origin, payloads, tmp_path):
    cache = WeightsCache(tmp_path, options=OPTIONS)
    url = f"{origin.url}/f/model.bin"
    first = cache.ensure(url)
    assert first.read_bytes() == payloads["model.bin"]
    assert first.name == WeightsCache.key(url)
    calls = origin.requests["f/model.bin"]
    assert cache.ensure(url) == first
    assert origin.requests["f/model.bin"] == calls


def test_tar_urls_become_directories(origin, payloads, tmp_path):
    cache = WeightsCache(tmp_path, options=OPTIONS)
    entry = cache.ensure(f"{origin.url}/f/archive.tar.gz")
    assert (entry / "config.json").read_bytes() == b'{"layers": 2}'


def _ensure_in_process(root: str, url: str, queue: multiprocessing.Queue) -> None:
    path = WeightsCache(root, options=OPTIONS).ensure(url)
    queue.put(str(path))


def test_concurrent_processes_download_once(origin, payloads, tmp_path):
    origin.settings.rate = 20_000_000  # slow enough that the processes overlap
    url = f"{origin.url}/norange/model.bin"
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=_ensure_in_process, args=(str(tmp_path), url, queue))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    paths = {queue.get(timeout=5) for _ in workers}
    assert len(paths) == 1
    assert origin.requests["norange/model.bin"] == 1
    assert open(paths.pop(), "rb").read() == payloads["model.bin"]


def test_least_recently_used_entries_are_evicted_first(origin, payloads, tmp_path):
    for index in range(4):
        origin.files[f"w{index}.bin"] = os.urandom(100_000)
    cache = WeightsCache(tmp_path, options=OPTIONS, max_bytes=250_000)
    urls = [f"{origin.url}/f/w{index}.bin" for index in range(4)]
    cache.ensure(urls[0])
    time.sleep(0.01)
    cache.ensure(urls[1])
    time.sleep(0.01)
    cache.ensure(urls[0])  # now w1 is the least recently used
    time.sleep(0.01)
    cache.ensure(urls[2])  # 300 kB would exceed the cap: w1 goes
    assert not cache.path_for(urls[1]).exists()
    assert cache.path_for(urls[0]).exists() and cache.path_for(urls[2]).exists()
    time.sleep(0.01)
    cache.ensure(urls[3])
    assert not cache.path_for(urls[0]).exists()
    assert cache.size() <= 250_000


def test_hugging_face_urls(origin, payloads, tmp_path):
    hub = Endpoints(huggingface=origin.url, civitai=origin.url)
    source = resolve_source("hf://owner/repo/sub/lora.safetensors", hub, Secret("hf_abc"))
    assert source.url == f"{origin.url}/owner/repo/resolve/main/sub/lora.safetensors"
    assert source.headers == {"Authorization": "Bearer hf_abc"}
    blob = resolve_source(f"{origin.url}/owner/repo/blob/v1/x.safetensors", hub)
    assert blob.url == f"{origin.url}/owner/repo/resolve/v1/x.safetensors"
    assert resolve_source("hf://owner/repo@dev/x.bin", hub).url.endswith("/resolve/dev/x.bin")
    with pytest.raises(WeightsError, match="hf://owner/repo/path"):
        resolve_source("hf://owner", hub)


def test_civitai_and_replicate_urls(origin):
    hub = Endpoints(huggingface=origin.url, civitai="https://civitai.com")
    model = resolve_source(
        "https://civitai.com/models/123?modelVersionId=456", hub, civitai_token="t"
    )
    assert model.url == "https://civitai.com/api/download/models/456?token=t"
    direct = resolve_source("https://civitai.com/api/download/models/789", hub)
    assert direct.url == "https://civitai.com/api/download/models/789"
    replicate = resolve_source("https://replicate.delivery/abc/trained_model.tar", hub)
    assert replicate.archive and replicate.url.endswith("trained_model.tar")
    with pytest.raises(WeightsError, match="modelVersionId"):
        resolve_source("https://civitai.com/models/123", hub)


def test_hub_downloads_send_the_token(origin, payloads, tmp_path):
    origin.files["owner/repo/resolve/main/lora.safetensors"] = payloads["small.bin"]
    cache = WeightsCache(
        tmp_path, options=OPTIONS, endpoints=Endpoints(huggingface=f"{origin.url}/f")
    )
    path = cache.ensure("hf://owner/repo/lora.safetensors", hf_token=Secret("tok"))
    assert path.read_bytes() == payloads["small.bin"]
