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
