from kiosk.session import IdleTimer, Session


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_idle_timer_countdown_then_expires_once():
    clock = FakeClock()
    timer = IdleTimer(idle_s=90, countdown_s=60, clock=clock)
    assert timer.tick() == "active"
    clock.t += 95
    assert timer.tick() == "countdown"
    assert round(timer.remaining()) == 55
    timer.touch()                       # 继续办理
    assert timer.tick() == "active"
    clock.t += 151
    assert timer.tick() == "expired"
    assert timer.tick() == "expired"


def test_wipe_clears_fields_and_temp_files(tmp_path):
    s = Session(temp_root=tmp_path)
    scan = s.temp_dir / "scan.jpg"
    scan.write_bytes(b"jpeg")
    s.form["phone"] = "13812345678"
    s.face_image = b"face"
    s.materials["hukou"] = [scan]
    temp = s.temp_dir
    s.wipe()
    assert not temp.exists()
    assert s.form == {} and s.face_image is None and s.materials == {} and s.card is None
    assert s.wiped


def test_a_card_lying_on_the_reader_at_boot_leaves_nothing_outside_a_session(make_config, tmp_path):
    """Issue 12.2: the simulated reader starts with the sample card on it and reads it at
    boot, before any resident session.  Nothing of that card may be kept: the log
    redactor holds a name only while its resident's session lasts."""
    import threading

    from devices.registry import DRIVERS
    from kiosk.core import KioskCore
    from kiosk.logs import redactor

    others = "".join(f"[devices.{role}]\nenabled = false\n" for role in DRIVERS if role != "id_reader")
    config = make_config(f'[platform]\nurl = "http://127.0.0.1:9"\n[heartbeat]\nenabled = false\n{others}')
    core = KioskCore(config)
    read = threading.Event()
    cards = []
    core.bus.subscribe("idcard.read", lambda event: (cards.append(event.data["card"]), read.set()))
    core.start()
    try:
        assert read.wait(15), "the reader never read the card lying on it"
        name, address = cards[0].name, cards[0].address
        assert core.session is None
        assert redactor(f"{name} {address}") == f"{name} {address}"   # held by nobody
        session = core.begin_session()
        session.set_card(cards[0])                                     # the resident's session
        assert name not in redactor(f"{name} {address}") and address not in redactor(address)
        core.end_session()
        assert redactor(name) == name
    finally:
        core.stop()
