"""`nnstudy serve` in a real browser: Debian's Chromium, headless, driven by Selenium through Debian's
chromium-driver (nothing downloads a browser). One uvicorn server on a free port for the module.

The playground trains the week's ReLU + Adam spiral until test accuracy passes 0.9 and draws it;
a reloaded link brings back the same setup; Compare trains two configurations; Runs lists a run
that `nnstudy train` made."""

import io
import shutil
import socket
import threading
import time

import pytest

pytest.importorskip("selenium")
pytest.importorskip("uvicorn")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver "
                                "(apt-get install chromium chromium-driver; `make test` does as root)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from nnstudy.serve.app import create_app

    home = tmp_path_factory.mktemp("serve") / "runs"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(home), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", home
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
        opts.add_argument(a)
    opts.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    _current["browser"] = driver
    yield driver
    driver.quit()


def wait(cond, timeout=60.0, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}{_page_state()}")


_current = {}  # the browser of the running test, for wait's message


def _page_state() -> str:
    b = _current.get("browser")
    if b is None:
        return ""
    try:
        return "; page status: " + " | ".join(e.text for e in b.find_elements("css selector", "#status, #message"))
    except Exception:  # noqa: BLE001 - only a message
        return ""


def colours(driver, element_id):
    """Distinct colours in a canvas's screenshot, and the share of white pixels."""
    from PIL import Image

    img = Image.open(io.BytesIO(driver.find_element("id", element_id).screenshot_as_png)).convert("RGB")
    px = list(img.get_flattened_data() if hasattr(img, "get_flattened_data") else img.getdata())
    return len(set(px)), sum(p == (255, 255, 255) for p in px) / len(px)


def value(driver, name):
    """The form field's value; None while the page has not built its form yet (a wait polls on)."""
    return driver.execute_script(f"const f = document.querySelector('[name=\"{name}\"]'); return f ? f.value : null")


def test_playground_trains_the_week_spiral_and_a_shared_link_brings_it_back(server, browser):
    base, _ = server
    browser.get(base + "/?n_per_class=300&steps=3000")  # the week's ReLU + Adam (the defaults), 900 points
    wait(lambda: browser.execute_script("return session && last"), 20, "the session")
    lr = browser.find_element("css selector", "[name=lr]")
    lr.clear()
    lr.send_keys("0.003\n")  # a change goes into the URL
    browser.execute_script("document.querySelector('[name=lr]').dispatchEvent(new Event('change'))")
    wait(lambda: "lr=0.003" in browser.current_url, 10, "lr in the URL")
    wait(lambda: browser.execute_script("return acked && session.lr === 0.003 && last && last.step === 0"), 20,
         "the new session")
    browser.find_element("id", "run").click()
    acc = wait(lambda: (v := browser.execute_script("return last && last.metrics.test_acc")) and v > 0.9 and v,
               60, "test accuracy > 0.9")
    assert acc > 0.9
    n, white = colours(browser, "regions")
    assert n > 50 and white < 0.5  # regions shaded and points drawn, not a blank canvas
    n, _ = colours(browser, "acc")
    assert n > 5  # the curves are drawn
    assert browser.execute_script("return window.lastLatency") < 1000  # ms from computed to drawn
    shared = browser.current_url
    browser.get("about:blank")
    browser.get(shared)
    wait(lambda: value(browser, "lr") == "0.003", 10, "the shared setup")
    assert value(browser, "n_per_class") == "300" and value(browser, "steps") == "3000"
    assert value(browser, "activation") == "relu" and value(browser, "optimizer") == "adam"


def test_a_bad_parameter_is_shown_next_to_its_field(server, browser):
    base, _ = server
    browser.get(base + "/?width=0")
    wait(lambda: "red" in browser.find_element("id", "status").text, 20, "the error")
    assert "1 to 256" in browser.find_element("css selector", "label.bad + .err").text


def test_compare_trains_two_configurations_side_by_side(server, browser):
    base, _ = server
    browser.get(base + "/compare?n_per_class=200&steps=400")
    wait(lambda: browser.execute_script("return SIDES.a.last && SIDES.b.last"), 30, "both sessions")
    assert value(browser, "a.model") == "linear" and value(browser, "b.model") == "mlp"  # the week's question
    browser.find_element("id", "run").click()
    wait(lambda: browser.execute_script("return SIDES.a.last.done && SIDES.b.last.done"), 60, "both trainings")
    wait(lambda: browser.find_element("id", "status").text.startswith("done: A finished"), 10, "done")
    assert "model=linear" in browser.find_element("id", "open-a").get_attribute("href")
    browser.find_element("id", "save-b").click()
    wait(lambda: "B saved as run" in browser.find_element("id", "message").text, 20, "B saved")
    a, b = browser.execute_script("return [SIDES.a.last.metrics.test_acc, SIDES.b.last.metrics.test_acc]")
    assert b > a  # ReLU + Adam beats the linear net on the spiral
    for canvas in ("reg-a", "reg-b", "acc"):
        assert colours(browser, canvas)[0] > 5, canvas


def test_runs_page_lists_a_run_made_by_nnstudy_train(server, browser):
    from nnstudy.config import TrainConfig
    from nnstudy.experiment import train_and_evaluate
    from nnstudy.store import Store

    base, home = server
    res = train_and_evaluate(TrainConfig(n_per_class=30, steps=10, device="cpu"), Store(home), name="mlp on spiral")
    browser.get(base + "/runs")
    row = wait(lambda: browser.find_elements("css selector", f'tr[data-run="{res.run_id}"]'), 20, "the run's row")
    row[0].click()
    wait(lambda: res.run_id in browser.find_element("id", "detail").text, 10, "the run's page")
    assert "complete" in browser.find_element("id", "detail").text


def test_run_waits_for_the_server_to_confirm_the_setup(server, browser):
    """Until the server answers a setup (ready), Run/Step/Reset/Save are disabled: no "send a config first"."""
    base, _ = server
    browser.get(base + "/?n_per_class=60&steps=40")
    wait(lambda: browser.execute_script("return acked && last"), 20, "the session")
    assert browser.find_element("id", "run").is_enabled()
    # hold the server's next answer, change a setting: the buttons wait for it
    browser.execute_script("window.held = []; window.realReady = trainer.h.ready;"
                           "trainer.h.ready = m => held.push(m);")
    browser.execute_script("const f = document.querySelector('[name=lr]'); f.value = '0.01';"
                           "f.dispatchEvent(new Event('change'))")
    wait(lambda: browser.execute_script("return held.length === 1"), 20, "the server's answer")
    assert not any(browser.find_element("id", b).is_enabled() for b in ("run", "step", "reset", "save"))
    browser.execute_script("trainer.h.ready = realReady; realReady(held[0])")
    assert all(browser.find_element("id", b).is_enabled() for b in ("run", "step", "reset", "save"))
    # the server's answer to a setup while a newer edit is still being checked is not an ack either
    browser.execute_script("window.realCheck = checkConfig; window.checkConfig = async p => "
                           "{ if (p.lr === '0.03') await new Promise(r => setTimeout(r, 1500)); return realCheck(p); };"
                           "window.held = []; trainer.h.ready = m => held.push(m);"
                           "const f = document.querySelector('[name=lr]'); f.value = '0.02';"
                           "f.dispatchEvent(new Event('change'))")
    wait(lambda: browser.execute_script("return held.length === 1"), 10, "the answer to the first edit")
    browser.execute_script("const f = document.querySelector('[name=lr]'); f.value = '0.03';"
                           "f.dispatchEvent(new Event('change')); trainer.h.ready = realReady; realReady(held[0])")
    assert browser.execute_script("return session.lr") == 0.02
    assert not browser.find_element("id", "run").is_enabled()  # the 0.03 setup is still on its way
    wait(lambda: browser.execute_script("return acked && session.lr === 0.03"), 10, "the second answer")
    assert browser.find_element("id", "run").is_enabled()
    browser.execute_script("window.checkConfig = realCheck")


def test_a_run_that_blew_up_is_not_just_finished(server, browser):
    base, _ = server
    browser.get(base + "/?n_per_class=60&steps=40&optimizer=sgd&lr=10&seed=1")
    wait(lambda: browser.execute_script("return acked && last"), 20, "the session")
    browser.find_element("id", "run").click()
    wait(lambda: browser.execute_script("return last.done"), 30, "the end")
    status = browser.find_element("id", "status").text
    assert "finished all 40 steps, but: loss rose (1.1" in status, status
    assert "accuracy at chance" in status and "dead units: every gradient is zero" in status
    assert "warn" in browser.find_element("id", "status").get_attribute("class")
    assert "rescale" not in browser.find_element("id", "grad-note").text  # SGD: the gradient bar sets the step
    assert browser.find_elements("css selector", "#units .deadunit")  # constant maps are labelled dead


def test_a_bad_training_field_still_draws_the_data_and_names_the_field(server, browser):
    base, _ = server
    browser.get(base + "/?n_per_class=60&lr=-1")
    wait(lambda: "learning rate" in browser.find_element("id", "status").text, 20, "the error")
    wait(lambda: browser.execute_script("return pts && pts.train.length === 144"), 20, "the data")
    _, white = colours(browser, "regions")
    assert white < 0.99  # the points are drawn
    assert not browser.find_element("id", "run").is_enabled()


def test_runs_page_shows_ids_as_stored_and_opens_a_run_in_the_playground(server, browser):
    from nnstudy.config import TrainConfig
    from nnstudy.experiment import train_and_evaluate
    from nnstudy.store import Store

    base, home = server
    cfg = TrainConfig(n_per_class=40, steps=10, optimizer="sgd", lr=0.05, activation="tanh", device="cpu")
    res = train_and_evaluate(cfg, Store(home), name="tanh sgd")
    browser.get(base + "/runs")
    row = wait(lambda: browser.find_elements("css selector", f'tr[data-run="{res.run_id}"]'), 20, "the run's row")
    row[0].click()
    wait(lambda: res.run_id in browser.find_element("id", "detail").text, 10, "the run's page")
    assert res.run_id == res.run_id.lower()
    assert f"RUN {res.run_id}" in browser.find_element("css selector", "#detail h3").text  # not upper-cased
    assert res.run_id in row[0].text
    browser.find_element("css selector", "#detail a.open-playground").click()
    wait(lambda: browser.execute_script("return typeof acked !== 'undefined' && acked && last"), 20, "the playground")
    assert (value(browser, "optimizer"), value(browser, "lr"), value(browser, "activation")) == ("sgd", "0.05", "tanh")
    assert (value(browser, "n_per_class"), value(browser, "steps"), value(browser, "weight_decay")) == ("40", "10", "0")
    # a filter that hides the selected run clears its page
    browser.get(base + "/runs")
    wait(lambda: browser.find_elements("css selector", f'tr[data-run="{res.run_id}"]'), 20, "the run's row")
    browser.find_element("css selector", f'tr[data-run="{res.run_id}"]').click()
    wait(lambda: res.run_id in browser.find_element("id", "detail").text, 10, "the run's page")
    from selenium.webdriver.support.ui import Select
    Select(browser.find_element("id", "status")).select_by_visible_text("diverged")
    wait(lambda: "no run selected" in browser.find_element("id", "detail").text, 10, "the cleared page")
