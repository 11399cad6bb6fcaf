"""Segmenting newspaper-page text: the bundled sample and pages of our own making."""

from __future__ import annotations

import re

import pytest

from retrieval.ingest.corpus import read_corpus, read_file
from retrieval.ingest.newspaper import parse_names, segment_page, undouble

from conftest import SAMPLE

EXPECTED = {
    "全国产业工人学习社区线上平台正式启用": "马超",
    "昌平山区社区服务站职工享工会关爱": "周美玉",
    "阎村镇23名职工获评“最美劳动者”": "闫长禄",
    "顺义区总工会排查隐患保安全过节": "王路曼",
    "“娘家人”节前送年货": "陈艺",
    "京津冀交通一体化劳动竞赛先进获表彰": "马超",
}


def sample_articles():
    return read_file(SAMPLE, SAMPLE.name)


def test_sample_page_yields_the_seven_articles_with_titles_and_authors():
    arts = sample_articles()
    assert len(arts) == 7
    by_title = {a.title: a for a in arts}
    for title, author in EXPECTED.items():
        assert title in by_title, f"missing {title}: got {[a.title for a in arts]}"
        assert by_title[title].author == author
    rest = [a for a in arts if a.title not in EXPECTED]
    assert len(rest) == 1
    cont = rest[0]
    assert "上接第1版" in cont.title and cont.continued_from == "上接第1版"
    assert "政协" in cont.text
    assert by_title["“娘家人”节前送年货"].photographer == "陈艺"
    assert by_title["京津冀交通一体化劳动竞赛先进获表彰"].photographer == "彭程"


def test_each_article_has_its_own_body():
    by_title = {a.title: a for a in sample_articles()}
    assert "王院淼" in by_title["京津冀交通一体化劳动竞赛先进获表彰"].text
    assert "王院淼" not in by_title["阎村镇23名职工获评“最美劳动者”"].text
    assert "最美劳动者23名" in by_title["阎村镇23名职工获评“最美劳动者”"].text
    assert "李慧哲" in by_title["顺义区总工会排查隐患保安全过节"].text
    assert "47户" in by_title["“娘家人”节前送年货"].text
    # a photo credit is metadata, not body text
    assert "彭程" not in by_title["京津冀交通一体化劳动竞赛先进获表彰"].text
    assert "摄影报道" not in by_title["“娘家人”节前送年货"].text


def test_column_breaks_and_stray_spaces_are_joined():
    for a in sample_articles():
        for para in a.paragraphs:
            assert "\n" not in para
            # no space next to a Chinese character or Chinese punctuation
            assert not re.search(r"[\u4e00-\u9fff，。、；：？！“”（）]\s|\s[\u4e00-\u9fff，。、；：？！“”（）]", para), para
    text = {a.title: a.text for a in sample_articles()}
    assert "全国产业工人学习社区线上平台“四级联动”示范点签约仪式昨天在京举行。" in text["全国产业工人学习社区线上平台正式启用"]
    assert "消防设施是否完备？" in text["顺义区总工会排查隐患保安全过节"]


def test_undouble():
    assert undouble("““娘娘家家人人””") == "“娘家人”"
    assert undouble("节节前前送送年年货货") == "节前送年货"
    assert undouble("正常标题") is None
    assert undouble("妈妈") is None  # ordinary reduplicated words are not bold headlines


LEAD_A = ["本报讯（记者 张三） 海淀区图书馆昨天举办了", "冬季读书节，吸引了三百多名", "市民参加。",
          "", "活动持续一周，包括讲座、", "展览和读书分享会。"]
LEAD_B = ["本报讯（记者 李四） 朝阳区体育中心", "新建的游泳馆本月正式开放，", "每天可接待游客两千人次。"]


def test_headline_printed_after_its_article_is_attached_by_content():
    page = "\n".join(["海淀区图书馆举办冬季读书节", ""] + LEAD_A + ["", "朝阳区新游泳馆开放", ""] + LEAD_B)
    # Layout puts B's headline before B; now move A's headline after A, before B's.
    page2 = "\n".join(LEAD_A + ["", "海淀区图书馆举办冬季读书节", ""] + ["", "朝阳区新游泳馆开放", ""] + LEAD_B)
    for p in (page, page2):
        arts = segment_page(p)
        titles = {a.title: a for a in arts}
        assert set(titles) == {"海淀区图书馆举办冬季读书节", "朝阳区新游泳馆开放"}
        assert "读书节" in "".join(titles["海淀区图书馆举办冬季读书节"].paragraphs)
        assert titles["海淀区图书馆举办冬季读书节"].author == "张三"
        assert titles["朝阳区新游泳馆开放"].author == "李四"


def test_two_headlines_run_together_are_split_and_each_finds_its_article():
    page = "\n".join(LEAD_A + ["", "朝阳区新游泳馆本月开放海淀区图书馆举办冬季读书节"] + LEAD_B)
    titles = {a.title for a in segment_page(page)}
    assert titles == {"海淀区图书馆举办冬季读书节", "朝阳区新游泳馆本月开放"}


def test_doubled_photo_story_with_credit():
    page = "\n".join(LEAD_B + ["", "雪雪后后公公园园", "美美如如画画", "昨日，颐和园迎来降雪，", "游客踏雪赏景。", "",
                               "本报记者 王五 摄影报道"])
    arts = segment_page(page)
    photo = [a for a in arts if a.title == "雪后公园美如画"]
    assert photo and photo[0].author == "王五" and photo[0].photographer == "王五"
    assert photo[0].paragraphs == ["昨日，颐和园迎来降雪，游客踏雪赏景。"]


def test_latin_words_keep_their_spaces():
    arts = segment_page("本报讯（记者 赵六） 公司发布了 Open Source 工具包 v2.0 版本，\n获得好评。")
    assert "发布了Open Source工具包v2.0版本，获得好评。" in "".join(arts[0].paragraphs)


def test_gbk_and_jsonl_files_are_read(tmp_path):
    (tmp_path / "gbk.txt").write_bytes("测试标题\n\n北京市今天发布了新的垃圾分类规定，居民反响热烈。".encode("gbk"))
    (tmp_path / "news.jsonl").write_text(
        '{"title": "新闻一", "text": "第一段内容。\\n第二段内容。", "date": "2020-01-10", "author": "王记者"}\n'
        '{"title": "新闻二", "text": "只有一段。"}\n', encoding="utf-8")
    (tmp_path / "bom.md").write_bytes("\ufeff# 标题三\n\n正文内容在这里。".encode("utf-8"))
    files, skipped = read_corpus([tmp_path])
    arts = {a.title: a for f in files for a in f.articles}
    assert "北京市今天发布了新的垃圾分类规定，居民反响热烈。" in arts["测试标题"].text
    assert arts["新闻一"].paragraphs == ("第一段内容。", "第二段内容。")
    assert arts["新闻一"].date == "2020-01-10" and arts["新闻一"].author == "王记者"
    assert "新闻二" in arts and "标题三" in arts
    assert not skipped


def test_bad_json_record_names_file_line_and_field(tmp_path):
    import pytest

    from retrieval.errors import CorpusError

    (tmp_path / "bad.jsonl").write_text('{"title": "有标题", "text": "正文。"}\n{"title": "缺正文"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad\.jsonl:2: missing or empty field 'text'"):
        read_corpus([tmp_path], strict=True)
    files, skipped = read_corpus([tmp_path])
    assert skipped and "text" in skipped[0].reason


def test_html_article(tmp_path):
    (tmp_path / "a.html").write_text(
        "<html><head><title>站点</title><meta name='author' content='钱七'></head><body><h1>地铁新线开通</h1>"
        "<p>地铁十九号线今日开通。</p><script>var x='<b>';</script><p>全长二十公里。</p></body></html>", encoding="utf-8")
    files, _ = read_corpus([tmp_path])
    a = files[0].articles[0]
    assert a.title == "地铁新线开通" and a.author == "钱七"
    assert a.paragraphs == ("地铁十九号线今日开通。", "全长二十公里。")


# ------------------------------------------------ pages the rules were not written for

# Two articles laid out in 13-character columns (the first line of a paragraph
# two characters short); the second has no "本报讯" lead and no byline.
NO_LEAD_PAGE = """海淀区图书馆举办冬季读书节
本报讯（记者 张三） 海淀区图书
馆昨天举办了冬季读书节，吸引了三
百多名市民参加。

活动持续一周，包括讲座、
展览和读书分享会。

朝阳公园新添十座智能座椅
朝阳公园近日在湖边步道
安装了十座智能座椅，游客可
以在座椅上为手机充电，还能
查看当天的天气和空气质量。
"""


def test_an_article_without_lead_is_its_own_article():
    arts = segment_page(NO_LEAD_PAGE)
    by_title = {a.title: a for a in arts}
    assert set(by_title) == {"海淀区图书馆举办冬季读书节", "朝阳公园新添十座智能座椅"}
    park = by_title["朝阳公园新添十座智能座椅"]
    assert "智能座椅" in park.paragraphs[0] and "读书节" not in "".join(park.paragraphs)
    assert "智能座椅" not in "".join(by_title["海淀区图书馆举办冬季读书节"].paragraphs)
    assert park.author is None  # not inherited from the article above
    assert by_title["海淀区图书馆举办冬季读书节"].author == "张三"


def test_a_headline_with_punctuation_is_a_headline():
    page = NO_LEAD_PAGE.replace("朝阳公园新添十座智能座椅", "朝阳公园：十座智能座椅来了！")
    titles = [a.title for a in segment_page(page)]
    assert titles == ["海淀区图书馆举办冬季读书节", "朝阳公园：十座智能座椅来了！"]


def test_multi_name_byline_keeps_every_name_and_drops_roles():
    page = "\n".join(["地铁十九号线今日开通", "本报讯（记者 吕蕾 沈鑫冰 通讯员 任娜） 地",
                      "铁十九号线今天上午正式开通运营，", "全长二十公里。"])
    (art,) = segment_page(page)
    assert art.author == "吕蕾 沈鑫冰 任娜"
    assert art.title == "地铁十九号线今日开通"


def test_a_byline_wrapped_over_two_lines_is_read_whole():
    page = "\n".join(["地铁十九号线今日开通", "本报记者 吕蕾 沈", "鑫冰", "地铁十九号线今天上午正式",
                      "开通运营，全长二十公里，共设",
                      "十个车站。"])
    (art,) = segment_page(page)
    assert art.author == "吕蕾 沈鑫冰"
    assert art.title == "地铁十九号线今日开通"
    assert "".join(art.paragraphs) == "地铁十九号线今天上午正式开通运营，全长二十公里，共设十个车站。"


def test_page_header_and_footer_are_dropped():
    page = "北京日报  2020年1月10日  星期五\n第3版  要闻\n\n" + NO_LEAD_PAGE + "\n责任编辑：王五  版式设计：赵六\n"
    arts = segment_page(page)
    assert [a.title for a in arts] == ["海淀区图书馆举办冬季读书节", "朝阳公园新添十座智能座椅"]
    everything = " ".join(a.title + "".join(a.paragraphs) + " ".join(a.kicker) for a in arts)
    for furniture in ("北京日报", "星期五", "第3版", "责任编辑", "王五"):
        assert furniture not in everything


def test_traditional_character_page_segments_like_the_simplified_one():
    import zhconv

    page = zhconv.convert(SAMPLE.read_text(encoding="utf-8"), "zh-tw")
    arts = segment_page(page)
    assert len(arts) == 7
    by_title = {a.title: a for a in arts}
    for title, author in EXPECTED.items():
        trad = zhconv.convert(title, "zh-tw")
        assert trad in by_title, f"missing {trad}: got {list(by_title)}"
        assert by_title[trad].author == zhconv.convert(author, "zh-tw")  # names stay as printed
    assert by_title[zhconv.convert("“娘家人”节前送年货", "zh-tw")].photographer == "陳藝"


# ------------------------------------------------ generated-page failure kinds (bench/pages)

PARK = ["朝阳公园近日在湖边步道", "安装了十座智能座椅，游客可", "以在座椅上为手机充电，还能",
        "查看当天的天气和空气质量。"]
LIBRARY_NO_LEAD = ["海淀区图书馆昨天举办了", "冬季读书节，吸引了三百多名", "市民参加，活动持续一周。"]


def test_a_question_headline_between_two_articles_without_lead_starts_its_own_article():
    # headlines are set wider than one column
    page = "\n".join(["图书馆冬季读书节开幕"] + LIBRARY_NO_LEAD + ["", "朝阳公园的座椅为何能给手机充电？"] + PARK)
    arts = segment_page(page)
    assert [a.title for a in arts] == ["图书馆冬季读书节开幕", "朝阳公园的座椅为何能给手机充电？"]
    assert "智能座椅" not in "".join(arts[0].paragraphs)
    assert arts[1].paragraphs[0].startswith("朝阳公园近日")


def test_a_lead_byline_broken_over_three_lines_keeps_every_name():
    page = "\n".join(["地铁十九号线今日开通", "本报讯（记者 吕蕾 沈", "鑫冰 通讯员 任娜 实习生",
                      "王小明） 地铁十九号线今天上午", "正式开通运营，全长二十公里。"])
    (art,) = segment_page(page)
    assert art.author == "吕蕾 沈鑫冰 任娜 王小明"
    assert art.paragraphs[0].endswith("地铁十九号线今天上午正式开通运营，全长二十公里。")


def test_a_stray_space_inside_a_name_goes_to_the_name_it_completes():
    assert parse_names("记者 侯国霞 曾 思刚") == "侯国霞 曾思刚"
    assert parse_names("本报记者 韩欣 军") == "韩欣军"
    assert parse_names("记者 邓燕鑫 吕蕾 通讯员 任娜 摄影 王五") == "邓燕鑫 吕蕾 任娜 王五"


# An article with lead in 14-character columns, then, after a blank line, one
# without lead or headline in 11-character columns about something else; its
# headline is printed at the foot of the page.
RUN_ON_PAGE = """地铁十九号线今日开通运营
本报讯（记者 吕蕾） 地铁十九号线今
天上午正式开通运营，线路全长二十二公
里，共设十个车站，连接北部新城和中心
城区。首班车六点发出，乘客反映换乘方
便，车厢宽敞明亮。

运营公司表示，开通初期行车间
隔为四分钟，早晚高峰将加开列车。

蜂蜜是蜜蜂采集花蜜后
酿成的甜味物质，主要成分是
果糖和葡萄糖，还含有少量
的维生素和矿物质。古人常用
蜂蜜入药，认为它能润肺止咳。

蜂蜜：古人入药的甜味
"""


def test_an_article_without_lead_or_headline_above_is_cut_off_where_the_topic_changes():
    arts = segment_page(RUN_ON_PAGE)
    by_title = {a.title: a for a in arts}
    assert set(by_title) == {"地铁十九号线今日开通运营", "蜂蜜：古人入药的甜味"}
    assert "蜂蜜" not in "".join(by_title["地铁十九号线今日开通运营"].paragraphs)
    assert "".join(by_title["蜂蜜：古人入药的甜味"].paragraphs).startswith("蜂蜜是蜜蜂采集花蜜后")
    assert by_title["蜂蜜：古人入药的甜味"].author is None


def test_headlines_at_the_foot_of_the_page_find_their_articles():
    page = "\n".join(LEAD_A + [""] + LEAD_B + ["", "朝阳区新游泳馆本月开放", "海淀区图书馆举办冬季读书节", "",
                                                "责任编辑：王五  版式设计：赵六"])
    arts = segment_page(page)
    assert [a.title for a in arts] == ["海淀区图书馆举办冬季读书节", "朝阳区新游泳馆本月开放"]
    assert [a.author for a in arts] == ["张三", "李四"]
    assert "游泳馆本月开放" not in "".join(arts[1].paragraphs)


def test_a_page_header_with_an_unlisted_paper_name_is_furniture():
    arts = segment_page("09  副刊  晨光报\n\n" + NO_LEAD_PAGE)
    assert [a.title for a in arts] == ["海淀区图书馆举办冬季读书节", "朝阳公园新添十座智能座椅"]
    assert not any("晨光报" in " ".join(a.kicker) + "".join(a.paragraphs) for a in arts)


def test_segmenting_reports_progress_up_to_the_whole_text():
    page = "\n\n".join([NO_LEAD_PAGE] * 2000)  # well over one chunk
    calls: list[tuple[int, int]] = []
    arts = segment_page(page, progress=lambda done, total: calls.append((done, total)))
    assert len(arts) == 4000
    assert len(calls) > 1
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert calls[-1][0] == calls[-1][1] == len(page)


def test_a_big_page_file_reports_progress_only_when_asked(tmp_path, monkeypatch):
    from retrieval.ingest import corpus

    class Bar:
        def __init__(self, total: int, desc: str) -> None:
            self.total, self.desc, self.n, self.closed = total, desc, 0, False
            bars.append(self)

        def update(self, n: int = 1) -> None:
            self.n += n

        def close(self) -> None:
            self.closed = True

    bars: list[Bar] = []
    (tmp_path / "big.txt").write_text("\n\n".join([NO_LEAD_PAGE] * 50), encoding="utf-8")
    monkeypatch.setattr(corpus, "PAGE_PROGRESS_CHARS", 1000)  # the real bar starts at ~1 MB
    files, _ = read_corpus([tmp_path])
    files_p, _ = read_corpus([tmp_path], progress=Bar)
    assert len(bars) == 1 and "big.txt" in bars[0].desc
    assert bars[0].n == bars[0].total and bars[0].closed
    assert [a.title for a in files_p[0].articles] == [a.title for a in files[0].articles]
