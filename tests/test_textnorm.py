from qa_checks.textmatch import PhraseIndex, PinyinMode
from qa_checks.textnorm import canonical, normalize, read_integer, spoken_chars


def test_traditional_to_simplified_and_width():
    assert canonical("猶豫期內ＡＢＣ，請問") == "犹豫期内abc,请问"


def test_numbers_read_aloud():
    assert canonical("就打95500这个电话") == "就打九五五零零这个电话"
    assert canonical("15天犹豫期") == "十五天犹豫期"
    assert canonical("2026年11月16日") == "二零二六年十一月十六日"
    assert canonical("利率3%") == "利率百分之三"
    assert canonical("3.5%") == "百分之三点五"
    assert canonical("保费10,000元") == "保费一万元"
    assert canonical("工号1234") == "工号一二三四"
    assert canonical("0571") == "零五七一"


def test_read_integer():
    assert [read_integer(n) for n in (0, 10, 15, 105, 1000, 10000, 20008, 100000)] == [
        "零", "十", "十五", "一百零五", "一千", "一万", "二万零八", "十万"]


def test_spoken_chars_count_numbers_as_read():
    assert spoken_chars("您好,工号1234。") == 2 + 2 + 4
    assert spoken_chars("15天") == 3


def test_sentences_and_quotes():
    n = normalize("他说“我不知道”。您清楚吗?")
    assert len(n.sentences()) == 2
    i = n.clean.index("我不知道")
    assert n.quoted[i] and not n.quoted[0]
    assert n.is_question(n.clean.index("清楚"))


def test_word_boundaries_block_substrings():
    idx = PhraseIndex()
    idx.add("可能", "vague")
    assert not idx.search(normalize("这种可能性很小").clean)
    assert idx.search(normalize("可能要等几天").clean)


def test_homophones_match_by_pinyin():
    idx = PhraseIndex(mode=PinyinMode.TONELESS)
    idx.add("谢谢", "t")
    idx.add("犹豫期", "c")
    hits = idx.search(normalize("好的些些您,尤玉期是十五天").clean)
    assert {h.tag for h in hits} == {"t", "c"} and all(h.homophone for h in hits)
    off = PhraseIndex(mode=PinyinMode.OFF)
    off.add("谢谢", "t")
    assert not off.search("些些")


def test_fuzzy_pinyin_merges_southern_confusions():
    strict = PhraseIndex(mode=PinyinMode.TONELESS)
    strict.add("保证", "p")
    fuzzy = PhraseIndex(mode=PinyinMode.FUZZY)
    fuzzy.add("保证", "p")
    assert not strict.search("保怎")  # bao zen vs bao zheng
    assert fuzzy.search("保怎")
