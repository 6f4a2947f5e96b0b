"""A small fleet page for central admins: GET /admin/fleet.

The same order as ``central kiosks`` (faults, paper, dead letters, silence,
warnings), plus what waits for an officer: 承诺件 to approve, bad ratings to
follow up, appeals received -- and an alert for every lockout in force (a
kiosk or a resident key locked out of pickup codes, identity checks, reads,
enrolment or the admin password: someone may be guessing).  HTTP Basic auth
(any user name, the admin credential as password) so a plain browser can
open it; without an admin credential set the page does not exist (404).  Server-rendered, no scripts; refreshes every
30 s.  Residents never appear on it.

Open help requests (a resident pressed 帮助) come first, each with its kiosk, screen and age and
an acknowledge form (POST /admin/help/{id}/ack, with a CSRF token per request: central.help);
the per-kiosk timeline lists the last 24 h's help requests with staff's response times.
"""
from __future__ import annotations

import datetime as dt
import html
import time

from central import admin, limits
from central import help as help_requests
from central.storage import Store

SEVERITY_LABEL = {0: ("fault", "故障"), 1: ("paper", "缺纸"), 2: ("attention", "需关注"),
                  3: ("warning", "提示"), 4: ("ok", "正常")}

STYLE = """
body{font-family:'Noto Sans CJK SC','Noto Sans SC',sans-serif;margin:24px;color:#1d2733}
h1{font-size:22px;margin:0 0 12px}
.counts{display:flex;gap:16px;margin:0 0 18px}
.count{border:1px solid #c9d3de;border-radius:6px;padding:8px 14px}
.count b{font-size:20px;display:block}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #dde3ea;padding:6px 8px;text-align:left;font-size:14px}
th{background:#f1f4f8}
tr.fault td:first-child{border-left:6px solid #c62828}
tr.paper td:first-child{border-left:6px solid #ef6c00}
tr.attention td:first-child{border-left:6px solid #f9a825}
tr.warning td:first-child{border-left:6px solid #90a4ae}
tr.ok td:first-child{border-left:6px solid #2e7d32}
.muted{color:#607080}
.alert{border:2px solid #c62828;border-radius:6px;padding:8px 14px;margin:0 0 18px;background:#fdecea}
.help{border:3px solid #b71c1c;border-radius:6px;padding:8px 14px;margin:0 0 18px;background:#fff3e0}
.help li{margin:6px 0}
#help.muted{margin:0 0 12px}
.help form{display:inline;margin-left:12px}
.help input[type=text]{font-size:14px;width:9em}
.help button{font-size:15px;font-weight:bold;padding:4px 14px;background:#b71c1c;color:#fff;border:0;border-radius:4px}
"""


LOCKOUT_LABEL = {  # the subject itself is never shown: it may be a resident key
    limits.PICKUP_PER_KIOSK.scope: "取件码猜测 pickup-code guessing, kiosk",
    limits.PICKUP_PER_RESIDENT.scope: "取件码猜测 pickup-code guessing on one resident, from kiosk",
    limits.IDENTITY_PER_KIOSK.scope: "人证核验失败 failed identity checks, kiosk",
    limits.IDENTITY_PER_RESIDENT.scope: "人证核验失败 failed identity checks on one resident, from kiosk",
    limits.LOOKUP_PER_KIOSK.scope: "越权查询 refused reads of residents' data, kiosk",
    limits.ENROLL_PER_CLIENT.scope: "注册码猜测 enrolment-code guessing, from",
    limits.ADMIN_PER_CLIENT.scope: "管理密码猜测 admin-password guessing, from",
}


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "—"


def render(store: Store, now: float | None = None) -> str:
    now = time.time() if now is None else now
    kiosks = admin.fleet(store, now)
    waiting = store.one("SELECT COUNT(*) AS n FROM applications WHERE status = 'accepted'")["n"]
    follow_up = store.one("SELECT COUNT(*) AS n FROM ratings WHERE follow_up = 1")["n"]
    appeals = store.one("SELECT COUNT(*) AS n FROM appeals WHERE status = 'received'")["n"]
    e = html.escape
    alerts = "".join(f"<li>{e(LOCKOUT_LABEL.get(lock['scope'], lock['scope']))}: {e(lock['source'] or '—')}"
                     f" <span class=\"muted\">until {e(_when(lock['locked_until']))}</span></li>"
                     for lock in limits.lockouts(store, now))
    lockouts = (f'<div class="alert" id="lockouts"><b>锁定告警 Lockouts in force</b><ul>{alerts}</ul></div>'
                if alerts else "")
    help_items = []
    for k in kiosks:
        for request in k.open_help:
            token = help_requests.csrf_token(store, request.request_id)
            help_items.append(
                f'<li class="help-request" data-request="{e(request.request_id)}"><b>{e(k.kiosk_id)}</b> '
                f'{e(request.centre or "")} · 页面 screen <code>{e(request.screen)}</code> · '
                f'已等待 waiting <b>{e(help_requests.age(now - request.received_at))}</b> '
                f'<span class="muted">({e(request.request_id[:8])})</span>'
                f'<form method="post" action="/admin/help/{e(request.request_id)}/ack">'
                f'<input type="hidden" name="csrf" value="{e(token)}">'
                f'<input type="text" name="by" placeholder="工作人员 staff" maxlength="40">'
                f'<button type="submit">确认前往 Acknowledge</button></form></li>')
    helps = (f'<div class="help" id="help"><b>求助 Residents asking for help ({len(help_items)})</b>'
             f'<ul>{"".join(help_items)}</ul></div>' if help_items else
             '<div class="muted" id="help">没有待处理的求助 No open help requests</div>')
    rows = []
    for k in kiosks:
        css, label = SEVERITY_LABEL[k.severity]
        problems = "<br>".join(e(p) for p in k.problems) or '<span class="muted">—</span>'
        notes = [note for note in (k.history_note(_when), k.help_note(_when)) if note]
        history = e("; ".join(notes)) or '<span class="muted">—</span>'
        rows.append(f'<tr class="{css}" data-kiosk="{e(k.kiosk_id)}"><td>{e(k.kiosk_id)}</td><td>{e(label)}</td>'
                    f"<td>{problems}</td><td>{_when(k.last_seen)}</td><td>{k.queue_depth}</td>"
                    f"<td>{k.dead}</td><td class=\"history\">{history}</td><td>{e(k.version)}</td>"
                    f"<td>{e(k.menu_version)}</td></tr>")
    body = "\n".join(rows) or '<tr><td colspan="9" class="muted">尚无已登记的自助机 (no kiosks enrolled)</td></tr>'
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta http-equiv="refresh" content="30">
<title>自助机运行状态 · Fleet</title><style>{STYLE}</style></head>
<body>
<h1>自助机运行状态 <span class="muted">Fleet status · {e(_when(now))}</span></h1>
{helps}
{lockouts}
<div class="counts">
  <div class="count" id="waiting"><b>{waiting}</b>待审批承诺件 pending approval</div>
  <div class="count" id="follow-up"><b>{follow_up}</b>差评待回访 ratings to follow up</div>
  <div class="count" id="appeals"><b>{appeals}</b>待处理诉求 appeals received</div>
</div>
<table>
<thead><tr><th>自助机 Kiosk</th><th>状态 State</th><th>需处理 Attention</th><th>最后心跳 Last seen</th>
<th>队列 Queue</th><th>死信 Dead</th><th>近24小时 Last 24 h</th><th>版本 Version</th><th>菜单 Menu</th></tr></thead>
<tbody>
{body}
</tbody></table>
</body></html>
"""
