"""What a penalty decision says: offences, legal bases, penalty types and amounts per department."""

from __future__ import annotations

import random
from decimal import Decimal

OFFENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "market_regulation": (
        ("未取得食品经营许可从事食品经营活动", "《中华人民共和国食品安全法》第一百二十二条"),
        ("销售不符合食品安全标准的食品", "《中华人民共和国食品安全法》第一百二十四条"),
        ("发布虚假广告", "《中华人民共和国广告法》第五十五条"),
        ("虚假宣传", "《中华人民共和国反不正当竞争法》第二十条"),
        ("价格违法行为", "《中华人民共和国价格法》第四十条"),
        ("销售伪劣产品", "《中华人民共和国产品质量法》第五十条"),
        ("未按规定公示年度报告", "《企业信息公示暂行条例》第十八条"),
    ),
    "ecology": (
        ("超标排放大气污染物", "《中华人民共和国大气污染防治法》第九十九条"),
        ("未依法进行环境影响评价擅自开工建设", "《中华人民共和国环境影响评价法》第三十一条"),
        ("违规贮存危险废物", "《中华人民共和国固体废物污染环境防治法》第一百一十二条"),
        ("通过暗管排放水污染物", "《中华人民共和国水污染防治法》第八十三条"),
    ),
    "emergency": (
        ("未按规定开展安全生产教育和培训", "《中华人民共和国安全生产法》第九十七条"),
        ("未建立事故隐患排查治理制度", "《中华人民共和国安全生产法》第一百零一条"),
        ("特种作业人员未持证上岗", "《中华人民共和国安全生产法》第九十七条"),
    ),
    "transport": (
        ("未取得道路运输经营许可擅自从事道路运输经营", "《中华人民共和国道路运输条例》第六十三条"),
        ("违法超限运输", "《公路安全保护条例》第六十四条"),
    ),
    "urban_management": (
        ("未经批准擅自设置户外广告", "《江苏省城市市容和环境卫生管理条例》第四十二条"),
        ("未取得建设工程规划许可证进行建设", "《中华人民共和国城乡规划法》第六十四条"),
    ),
    "health": (
        ("未取得医疗机构执业许可证擅自执业", "《医疗机构管理条例》第四十三条"),
        ("公共场所卫生质量不符合国家卫生标准", "《公共场所卫生管理条例》第十四条"),
    ),
}

LICENCES = {
    "market_regulation": "食品经营许可证",
    "ecology": "排污许可证",
    "emergency": "安全生产许可证",
    "transport": "道路运输经营许可证",
    "urban_management": "城市建筑垃圾处置核准",
    "health": "医疗机构执业许可证",
}

# (penalty types, weight): warning-only decisions are not published; revocation and closure are serious.
_COMBOS = (
    (("警告",), 18), (("罚款",), 34), (("警告", "罚款"), 12), (("罚款", "没收违法所得"), 10),
    (("通报批评",), 3), (("罚款", "暂扣许可证件"), 4), (("罚款", "吊销许可证件"), 4),
    (("责令停产停业", "罚款"), 4), (("责令关闭",), 2), (("罚款", "没收违法所得", "没收非法财物"), 3),
    (("降低资质等级", "罚款"), 1), (("限制开展生产经营活动",), 1), (("限制从业", "罚款"), 1), (("其他",), 1),
)
_COMBO_POOL = tuple(c for c, w in _COMBOS for _ in range(w))
SERIOUS = frozenset({"吊销许可证件", "责令关闭", "责令停产停业", "限制从业", "降低资质等级"})
_ROUND_FINES = (500, 1000, 2000, 3000, 5000, 10000, 20000, 30000, 50000, 100000, 200000)


def penalty_types(r: random.Random) -> tuple[str, ...]:
    return r.choice(_COMBO_POOL)


def fine_yuan(r: random.Random) -> int:
    return r.choice(_ROUND_FINES) if r.random() < 0.7 else r.randint(300, 600000)


def wan(yuan: int) -> str:
    """Yuan as the standard's unit of 10,000 CNY: 5000 -> ``0.5``, 123456 -> ``12.3456``."""
    value = (Decimal(yuan) / 10000).normalize()
    return format(value, "f")


def content(types: tuple[str, ...], fine: int, confiscated: int) -> str:
    parts = []
    for t in types:
        if t == "罚款":
            parts.append(f"罚款人民币{fine}元")
        elif t == "没收违法所得":
            parts.append(f"没收违法所得人民币{confiscated}元")
        else:
            parts.append(t)
    return "；".join(parts)
