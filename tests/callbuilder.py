"""Build contract transcripts for tests: lines of (speaker, text) timed at a given speaking rate."""

from __future__ import annotations

from typing import Any

from callqa.model import Transcript, transcript_from_dict
from qa_checks.textnorm import spoken_chars

# A well-run traditional callback, paraphrased the way agents speak; tests edit copies of it.
CLEAN: list[tuple[str, str]] = [
    ("agent", "您好,我是中英人寿回访专员张敏,工号三七二一。这次来电是对您新投保的保单做一次电话回访,请问您是王建国先生吗?"),
    ("customer", "嗯,是我。"),
    ("agent", "谢谢您。为了核实您的身份,麻烦您说一下您身份证号码的后四位。"),
    ("customer", "5678。"),
    ("agent", "好的,核对无误。回访需要占用您几分钟时间,请问现在方便接听吗?"),
    ("customer", "方便,您说。"),
    ("agent", "请问您是否在11月1日为自己投保了中英福寿终身寿险,投保单上是您本人亲笔签名的吗?"),
    ("customer", "是我自己签的。"),
    ("agent", "请问您已经收到保险合同了吗?"),
    ("customer", "收到了。"),
    ("agent", "请问您是否认真阅读了保险条款、产品说明书和投保提示书?"),
    ("customer", "都看过了。"),
    ("agent", "销售人员有没有向您详细说明保险责任和责任免除的内容,您是否清楚?"),
    ("customer", "清楚。"),
    ("agent", "您的保单有十五天犹豫期,从您签收合同的次日开始计算,犹豫期内解除合同可以全额退还所交保费,您清楚吗?"),
    ("customer", "清楚。"),
    ("agent", "您的保费是每年八千元,交费方式是年交,交费期间为二十年,您是否清楚?"),
    ("customer", "对,清楚。"),
    ("agent", "如果犹豫期过后退保,只能退还保单的现金价值,可能会有一定损失,您清楚吗?"),
    ("customer", "明白。"),
    ("agent", "最后跟您核对一下联系电话,是13912345678,对吗?"),
    ("customer", "对的。"),
    ("agent", "好的,感谢您的配合,本次回访到此结束,祝您生活愉快,再见!"),
    ("customer", "好,再见。"),
]


def timed(lines: list[tuple[Any, ...]], agent_cps: float = 2.1, customer_cps: float = 3.0, gap: float = 0.6,
          t0: float = 1.0) -> list[dict[str, Any]]:
    """Time each line from its spoken characters; a third element may hold {'overlap': s, 'cps': r}."""
    t = t0
    segs: list[dict[str, Any]] = []
    for line in lines:
        spk, text = line[0], line[1]
        opt = line[2] if len(line) > 2 else {}
        cps = opt.get("cps", agent_cps if spk == "agent" else customer_cps)
        dur = max(0.5, spoken_chars(text) / cps)
        start = segs[-1]["end"] - opt["overlap"] if "overlap" in opt else t + opt.get("pause", 0.0)
        segs.append({"speaker": spk, "start": round(start, 2), "end": round(start + dur, 2), "text": text})
        t = start + dur + gap
    return segs


def make_call(lines: list[tuple[Any, ...]] | None = None, questionnaire: Any = "traditional",
              call_id: str = "T-1", **kw: Any) -> Transcript:
    data: dict[str, Any] = {"call_id": call_id, "segments": timed(lines if lines is not None else CLEAN, **kw)}
    if questionnaire:
        data["questionnaire"] = questionnaire
    return transcript_from_dict(data)


def replace(lines: list[tuple[str, str]], index: int, text: str) -> list[tuple[str, str]]:
    out = list(lines)
    out[index] = (out[index][0], text)
    return out
