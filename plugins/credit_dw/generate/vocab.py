"""Word lists and reference data the generator draws names, addresses and authorities from.

Divisions come from the dbt seed ``admin_divisions.csv`` and authorities from the department
directory ``feeds/departments.csv``: generated codes are then resolvable by the same lookups
the warehouse uses, so the sample data exercises them instead of inventing its own.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from credit_dw.config import PROJECT_ROOT

DIVISIONS_CSV = PROJECT_ROOT / "dbt_project" / "seeds" / "admin_divisions.csv"
DEPARTMENTS_CSV = Path(__file__).resolve().parents[1] / "feeds" / "departments.csv"

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志强文斌海燕红梅玉兰晓东亮成林春雪鹏飞"
    "俊宇浩然子涵欣怡梓萱一诺思远嘉怡雨轩宏伟慧敏佳琪婷婷晨阳振华卫东德胜"
)
TRADE_NAMES = (
    "恒信", "华泰", "金诚", "苏宁", "鼎盛", "汇通", "宏达", "瑞丰", "新华", "天正", "博远", "永安", "嘉禾",
    "中盛", "德润", "锦程", "远航", "盛世", "万达", "海润", "隆鑫", "聚福", "三江", "紫金", "秦淮", "太湖",
    "东方", "长青", "富源", "润泽", "诚通", "合力", "天成", "金陵", "梁溪", "姑苏", "云龙", "运河", "明珠",
)
INDUSTRIES = (
    "科技", "贸易", "建设工程", "餐饮管理", "物流", "机械制造", "电子", "服装", "食品", "环保科技",
    "信息技术", "文化传媒", "房地产开发", "医药", "新材料", "化工", "汽车销售", "装饰工程", "农业发展",
)
COMPANY_FORMS = ("有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司")
SHOP_KINDS = ("面馆", "便利店", "五金店", "副食品商行", "理发店", "汽车修理部", "服装店", "烟酒商行", "水果店")
COOP_KINDS = ("果蔬种植专业合作社", "农机专业合作社", "水产养殖专业合作社", "茶叶专业合作社", "粮食种植专业合作社")
SOCIAL_KINDS = ("餐饮行业协会", "物流协会", "慈善基金会", "民办培训学校", "养老服务中心", "书画研究会")
INSTITUTION_KINDS = ("人民医院", "疾病预防控制中心", "实验中学", "公共资源交易中心", "图书馆", "职业技术学校")
ORGAN_KINDS = ("街道办事处", "人民政府", "住房和城乡建设局", "农业农村局")
ROADS = (
    "中山路", "北京东路", "汉中路", "珠江路", "人民路", "解放路", "建设路", "长江路", "太湖大道", "科技园路",
    "胜利路", "和平路", "学府路", "新街口大街", "解放东路", "人民南路", "开发区大道", "工业园路", "金山路",
)
BUILDINGS = ("", "", "", "A座", "B座", "1幢", "2幢", "商务大厦", "创业园")


@dataclass(frozen=True, slots=True)
class County:
    code: str
    name: str
    city_code: str
    city_name: str

    @property
    def full_name(self) -> str:
        """``南京市玄武区``; a county-level city is named on its own (``江阴市``)."""
        return self.name if self.name.endswith("市") else self.city_name + self.name

    @property
    def court_code(self) -> str:
        """Court part of a case number: ``苏0102`` for Xuanwu district."""
        return "苏" + self.code[2:6]


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name: str
    kind: str

    @property
    def division(self) -> str:
        return self.code[2:8]

    @property
    def slug(self) -> str:
        """File-name part: ``market_regulation-320100`` (type and division, unique here)."""
        return f"{self.kind}-{self.division}"


@cache
def jiangsu_counties() -> tuple[County, ...]:
    with DIVISIONS_CSV.open(encoding="utf-8", newline="") as f:
        return tuple(
            County(r["division_code"], r["division_name"], r["city_code"], r["city_name"])
            for r in csv.DictReader(f)
            if r["level"] == "county" and r["province_code"] == "320000"
        )


@cache
def departments() -> tuple[Department, ...]:
    with DEPARTMENTS_CSV.open(encoding="utf-8", newline="") as f:
        return tuple(
            Department(r["authority_code"], r["authority_name"], r["department_type"])
            for r in csv.DictReader(f)
        )


def department(name: str) -> Department:
    for dept in departments():
        if dept.name == name:
            return dept
    raise KeyError(f"{name} is not in {DEPARTMENTS_CSV}")


def departments_of(kind: str) -> tuple[Department, ...]:
    return tuple(d for d in departments() if d.kind == kind)
