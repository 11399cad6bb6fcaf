"""How a follow-up is read (real model, jieba, FAISS and reader over hand-written
articles, tests/data/conversation): an elliptic follow-up ("自动速报呢？") is read
in the previous question's frame; in the previous answer's article the verifier
alone decides, so a short follow-up that names nothing of the article is still
answered there; and what that article does not say is not answered from it."""

from __future__ import annotations

import pytest

from conftest import TEST_DATA, real_qa

QUAKE = "市地震局通报去年地震监测工作"
ROAD = "青龙高速公路正式通车"
RECEPTION = "市政府举行新春团拜会"


# ---------------------------------------------------------------- the frame (jieba only)

def test_an_elliptic_follow_up_is_put_in_the_previous_question_s_frame(tokenizer):
    from retrieval.conversation import frame_question

    prev = "据全国地震局长会议，2019年国内地震正式速报平均用时多少？"
    # The frame is normalised as search normalises text (NFKC: ASCII punctuation; lower case).
    assert frame_question("自动速报呢？", prev, tokenizer) == "据全国地震局长会议,2019年国内地震自动速报平均用时多少?"
    # No shared characters: the word of the same kind (a place, a year) is replaced.
    assert frame_question("那北京呢？", "上海有多少常住人口？", tokenizer) == "北京有多少常住人口?"
    assert frame_question("2018年呢？", "2019年全国GDP增长多少？", tokenizer) == "2018年全国gdp增长多少?"
    assert frame_question("女子组呢？", "谁获得了男子组冠军？", tokenizer) == "谁获得了女子组冠军?"


def test_the_words_replaced_are_those_most_like_the_subject(tokenizer):
    from retrieval.conversation import frame_question

    # Not the first 冠军 (of 冠军赛) but the phrase sharing the most characters with the subject.
    prev = "全国自由式滑雪技巧冠军赛的男子个人冠军是谁？"
    assert frame_question("那女子冠军呢？", prev, tokenizer) == "全国自由式滑雪技巧冠军赛的女子冠军是谁?"
    # The whole phrase it stands for, and no more (the 是 after it stays).
    assert frame_question("女子精英组的冠军呢？", "在本市举行的冬季铁人三项赛上，男子精英组冠军是谁？", tokenizer) \
        == "在本市举行的冬季铁人三项赛上,女子精英组的冠军是谁?"
    # One shared character is enough when it is the head of both compounds (…数).
    assert frame_question("死亡人数呢？", "2019年全国生产安全事故起数下降了多少？", tokenizer) \
        == "2019年全国生产安全事故死亡人数下降了多少?"
    assert frame_question("那货邮运输量呢？", "2019年我国民航旅客运输量是多少？", tokenizer) \
        == "2019年我国民航货邮运输量是多少?"
    # A common noun sharing no characters with any phrase is not swapped (nothing to align it by):
    # the follow-up is read as asked.
    assert frame_question("那洗衣机呢？", "家用电冰箱的安全使用年限是多少年？", tokenizer) is None


def test_questions_that_are_not_a_new_subject_keep_their_words(tokenizer):
    from retrieval.conversation import frame_question

    prev = "谁获得了男子组冠军？"
    for q in ("还有呢？", "他呢？", "为什么？", "他在哪个单位工作？", "男子组在哪里比赛呢？"):
        assert frame_question(q, prev, tokenizer) is None, q
    assert frame_question("自动速报呢？", "", tokenizer) is None


# ---------------------------------------------------------------- reading (real model and reader)

@pytest.fixture(scope="module")
def chat_qa(real_encoder, tokenizer, tmp_path_factory):
    from retrieval.config import ConversationConfig
    from retrieval.conversation import Chat

    files = [TEST_DATA / "conversation" / "articles.jsonl", TEST_DATA / "conversation" / "followups.jsonl"]
    qa = real_qa(files, tmp_path_factory.mktemp("convread"), real_encoder, tokenizer)
    return Chat(qa, ConversationConfig()), qa


def _title(ans) -> str | None:  # type: ignore[no-untyped-def]
    return ans.sources[0].title if ans.found and ans.sources else None


@pytest.mark.slow
def test_an_elliptic_follow_up_is_answered_as_the_previous_question_about_its_subject(chat_qa):
    from retrieval.conversation import Conversation

    chat, qa = chat_qa
    conv = Conversation()
    first = chat.ask(conv, "去年全市地震正式速报平均用时多少？").answer
    assert "480秒" in first.text and _title(first) == QUAKE
    article = conv.previous.article
    # The premise: read as asked in that article, the reader takes the whole sentence about 自动速报.
    as_asked = qa.ask("自动速报呢？", search="480秒 正式速报 地震 自动速报呢？", prefer=article)
    assert as_asked.text != "95秒"
    follow = chat.ask(conv, "自动速报呢？")
    assert follow.follow_up and follow.read_question == "去年全市地震自动速报平均用时多少?"
    assert follow.answer.text == "95秒" and _title(follow.answer) == QUAKE
    assert follow.answer.question == "自动速报呢？", "the answer keeps the question as asked"
    assert follow.to_dict()["read_question"] == follow.read_question


@pytest.mark.slow
def test_a_follow_up_naming_nothing_of_the_article_is_answered_there(chat_qa):
    from retrieval.conversation import Conversation

    chat, qa = chat_qa
    conv = Conversation()
    first = chat.ask(conv, "青龙高速公路主线全长多少公里？").answer
    assert "86.5公里" in first.text and _title(first) == ROAD
    # The premise: the reader's usual reading of that article declines "是几车道的？", and so does asking it alone.
    usual = qa.ask("是几车道的？", search="86.5公里 青龙 高速公路 是几车道的？", prefer=conv.previous.article)
    assert not usual.found
    assert not qa.ask("是几车道的？").found
    follow = chat.ask(conv, "是几车道的？")
    assert follow.follow_up and "双向四车道" in follow.answer.text and _title(follow.answer) == ROAD


@pytest.mark.slow
def test_what_the_previous_article_does_not_say_is_not_answered_from_it(chat_qa):
    from retrieval.conversation import Conversation

    chat, _ = chat_qa
    for first, follow_up, title in (("去年全市地震正式速报平均用时多少？", "他们的局长是谁？", QUAKE),
                                    ("青龙高速公路主线全长多少公里？", "它的总设计师是谁？", ROAD)):
        conv = Conversation()
        chat.ask(conv, first)
        follow = chat.ask(conv, follow_up)
        assert follow.follow_up, follow_up
        assert _title(follow.answer) != title, (follow_up, follow.answer.text)


@pytest.mark.slow
def test_a_follow_up_the_model_doubts_is_answered_from_the_previous_article(chat_qa):
    from retrieval.conversation import MAYBE_THRESHOLD, THRESHOLD, Conversation

    chat, qa = chat_qa
    conv = Conversation()
    first = chat.ask(conv, "市政府新春团拜会在哪里举行？").answer
    assert "滨江会堂" in first.text and _title(first) == RECEPTION
    # The premise: jieba tags 应邀出席 a name, so the question seems to have a subject of its own.
    assert MAYBE_THRESHOLD <= chat.lean(conv, "有多少人应邀出席？") < THRESHOLD
    follow = chat.ask(conv, "有多少人应邀出席？")
    assert "400人" in follow.answer.text and _title(follow.answer) == RECEPTION
    assert follow.follow_up and follow.search_question == "有多少人应邀出席？", "searched as asked"


@pytest.mark.slow
def test_a_doubted_question_the_previous_article_does_not_answer_is_answered_as_alone(chat_qa, monkeypatch):
    import retrieval.conversation as conversation
    from retrieval.conversation import Conversation

    chat, qa = chat_qa
    monkeypatch.setattr(conversation, "MAYBE_THRESHOLD", 0.0)  # every question not leaning is doubted
    for question in ("去年全市地震正式速报平均用时多少？", "青龙高速公路主线全长多少公里？"):
        conv = Conversation()
        chat.ask(conv, "市政府新春团拜会在哪里举行？")
        asked = chat.ask(conv, question)
        alone = qa.ask(question)
        assert not asked.follow_up, question
        assert (asked.answer.text, _title(asked.answer)) == (alone.text, _title(alone)), question
