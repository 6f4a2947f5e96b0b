"""The one catalogue of fixed spoken prompts: prompt id -> the gettext msgids it says.

The text is the screens' own wording where a screen shows it (the same msgid, so a
translation fixed once is fixed on the glass and in the ear), spoken in the resident's
language through the catalogues (``assets/locales``).  Ids are what recorded prompts and
the cache are named by (``assets/voice/<language>/<prompt-id>.wav``).  Nothing here holds
a value: fixed prompts never carry a resident's data (tests/test_voice.py checks).
"""
from __future__ import annotations

from kiosk import i18n
from kiosk.eid import REFUSAL_WORDS
from kiosk.i18n import N_

_READ_AGAIN = N_("请把身份证平放在感应区中央，不要移动，听到提示音后再拿开。")
_TO_COUNTER = N_("请到人工窗口办理，工作人员会为您核验身份。")

PROMPTS: dict[str, tuple[str, ...]] = {
    # entering a screen (KioskScreen.voice_prompt)
    "screen.home": (N_("您好，请选择要办理的业务"), N_("办理业务也可以直接把身份证放在感应区。")),
    "screen.category": (N_("请点选要办理的业务，查看办事指南"),),
    "screen.guide": (N_("这是办事指南。材料齐全请按“开始办理”。需要听指南内容，请按“朗读”。"),),
    "screen.identify": (N_("请将身份证放在感应区"),),
    "screen.face": (N_("请摘下帽子和墨镜，正对屏幕站好，按屏幕上的提示眨眨眼。照片只用于本次核验，不会保存在本机。"),),
    "screen.form": (N_("请核对申请信息，再点选每一项填写。填完请按“下一步”。"),),
    "screen.materials": (N_("请把材料平放在高拍仪下方，四个角都要在画面内"),),
    "screen.sign": (N_("请在下方白色区域内用手指签写您的姓名"),),
    "screen.delivery": (N_("请选择您想怎样拿到办理结果：现场打印、邮寄到家，或到就近的服务大厅领取。"),),
    "screen.confirm": (N_("请核对以下信息。确认无误请按“确认提交”；需要修改请按“返回”。"),),
    "screen.result": (N_("请记下或拍下办件编号，凭它可以查询办理进度。"),),
    "screen.rating": (N_("您对本次办理满意吗？"),),
    "screen.print_document": (N_("凭身份证，或扫描回执凭条上的二维码，可以打印已办结的证照。每份证照只打印一次。"),),
    "screen.eid": (N_("请出示电子身份证二维码"), N_("打开手机上的电子身份证，把二维码对准下方扫码口。")),
    "eid.verified": (N_("身份信息已核验，请稍候"),),
    **{f"eid.{code}": words for code, words in REFUSAL_WORDS.items()},
    "screen.my_applications": (N_("这里列出您本人办理的业务和进度。点“详情”看办理经过，证照办好后可点“打印证照”。"),),
    "screen.supplement": (N_("正在提交您补交的材料。提交后请取走材料原件。"),),
    "screen.query": (N_("请输入办件编号，或扫描凭条上的二维码"),),
    "screen.appeal": (N_("请先选择类别，再点选符合您情况的内容。留下手机号码，工作人员会联系您。"),),
    # the ID card
    "card.read": (N_("身份信息已读取，请稍候"), N_("可以拿开身份证了。")),
    "card.read_failed": (N_("没有读到身份证"), _READ_AGAIN),
    "card.unsupported": (N_("暂不支持此类证件"),
                         N_("请使用第二代居民身份证、港澳台居民居住证或外国人永久居留身份证。")),
    "card.expired": (N_("身份证已过有效期"), _TO_COUNTER),
    "card.unverifiable": (N_("证件信息无法核验"), _TO_COUNTER),
    "card.reader_trouble": (N_("读卡器暂时无法使用"), N_("请联系现场工作人员，或到人工窗口办理。")),
    # the face check (devices/face.py prompt codes, then the outcome)
    "face.no_face": (N_("请正对屏幕"),),
    "face.multiple_faces": (N_("请一人办理，其他人请稍离开"),),
    "face.too_far": (N_("请靠近一些"),),
    "face.not_centred": (N_("请把脸移到框内"),),
    "face.too_dark": (N_("光线太暗，请站到屏幕正前方"),),
    "face.blink": (N_("请眨眨眼"),),
    "face.turn_head": (N_("请缓慢转头"),),
    "face.hold_still": (N_("请保持不动"),),
    "face.captured": (N_("拍照完成，正在核验身份，请稍候。"),),
    "face.failed": (N_("没有完成人脸核验。"), N_("可以按“重试”再试一次，或到人工窗口办理。")),
    # documents, printing, receipts
    "capture.done": (N_("已拍好一页。"),),
    "print.done": (N_("打印完成，请取走证照。"),),
    "print.failed": (N_("打印没有成功。请找现场工作人员，或到人工窗口领取。"),),
    "receipt.take": (N_("凭条已打印，请取走凭条并妥善保管。"),),
    "receipt.failed": (N_("凭条没有打印出来，但您的申请已经保存。请拍下或记下上面的编号；需要帮助请找现场工作人员。"),),
    # the session
    "idle.countdown": (N_("您还在吗？如需继续办理，请按“继续办理”，否则将返回首页并清除您填写的内容。"),),
    "error.generic": (N_("操作没有成功。请稍后再试，或找现场工作人员帮助。"),),
    "volume.changed": (N_("音量已调整。"),),
}


def text(prompt_id: str, language: str) -> str:
    """What prompt ``prompt_id`` says in ``language`` (KeyError: no such prompt)."""
    return " ".join(i18n.gettext(msgid, language) for msgid in PROMPTS[prompt_id])


def ids() -> list[str]:
    return list(PROMPTS)
