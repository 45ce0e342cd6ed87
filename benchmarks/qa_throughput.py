"""Calls checked per second on one core, for 5-minute callback transcripts.

Every call is different (names, numbers, products, the order of the small talk), so the text caches
of the matcher do not make later calls free. The baseline in the same run is the cost of only
parsing the JSON into the transcript model, so the ratio says what the checks add to reading a file.

    python benchmarks/qa_throughput.py [--calls 300] [--minutes 5]
    python benchmarks/qa_throughput.py --transcripts OUT/transcripts

With --transcripts, the calls are the recogniser's own transcripts of a `callqa run` (words with their
probabilities): the checks then also look for script sentences, items and phrases by sound, which typed
transcripts never need.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from callbuilder import CLEAN, timed

from callqa.model import transcript_from_dict
from qa_checks import check_call, load_lexicon

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "建国志强秀英桂兰海燕丽娟明华晓东文静俊杰玉梅红霞国庆春生伟军小平淑珍德明"
PRODUCTS = ["福寿终身寿险", "康泰重大疾病保险", "金瑞两全保险", "安享年金保险", "鑫利分红保险", "稳盈万能保险"]
SMALL_TALK = [
    ("customer", "对了,我想问一下,这个保单以后要是地址变了怎么改?"),
    ("agent", "您可以拨打我们的客服热线,或者在官方公众号上自助修改,都很方便。"),
    ("customer", "那理赔的时候需要准备什么材料?"),
    ("agent", "理赔需要的材料在合同的理赔申请部分有写明,需要的时候您也可以致电客服咨询。"),
    ("customer", "好的,我老伴也想买一份,回头再说吧。"),
    ("agent", "好的,如果您有需要,可以联系您的业务人员详细了解。"),
    ("customer", "你们这个每年交费是自动扣款吗?"),
    ("agent", "是的,到期会从您投保时授权的银行账户自动扣款,扣款前会有短信提醒。"),
    ("customer", "嗯,我知道了,上次业务员也跟我说过。"),
    ("agent", "好的,那我们继续下一个问题。"),
]


LEADS = ["", "", "好的,", "嗯,", "那么", "然后", "另外", "这边", "那个,", "接下来"]


def make_calls(n: int, minutes: float, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    calls = []
    for k in range(n):
        name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2))
        product = rng.choice(PRODUCTS)
        phone = "13" + "".join(rng.choice("0123456789") for _ in range(9))
        premium = rng.randrange(2, 60) * 1000
        lines = [(s, t.replace("王建国", name).replace("中英福寿终身寿险", product)
                  .replace("13912345678", phone).replace("八千", str(premium))) for s, t in CLEAN]
        target = minutes * 60
        while timed(lines)[-1]["end"] < target:
            a, b = rng.sample(range(0, len(SMALL_TALK), 2), 2)
            pos = rng.randrange(8, len(lines) - 3, 2)
            lines[pos:pos] = [SMALL_TALK[a], (SMALL_TALK[a + 1][0], SMALL_TALK[a + 1][1] + f"编号{k}{pos}。")]
            lines[pos:pos] = [SMALL_TALK[b]]
        # ASR cuts speech into short segments and varies the small words: split long lines at commas
        # and prefix a random connective, so most segments are new text to the matcher
        split = []
        for spk, text in lines:
            parts = [p for p in text.replace("。", "。|").replace(",", ",|").split("|") if p]
            split.extend((spk, rng.choice(LEADS) + p if spk == "agent" else p) for p in parts)
        calls.append(json.dumps({"call_id": f"B-{k:05d}", "questionnaire": "traditional", "segments": timed(split)},
                                ensure_ascii=False))
    return calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--transcripts", type=Path, default=None,
                    help="a folder of transcript JSON files (a `callqa run` output's transcripts/) to check instead")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    lex = load_lexicon()
    raw = make_calls(args.calls + 20, args.minutes)
    warm, raw = raw[:20], raw[20:]
    if args.transcripts is not None:
        raw = [p.read_text(encoding="utf-8") for p in sorted(args.transcripts.glob("*.json"))]
        if not raw:
            sys.exit(f"{args.transcripts}: no transcript files")
    for r in warm:  # load jieba's dictionary and fill the per-character tables once
        check_call(transcript_from_dict(json.loads(r)), lex)
    segs = sum(len(json.loads(r)["segments"]) for r in raw) / len(raw)
    dur = sum(json.loads(r)["segments"][-1]["end"] for r in raw) / len(raw)

    t0 = time.perf_counter()
    parsed = [transcript_from_dict(json.loads(r)) for r in raw]
    t_parse = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_findings = sum(len(check_call(transcript_from_dict(json.loads(r)), lex).findings) for r in raw)
    t_check = time.perf_counter() - t0
    # cold: every text cache emptied before each call, as if no sentence had ever been seen before
    t_cold = 0.0
    for r in raw:
        lex.clear_caches()
        t0 = time.perf_counter()
        check_call(transcript_from_dict(json.loads(r)), lex)
        t_cold += time.perf_counter() - t0
    del parsed
    rate, cold = len(raw) / t_check, len(raw) / t_cold
    print(f"calls: {len(raw)}, mean duration {dur / 60:.1f} min, {segs:.0f} segments, {n_findings} findings in all")
    print(f"baseline (parse JSON into the model only): {len(raw) / t_parse:,.0f} calls/s")
    print(f"parse + full rulebook, warm caches:        {rate:,.0f} calls/s on one core "
          f"({1000 * t_check / len(raw):.1f} ms per call; {t_check / t_parse:.0f}x the parse alone)")
    print(f"parse + full rulebook, cold caches:        {cold:,.0f} calls/s on one core "
          f"({1000 * t_cold / len(raw):.1f} ms per call; {t_cold / t_parse:.0f}x the parse alone)")
    print(f"target >= 100 calls/s: {'met' if min(rate, cold) >= 100 else 'NOT met'}")


if __name__ == "__main__":
    main()
