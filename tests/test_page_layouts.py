"""Page layouts the segmenter was not written against (issue 31): hand-written page fixtures in
tests/data/pages (no archive text), read through the path ingest uses for a .txt file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

from retrieval.errors import ModelError
from retrieval.ingest.corpus import read_file
from retrieval.ingest import newspaper as nw
from retrieval.ingest.newspaper import LINE_MODEL_DIR, load_line_model

PAGES = Path(__file__).parent / "data" / "pages"


def articles(name: str):
    return read_file(PAGES / name, name)


# A headline as wide as the column, printed with no blank line around it between two articles, with no
# lead under it: found since pass 2 blends the boosted trees with the logistic weights (docs/pages.md).
def test_an_article_without_lead_between_two_with_leads_is_its_own_article():
    arts = articles("noleadbetween.txt")
    assert [a.title for a in arts] == ["社区食堂开进老旧小区", "冬季长跑比赛鸣枪开赛", "图书馆延长开放时间"]
    assert [a.author for a in arts] == ["王晓", None, "李明"]
    race = arts[1]
    assert race.text.startswith("两千多名跑步爱好者") and "赵刚" in race.text
    assert "赵刚" not in arts[0].text and "食堂" not in race.text


def test_a_headline_printed_at_the_page_top_goes_to_the_article_it_describes():
    arts = articles("toptitles.txt")
    by_author = {a.author: a for a in arts}
    assert set(by_author) == {"孙丽", "周强"}
    # printed first, the river headline sits right above the bus story: it is not its title
    assert by_author["周强"].title == "河道治理让小河重现清澈"
    assert by_author["孙丽"].title == "新能源公交车投入运营"


# Two headlines printed in a block at the page top, then the two bodies flush under each other: the
# first closes with a bracketed sign-off and no full stop, the second has no lead. Before, the sign-off
# and the next article were read as one paragraph, so no cut could fall between them: one article,
# titled with the second headline.
def test_a_top_headline_block_over_two_bodies_split_after_a_bracketed_sign_off():
    arts = articles("signoff.txt")
    assert [a.title for a in arts] == ["社区食堂开进老旧小区", "冬季长跑比赛鸣枪开赛"]
    canteen, race = arts
    assert canteen.text.startswith("朝阳区团结湖街道") and canteen.text.endswith("（本报记者王晓整理）")
    assert race.text.startswith("两千多名跑步爱好者") and race.text.endswith("半程马拉松男子组冠军。")
    assert "食堂" not in race.text and "赵刚" not in canteen.text


def test_kicker_and_subtitle_are_kept_apart_from_the_headline():
    (art,) = articles("kicker.txt")
    assert art.title == "本市蔬菜供应充足"
    assert art.kicker == "寒潮过后菜价平稳"
    assert art.subtitle == "——多家批发市场日均上市量超过两万吨"
    assert art.author == "赵云"
    assert art.text.startswith("本报讯")


def test_a_headline_broken_over_two_lines_is_read_whole_not_as_kicker_and_title():
    # two short lines over the lead: the title cut by its width, not a kicker over a title
    (art,) = articles("twolines.txt")
    assert art.title.replace(" ", "") == "图书馆延长开放时间（便民服务）"
    assert art.kicker is None and art.subtitle is None
    assert art.author == "李明"


def test_a_two_line_title_cut_between_words_is_one_title_not_kicker_and_title():
    # "让一片片老旧小区 / 焕发新的生机活力": no word is cut, both lines look alike, but neither reads like a
    # title alone and the two together do (the role-text features of the headline-join model)
    (art,) = articles("twolinetitle.txt")
    assert art.title.replace(" ", "") == "让一片片老旧小区焕发新的生机活力"
    assert art.kicker is None and art.subtitle is None
    assert art.author == "吴芳"


# A title over two lines printed flush under the article before (no blank line, no lead under it), each
# line shorter than the column: pass 2 turns the first line down by a little and the second is then no
# candidate at all, so the text ran on from the article above. The headline-pair model weighs the two
# lines together.
def test_a_two_line_title_flush_under_an_article_is_read_as_a_headline():
    arts = articles("twolineflush.txt")
    assert [a.title.replace(" ", "") for a in arts][1:] == ["让冰雪运动走进中小学校园的课堂"]
    assert len(arts) == 2 and arts[0].author == "吴芳"
    assert "".join(arts[1].paragraphs).startswith("冬季到来")


# One headline line with a bracketed column tag, the tag's words used all over the next article: the
# fixed rule cut the line where its halves matched two articles, so the tag "（话说新农村）" became the
# next article's title (its own headline pushed to kicker). The run-split model weighs the cut's shape
# too: a bracketed tag alone is never a headline.
def test_a_headline_with_a_column_tag_is_not_cut_in_two_headlines():
    arts = articles("columntag.txt")
    assert [a.title for a in arts] == ["乡村振兴需要一股干劲（话说新农村）", "村里办起了农家书屋"]
    assert [a.kicker for a in arts] == [None, None]
    assert [a.author for a in arts] == ["马兰", "刘畅"]


# A title whose bracketed column tag is broken over two lines under a kicker ("…（守初心" / "担使命·…）"): the
# first line leaves a bracket open and the second closes one it did not open, which the headline-join
# model reads (a_left_open, b_closes_unopened); before, the first line became a second kicker and the
# tag's tail the title.
def test_a_title_with_its_column_tag_broken_over_two_lines_is_one_title():
    (art,) = articles("tagbroken.txt")
    assert art.title.replace(" ", "") == "畅通服务群众“最后一百米”（守初心担使命·社区整改落实）"
    assert art.kicker == "河北乐亭加强社区服务——"
    assert art.subtitle is None
    assert art.author == "陈静"


def test_a_kicker_that_reads_as_one_is_not_joined_to_the_title_under_it():
    (art,) = articles("kickerstrong.txt")
    assert art.kicker == "韩正在财政部调研时强调"
    assert art.title == "管好用好财政资金"
    assert art.author == "刘洋"


def test_a_subtitle_of_names_under_the_title_stays_the_subtitle():
    (art,) = articles("namesubtitle.txt")
    assert art.title == "春节团拜会在京举行"
    assert art.subtitle == "习近平李克强栗战书汪洋王沪宁赵乐际韩正王岐山出席"
    assert art.kicker is None
    assert art.author == "张明"


def _title_roles(run: list[str]) -> list[float]:
    heads = [(t, nw._Floating(t, 0, None, g == len(run) - 1, run=1, pos=g)) for g, t in enumerate(run)]
    return nw._title_roles(heads, log=False)


@pytest.mark.parametrize("title, other", [
    ("管好财政支出确保平稳", "韩正召开座谈会强调"),  # a kicker: who said it
    ("春节团拜会在京举行", "习近平李克强栗战书汪洋王沪宁赵乐际韩正出席"),  # a subtitle: who came
])
def test_the_title_role_reads_the_words_not_only_the_place_in_the_run(title, other):
    # printed in either order, the title reads more like the title than the kicker or subtitle beside it
    for run in ([title, other], [other, title]):
        roles = _title_roles(run)
        assert roles[run.index(title)] > 0 > roles[run.index(other)]


def test_newsqa_articles_shows_kicker_and_subtitle():
    out = subprocess.run([sys.executable, "-m", "bot.cli", "articles", str(PAGES / "kicker.txt")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    line = out.stdout.splitlines()[0]
    assert "寒潮过后菜价平稳 《本市蔬菜供应充足》 ——多家批发市场日均上市量超过两万吨" in line


@pytest.mark.parametrize("part, features", [("headline_2_trees", nw._FEATURES_2),
                                             ("headline_split_trees", nw._SPLIT_FEATURES)])
def test_the_headline_trees_read_as_their_node_lists_say(part, features):
    # pass 2's and the headline split's boosted trees run as generated code: it must give what walking the
    # shipped nodes gives
    trees = load_line_model()[part]
    rng = np.random.default_rng(0)
    for x in rng.normal(size=(200, len(features))):
        total, xl = trees["base"], x.tolist()
        for k in trees["roots"]:
            while trees["left"][k] >= 0:
                k = trees["left"][k] if xl[trees["feature"][k]] <= trees["threshold"][k] else trees["right"][k]
            total += trees["value"][k]
        assert nw._forest(x, trees) == pytest.approx(total, abs=1e-12)


def test_the_shipped_line_model_loads_and_a_mismatched_one_is_refused(tmp_path):
    model = load_line_model()
    assert {"headline_1", "headline_2", "boundary", "headline_text"} <= set(model)
    # the headline-text table says a column tag closing a line reads like a headline, a comma like body text
    grams = model["headline_text"]["grams"]
    assert grams["）$"] > 0 > grams["，$"]
    bad = tmp_path / "model"
    shutil.copytree(LINE_MODEL_DIR, bad)
    manifest = json.loads((bad / "manifest.json").read_text(encoding="utf-8"))
    manifest["features"]["boundary"] = manifest["features"]["boundary"][:-1]
    (bad / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelError, match="fit.py --write"):
        load_line_model(bad)
    manifest = json.loads((LINE_MODEL_DIR / "manifest.json").read_text(encoding="utf-8"))
    manifest["features"]["headline_text"] = "words"
    (bad / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelError, match="headline-text table"):
        load_line_model(bad)
    manifest["features"]["headline_text"] = nw.HEADLINE_TEXT_GRAMS
    manifest["features"].pop("role_text")
    (bad / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelError, match="role-text table"):
        load_line_model(bad)
    manifest["features"]["role_text"] = nw.ROLE_TEXT_GRAMS
    manifest["features"]["headline_split_trees"] = manifest["features"]["headline_split_trees"][:-1]
    (bad / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelError, match="headline_split_trees were fitted on other features"):
        load_line_model(bad)
    (bad / "manifest.json").unlink()
    with pytest.raises(ModelError, match="unreadable"):
        load_line_model(bad)


# An in-article subheading (小标题) printed bold between two paragraphs of one article (subheading.txt): a
# bold line is a headline wherever it stands, so without the subheading model the article is cut in two
# under it and the subheading titles the second half. The subheading model (issue 31; fitted by
# `bench/pages/fit.py --subhead-only`) says whether such a run, with body right under it after an article
# that has its headline above it, belongs to that article.
def _with_subheading(weights):
    model = dict(load_line_model())
    model.pop("subheading", None)
    if weights is not None:
        model["subheading"] = np.array(weights, dtype=float)
    nw.use_line_model(model)


@pytest.fixture
def restore_line_model():
    yield
    nw.use_line_model(load_line_model())


def test_a_subheading_the_model_takes_is_a_paragraph_of_its_article(restore_line_model):
    always = [10.0] + [0.0] * (len(nw._SUBHEAD_FEATURES) - 1)
    _with_subheading(always)
    arts = articles("subheading.txt")
    assert [a.title for a in arts] == ["老旧小区加装电梯提速", "冬季长跑比赛鸣枪开赛"]
    assert [a.author for a in arts] == ["王晓", "李明"]
    lift = arts[0]
    # the subheading stays where it was printed, its own paragraph, undoubled
    assert lift.paragraphs[1] == "一个窗口受理居民申请"
    assert lift.paragraphs[2].startswith("加装电梯首先要过居民意见") and lift.text.endswith("负担减轻了不少。")
    assert "跑步" not in lift.text


def test_the_shipped_subheading_model_keeps_a_bold_subheading_in_its_article():
    assert "subheading" in load_line_model()
    arts = articles("subheading.txt")
    assert [a.title for a in arts] == ["老旧小区加装电梯提速", "冬季长跑比赛鸣枪开赛"]
    assert arts[0].paragraphs[1] == "一个窗口受理居民申请"


def test_a_subheading_run_is_cut_off_without_the_subheading_model(restore_line_model):
    for weights in (None, [-10.0] + [0.0] * (len(nw._SUBHEAD_FEATURES) - 1)):
        _with_subheading(weights)
        arts = articles("subheading.txt")
        assert [a.title for a in arts] == ["老旧小区加装电梯提速", "一个窗口受理居民申请", "冬季长跑比赛鸣枪开赛"]


def test_a_run_under_an_article_with_no_headline_over_it_is_never_a_subheading(restore_line_model):
    # printed after its article, a headline is that article's: the body under it is another article
    _with_subheading([10.0] + [0.0] * (len(nw._SUBHEAD_FEATURES) - 1))
    text = (PAGES / "subheading.txt").read_text(encoding="utf-8").replace("老旧小区加装电梯提速\n\n", "", 1)
    arts = nw.segment_page(text)
    assert len(arts) == 3 and "".join(arts[1].paragraphs).startswith("加装电梯首先要过居民意见")


def test_a_subheading_model_for_other_features_is_refused(tmp_path):
    bad = tmp_path / "model"
    shutil.copytree(LINE_MODEL_DIR, bad)
    manifest = json.loads((bad / "manifest.json").read_text(encoding="utf-8"))
    weights = json.loads((bad / "weights.json").read_text(encoding="utf-8"))
    manifest["features"]["subheading"] = list(nw._SUBHEAD_FEATURES[:-1])
    weights["subheading"] = [0.0] * (len(nw._SUBHEAD_FEATURES) - 1)
    (bad / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (bad / "weights.json").write_text(json.dumps(weights), encoding="utf-8")
    with pytest.raises(ModelError, match="subheading weights were fitted on other features"):
        load_line_model(bad)
    manifest["features"]["subheading"] = list(nw._SUBHEAD_FEATURES)
    weights["subheading"] = [0.0] * len(nw._SUBHEAD_FEATURES)
    (bad / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (bad / "weights.json").write_text(json.dumps(weights), encoding="utf-8")
    assert len(load_line_model(bad)["subheading"]) == len(nw._SUBHEAD_FEATURES)
