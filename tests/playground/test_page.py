"""The playground page in headless Chromium: what a person sees when they use it.

Controls are found by their labels, as a person (or an assistive tool) finds them.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from .conftest import model_and_playground, wait_for_setup

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install -e '.[dev]'"
)
Page, expect = sync_api.Page, sync_api.expect

pytestmark = pytest.mark.slow

SEEN = 15_000  # ms for the page to show a result (a poll with a deadline, not a timing claim)


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("body[data-ready=true]")).to_be_attached(timeout=SEEN)


def status(page: Page):
    return page.get_by_label("Prediction status")


def test_text_streams_token_by_token(page: Page, writer: str) -> None:
    """1. type a prompt and a word count; 2. Run (auto: the model streams, so SSE);
    3. the first words show while the prediction is still processing; 4. then all of them,
    the logs, predict_time, the timeline and the curl command."""
    open_page(page, writer)
    expect(page.get_by_label("Model health")).to_have_text("READY", timeout=SEEN)
    page.get_by_label("prompt").fill("cat")
    page.get_by_label("words").fill("4")
    page.get_by_label("delay").fill("0.4")
    page.get_by_role("button", name="Run").click()
    output = page.get_by_label("Prediction output")
    expect(output).to_contain_text("cat1", timeout=SEEN)
    assert status(page).inner_text() == "processing"
    assert "cat4" not in output.inner_text()
    expect(status(page)).to_have_text("succeeded", timeout=SEEN)
    expect(output).to_have_text("cat1 cat2 cat3 cat4 ")
    expect(page.get_by_label("Logs", exact=True)).to_contain_text("writing 4 words")
    expect(page.get_by_label("Metrics")).to_contain_text("predict_time")
    page.get_by_text("Timeline", exact=True).click()
    expect(page.get_by_label("Timeline")).to_contain_text("output 4")
    page.get_by_text("curl", exact=True).click()
    expect(page.get_by_label("curl command")).to_be_visible()
    curl = page.get_by_label("curl command").inner_text()
    assert (
        "Accept: text/event-stream" in curl and "/predictions" in curl and '"prompt":"cat"' in curl
    )


def test_header_shows_health_versions_and_setup_logs(page: Page, writer: str) -> None:
    open_page(page, writer)
    expect(page.get_by_label("Model health")).to_have_text("READY", timeout=SEEN)
    expect(page.locator("#versions")).to_contain_text("python_sdk 0.23.1")
    page.get_by_text("Setup logs").click()
    expect(page.get_by_label("Setup logs")).to_contain_text("warming up the pen")


def test_a_value_out_of_bounds_shows_its_message_and_does_not_run(page: Page, writer: str) -> None:
    """1. words=20 (the bound is 10): the message shows as it is typed; 2. Run sends nothing;
    3. a missing required prompt is marked too; 4. fixed, with a choice, it runs."""
    open_page(page, writer)
    expect(page.get_by_label("Model health")).to_have_text("READY", timeout=SEEN)
    page.get_by_label("words").fill("20")
    expect(page.get_by_text("words must be less than or equal to 10")).to_be_visible()
    expect(page.get_by_label("words")).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("prompt is required")).to_be_visible()
    expect(status(page)).to_have_text("fix the input first")
    assert page.get_by_label("Timeline").locator("li").count() == 0
    page.get_by_label("prompt").fill("dog")
    page.get_by_label("words").fill("2")
    page.get_by_label("tone").select_option("loud")
    page.get_by_role("checkbox", name="exclaim").check()
    expect(page.get_by_text("words must be")).to_have_count(0)
    page.get_by_role("button", name="Run").click()
    expect(status(page)).to_have_text("succeeded", timeout=SEEN)
    expect(page.get_by_label("Prediction output")).to_have_text("DOG1! DOG2! ")


def test_the_servers_422_shows_beside_its_field(page: Page, writer: str) -> None:
    """The JSON tab skips the page's own checks, so the server's 422 is what the person sees."""
    open_page(page, writer)
    page.get_by_role("tab", name="JSON").click()
    page.get_by_label("Input JSON").fill('{"prompt": "x", "tone": "shouty"}')
    page.get_by_role("button", name="Run").click()
    expect(status(page)).to_have_text("invalid input", timeout=SEEN)
    page.get_by_role("tab", name="Form").click()
    expect(page.locator("#input-tone-error")).to_contain_text("tone:")
    expect(page.get_by_label("Raw response")).to_contain_text("detail", use_inner_text=False)


def test_json_tab_and_form_stay_in_step(page: Page, writer: str) -> None:
    open_page(page, writer)
    page.get_by_label("prompt").fill("owl")
    page.get_by_role("tab", name="JSON").click()
    document = page.get_by_label("Input JSON")
    expect(document).to_have_value(re.compile(r'"prompt": "owl"'))
    document.fill('{"prompt": "bat", "words": 7}')
    page.get_by_role("tab", name="Form").click()
    expect(page.get_by_label("prompt")).to_have_value("bat")
    expect(page.get_by_label("words")).to_have_value("7")


def test_a_secret_is_a_password_field_and_reaches_the_model(page: Page, writer: str) -> None:
    open_page(page, writer)
    secret = page.get_by_label("api_key")
    expect(secret).to_have_attribute("type", "password")
    page.get_by_label("prompt").fill("key")
    secret.fill("sesame")
    page.keyboard.press("Control+Enter")
    expect(status(page)).to_have_text("succeeded", timeout=SEEN)
    expect(page.get_by_label("Logs", exact=True)).to_contain_text("key of 6 characters")


def test_a_failing_prediction_shows_its_error(page: Page, writer: str) -> None:
    open_page(page, writer)
    page.get_by_label("prompt").fill("boom")
    page.get_by_role("button", name="Run").click()
    expect(status(page)).to_have_text("failed", timeout=SEEN)
    expect(page.get_by_role("alert").filter(has_text="Error:")).to_contain_text(
        "the writer refuses to write about boom"
    )


@pytest.mark.parametrize("mode", ["auto", "sync"])
def test_cancel_stops_a_running_prediction(page: Page, writer: str, mode: str) -> None:
    """Streamed (the first word shows) or sync (the header says BUSY): Cancel ends it."""
    open_page(page, writer)
    page.get_by_label("prompt").fill("slow")
    page.get_by_label("words").fill("10")
    page.get_by_label("delay").fill("1")
    page.get_by_label("Run mode").select_option(mode)
    page.get_by_role("button", name="Run").click()
    if mode == "auto":
        expect(page.get_by_label("Prediction output")).to_contain_text("slow1", timeout=SEEN)
    else:
        expect(page.get_by_label("Model health")).to_have_text("BUSY", timeout=SEEN)
    page.get_by_role("button", name="Cancel").click()
    expect(status(page)).to_have_text("canceled", timeout=SEEN)
    expect(page.get_by_role("button", name="Cancel")).to_be_hidden()
    expect(page.get_by_role("button", name="Run")).to_be_enabled()
    assert "slow10" not in page.get_by_label("Prediction output").inner_text()


def test_async_run_with_webhooks_relayed_to_the_page(page: Page, writer: str) -> None:
    open_page(page, writer)
    page.get_by_label("prompt").fill("hook")
    page.get_by_label("Run mode").select_option("async")
    page.get_by_role("button", name="Run").click()
    expect(status(page)).to_have_text("succeeded", timeout=SEEN)
    expect(page.get_by_label("Prediction output")).to_have_text("hook1 hook2 hook3 ")
    timeline = page.get_by_label("Timeline")
    expect(timeline).to_contain_text(
        f"accepted (202); webhooks to {writer}/relay/webhook/", use_inner_text=False
    )
    expect(timeline).to_contain_text("webhook: succeeded", use_inner_text=False)
    curl = page.get_by_label("curl command").text_content() or ""
    assert "Prefer: respond-async" in curl


def test_a_file_input_and_an_image_output(page: Page, painter: str, tmp_path) -> None:
    """1. pick a 40-byte file; 2. Run (sync: the model does not stream); 3. the image shows,
    40 bytes × scale 3 = 120 pixels wide; 4. the custom metric is listed."""
    source = tmp_path / "forty.bin"
    source.write_bytes(b"x" * 40)
    open_page(page, painter)
    page.get_by_label("image", exact=True).set_input_files(str(source))
    page.get_by_label("scale").fill("3")
    expect(page.get_by_label("Input JSON")).to_have_value(re.compile("data:"), timeout=SEEN)
    page.get_by_role("button", name="Run").click()
    expect(status(page)).to_have_text("succeeded", timeout=SEEN)
    image = page.get_by_role("img", name="output image")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") == 120
    expect(page.get_by_label("Metrics")).to_contain_text("bytes_read")
    expect(page.get_by_label("Logs", exact=True)).to_contain_text("read 40 bytes")


def test_a_list_added_item_by_item_and_a_gallery_of_files(page: Page, album: str) -> None:
    """1. add two names one at a time; 2. Run; 3. the output is a gallery: two images (in the
    order given), a playable audio clip and a download link for the text file."""
    open_page(page, album)
    for index, name in enumerate(["ant", "bee"], start=1):
        page.get_by_role("button", name="Add names item").click()
        page.get_by_label(f"names item {index}", exact=True).fill(name)
    expect(page.get_by_label("Input JSON")).to_have_value(re.compile(r'"ant",\s+"bee"'))
    page.get_by_role("button", name="Run").click()
    expect(status(page)).to_have_text("succeeded", timeout=SEEN)
    gallery = page.get_by_label("Prediction output").get_by_role("listitem")
    expect(gallery).to_have_count(4)
    images = page.get_by_role("img", name="output image")
    expect(images).to_have_count(2)
    assert [images.nth(i).evaluate("img => img.naturalWidth") for i in range(2)] == [8, 16]
    audio = page.get_by_label("output audio")
    expect(audio).to_have_attribute("controls", "")
    assert audio.evaluate("a => a.canPlayType('audio/wav')") != ""
    expect(page.get_by_role("link", name="Download output.txt")).to_have_attribute(
        "download", "output.txt"
    )


# A real WebM made by the browser itself (a canvas recorded by MediaRecorder): no video tool
# is needed to make the fixture, and the clip is one Chromium can certainly decode.
RECORD_CLIP = """async () => {
    const canvas = Object.assign(document.createElement("canvas"), { width: 32, height: 24 });
    const paint = canvas.getContext("2d");
    const recorder = new MediaRecorder(canvas.captureStream(10), { mimeType: "video/webm" });
    const parts = [];
    recorder.ondataavailable = (event) => parts.push(event.data);
    const done = new Promise((resolve) => (recorder.onstop = resolve));
    recorder.start();
    for (let frame = 0; frame < 5; frame++) {
        paint.fillStyle = `rgb(${frame * 50}, 0, 0)`;
        paint.fillRect(0, 0, 32, 24);
        await new Promise((resolve) => setTimeout(resolve, 60));
    }
    recorder.stop();
    await done;
    const bytes = new Uint8Array(await new Blob(parts).arrayBuffer());
    return btoa(String.fromCharCode(...bytes));
}"""


def test_a_video_output_is_playable(page: Page, projector: str, tmp_path) -> None:
    """1. a WebM clip (32×24) picked as the input; 2. Run; 3. the output is a video element
    with controls whose metadata loads: the browser decoded the clip the model returned."""
    open_page(page, projector)
    clip = tmp_path / "clip.webm"
    clip.write_bytes(base64.b64decode(page.evaluate(RECORD_CLIP)))
    page.get_by_label("clip", exact=True).set_input_files(str(clip))
    expect(page.get_by_label("Input JSON")).to_have_value(re.compile("data:"), timeout=SEEN)
    page.get_by_role("button", name="Run").click()
    expect(status(page)).to_have_text("succeeded", timeout=SEEN)
    video = page.get_by_label("output video")
    expect(video).to_have_attribute("controls", "")
    size = video.evaluate(
        """v => new Promise((resolve, reject) => {
            const seen = () => resolve([v.videoWidth, v.videoHeight]);
            if (v.readyState >= 1) seen();
            v.addEventListener("loadedmetadata", seen);
            v.addEventListener("error", () => reject(new Error("cannot play: " + v.error?.code)));
        })"""
    )
    assert size == [32, 24]


def test_deprecated_inputs_are_folded_away(page: Page, writer: str) -> None:
    open_page(page, writer)
    old = page.get_by_label("old_style")
    expect(old).to_be_hidden()
    page.get_by_text("Deprecated inputs").click()
    expect(old).to_be_visible()


def test_a_file_dropped_onto_its_control_is_sent(page: Page, painter: str) -> None:
    """A drop (a real DataTransfer holding a 10-byte file) fills the input like the picker."""
    open_page(page, painter)
    page.locator("#field-image").evaluate(
        """field => {
            const data = new DataTransfer();
            data.items.add(new File(["0123456789"], "ten.bin"));
            field.querySelector("div").dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true }));
        }"""
    )
    expect(page.get_by_label("Input JSON")).to_have_value(re.compile("data:"), timeout=SEEN)
    page.get_by_role("button", name="Run").click()
    expect(status(page)).to_have_text("succeeded", timeout=SEEN)
    image = page.get_by_role("img", name="output image")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") == 20


def test_health_is_live_from_setup_to_a_structured_output(page: Page, tmp_path) -> None:
    """1. the page opens while the model sets up: STARTING, waiting for the schema;
    2. setup is let go on: the header turns READY by itself and the form appears;
    3. a structured output is shown as pretty JSON."""
    with model_and_playground("sleepy", tmp_path) as url:
        page.goto(url)
        expect(page.get_by_label("Model health")).to_have_text("STARTING", timeout=SEEN)
        expect(page.locator("#form")).to_contain_text("Waiting for the model's schema")
        (tmp_path / "sleepy" / "release").touch()
        expect(page.get_by_label("Model health")).to_have_text("READY", timeout=SEEN)
        page.get_by_text("Setup logs").click()
        expect(page.get_by_label("Setup logs")).to_contain_text("loading weights")
        page.get_by_label("words").fill("7")
        page.get_by_role("button", name="Run").click()
        expect(status(page)).to_have_text("succeeded", timeout=SEEN)
        shown = page.get_by_label("Prediction output").inner_text()
        assert json.loads(shown) == {"words": 7, "loud": True}
        assert '\n  "words": 7' in shown  # pretty-printed, not one line


def test_a_failed_setup_is_shown_in_the_header(page: Page, tmp_path) -> None:
    """The header says SETUP_FAILED and opens the setup logs, which hold the error."""
    with model_and_playground("broken", tmp_path) as url:
        page.goto(url)
        expect(page.get_by_label("Model health")).to_have_text("SETUP_FAILED", timeout=SEEN)
        expect(page.get_by_label("Setup logs")).to_be_visible()
        expect(page.get_by_label("Setup logs")).to_contain_text("weights file is missing")


@pytest.mark.reference
@pytest.mark.parametrize("mode", ["auto", "async"])
def test_the_page_drives_the_reference_cog_server(page: Page, tmp_path, mode: str) -> None:
    """The same page in front of Cog 0.23.1's own server: streamed (auto) and with webhooks."""
    with model_and_playground("writer", tmp_path, reference=True) as url:
        wait_for_setup(url)
        open_page(page, url)
        expect(page.locator("#versions")).to_contain_text("coglet 0.23.1")
        page.get_by_label("prompt").fill("ref")
        page.get_by_label("Run mode").select_option(mode)
        page.get_by_role("button", name="Run").click()
        expect(status(page)).to_have_text("succeeded", timeout=SEEN)
        expect(page.get_by_label("Prediction output")).to_have_text("ref1 ref2 ref3 ")
        expect(page.get_by_label("Logs", exact=True)).to_contain_text("writing 3 words")


def test_the_page_works_from_the_keyboard(page: Page, writer: str) -> None:
    """Type into the first input, Tab on to the next, switch tabs with the arrow keys, and
    run with Ctrl+Enter: no mouse."""
    open_page(page, writer)
    page.get_by_label("prompt").focus()
    page.keyboard.type("key")
    page.keyboard.press("Tab")
    expect(page.get_by_label("tone")).to_be_focused()
    page.get_by_role("tab", name="Form").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="JSON")).to_be_focused()
    expect(page.get_by_label("Input JSON")).to_be_visible()
    expect(page.get_by_label("Input JSON")).to_have_value(re.compile(r'"prompt": "key"'))
    page.keyboard.press("Control+Enter")
    expect(status(page)).to_have_text("succeeded", timeout=SEEN)
    expect(page.get_by_label("Prediction output")).to_have_text("key1 key2 key3 ")


def test_a_dead_worker_shows_as_a_failed_run_and_defunct(page: Page, tmp_path) -> None:
    with model_and_playground("dying", tmp_path) as url:
        wait_for_setup(url)
        open_page(page, url)
        page.get_by_role("button", name="Run").click()
        expect(status(page)).to_have_text("failed", timeout=SEEN)
        expect(page.get_by_role("alert").filter(has_text="Error:")).to_contain_text("exit code 3")
        expect(page.get_by_label("Model health")).to_have_text("DEFUNCT", timeout=SEEN)
