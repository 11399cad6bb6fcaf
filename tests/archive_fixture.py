"""A small hand-written e-paper archive in the shape of ../shared/archive
(one article a file, kicker / headline / subtitle lines, CRLF line ends, the
body indented with ideographic spaces): five files over two days, one story
printed on page 1 and again, whole, on page 4. The text is made up."""

from __future__ import annotations

from pathlib import Path

IND = "\u3000\u3000"

ELDERLY = (
    "市政府常务会议部署——",
    "全市新建二十座社区养老驿站",
    "银发食堂同步开张",
    [f"{IND}本报北京1月8日电\u00a0\u00a0（记者林晓雨）市政府常务会议8日决定，今年全市新建二十座社区养老驿站，"
     "为高龄独居老人提供助餐、助浴和日间照料服务。",
     f"{IND}据介绍，每座驿站配备护理员不少于六名，驿站运营经费由区财政保障，老人按收入分档付费。",
     f"{IND}会议要求，各区在三月底前完成选址，年底前实现所有街道全覆盖。"],
)

FILES: dict[str, tuple[str, str, str, list[str]]] = {
    "20200109/20200109-01-01.txt": ELDERLY,
    "20200109/20200109-01-02.txt": (
        "",
        "滨江公园冰雪节开幕",
        "",
        [f"{IND}本报讯\u00a0（记者周明远）第十二届滨江公园冰雪节9日开幕，园内搭建冰雕四十余座，最高的一座冰塔高十八米。",
         f"{IND}冰雪节将持续到2月底，门票价格与去年相同，六十五岁以上老人免费入园。"],
    ),
    # the page-1 story printed again, whole, on its continuation page
    "20200109/20200109-04-01.txt": ELDERLY,
    "20200109/20200109-04-02.txt": (
        "",
        "老旧小区加装电梯提速",
        "",
        [f"{IND}本报记者\u00a0\u00a0陈思雨",
         f"{IND}今年以来，本市老旧小区加装电梯进度明显加快，已有三百一十部电梯投入使用。",
         f"{IND}住建部门表示，加装电梯的审批时间已从九十天缩短到三十天。"],
    ),
    "20200110/20200110-01-01.txt": (
        "",
        "全国粮食产量再创新高",
        "",
        [f"{IND}新华社北京1月9日电\u00a0\u00a0国家统计局9日发布数据，去年全国粮食总产量达到六亿六千万吨，比上年增长百分之零点九。",
         f"{IND}统计局有关负责人说，粮食播种面积保持稳定，单产水平继续提高。",
         f"{IND}新华社记者\u00a0王海涛摄"],
    ),
    # a dated folder, the file name only page and order
    "2020-01-10/03-02.txt": (
        "",
        "冬季供暖投诉量同比下降",
        "",
        [f"{IND}供热办10日通报，本供暖季以来市民投诉量同比下降四成，主要问题集中在老旧管网。",
         f"{IND}（本报北京1月10日电\u00a0\u00a0记者刘晨阳）"],
    ),
}


def write_archive(root: Path, files: dict[str, tuple[str, str, str, list[str]]] | None = None) -> Path:
    """The archive (or ``files``: path -> kicker, headline, subtitle, body lines)
    under ``root`` (created), as e-paper files with CRLF lines; returns ``root``."""
    for rel, (kicker, title, subtitle, body) in (FILES if files is None else files).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes("\r\n".join([kicker, title, subtitle, *body, ""]).encode("utf-8"))
    return root
