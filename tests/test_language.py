"""Language detection and the per-language resources handed to sumy."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.text.language import SUMY_LANGUAGES, detect_language, resources, split_sentences

INDONESIAN = (
    "Presiden Joko Widodo mengatakan pemerintah akan terus berupaya menurunkan harga bahan "
    "pokok menjelang Lebaran. Menurut dia, stok beras di gudang Bulog masih cukup untuk tiga "
    "bulan ke depan sehingga masyarakat tidak perlu khawatir."
)
MALAY = (
    "Kerajaan negeri memaklumkan bahawa wang bantuan akan disalurkan kepada penduduk kampung "
    "selepas Hari Raya kerana permohonan yang diterima melebihi jangkaan. Beliau berkata "
    "jabatan berkenaan sahaja yang boleh meluluskan permohonan tersebut, iaitu selepas semakan."
)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (INDONESIAN, "id"),
        (MALAY, "ms"),
        (
            "The government said on Monday that it would raise interest rates again next month.",
            "en",
        ),
        (
            "Die Bundesregierung hat am Montag angekündigt, die Zinsen im nächsten Monat "
            "zu erhöhen.",
            "de",
        ),
        (
            "Le gouvernement a annoncé lundi qu'il augmenterait de nouveau les taux le "
            "mois prochain.",
            "fr",
        ),
        ("Правительство заявило в понедельник, что в следующем месяце снова повысит ставки.", "ru"),
        ("Chính phủ cho biết hôm thứ Hai rằng họ sẽ tiếp tục tăng lãi suất vào tháng tới.", "vi"),
        ("政府周一表示，下个月将再次提高利率，以应对持续上涨的通货膨胀压力。", "zh"),
    ],
)
def test_detects_the_language_of_whole_texts(text: str, code: str) -> None:
    assert detect_language(text) == code


def test_indonesian_mistaken_for_malay_comes_out_indonesian() -> None:
    import py3langid

    text = "Tendangan sudut yang diambil Toni Kroos disundul oleh Casemiro dan bola diteruskan."
    assert py3langid.classify(text)[0] == "ms"  # the confusion this guards against
    assert detect_language(text) == "id"


def test_indonesian_about_a_kampung_stays_indonesian() -> None:
    text = (
        "Malang (ANTARA News) - Jembatan kaca karya dua mahasiswa kian mempercantik kampung "
        "tematik, yakni Kampung Tridi dan Kampung Wisata Jodipan di Kota Malang, Jawa Timur."
    )
    assert detect_language(text) == "id"


@pytest.mark.parametrize("text", ["", "ok", "12345 678 90", "!!! ??? ...", "\x00\x01\x02" * 50])
def test_too_short_or_garbage_is_none(text: str) -> None:
    assert detect_language(text) is None


def test_title_helps_a_short_body() -> None:
    assert (
        detect_language("Harga naik.", title="Pemerintah akan menurunkan harga beras bulan depan")
        == "id"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "“Potensi pengembangan hubungan bilateral kita sangat besar,” kata Peskov. Dia pergi.",
            [
                "“Potensi pengembangan hubungan bilateral kita sangat besar,” kata Peskov.",
                "Dia pergi.",
            ],
        ),
        (
            "Jangkauan rudal sekitar 800 kilometer. "
            "Ekonomi tumbuh 3.5 persen pada 18 dan 19 Juni. Oke.",
            [
                "Jangkauan rudal sekitar 800 kilometer.",
                "Ekonomi tumbuh 3.5 persen pada 18 dan 19 Juni.",
                "Oke.",
            ],
        ),
        (
            "Dr. Smith met Mr. Jones in Washington D.C. on Jan. 5. They talked.",
            ["Dr. Smith met Mr. Jones in Washington D.C. on Jan. 5.", "They talked."],
        ),
        (
            "Ia tinggal di Jl. Sudirman No. 5 bersama H. Ahmad. Besok pindah.",
            ["Ia tinggal di Jl. Sudirman No. 5 bersama H. Ahmad.", "Besok pindah."],
        ),
        (
            "Headline without a stop\nSecond line without one",
            ["Headline without a stop", "Second line without one"],
        ),
        ("1. First item\n2. Second item", ["1. First item", "2. Second item"]),
        (
            "TP.HCM có mưa lớn. Người dân đi lại khó khăn.",
            ["TP.HCM có mưa lớn.", "Người dân đi lại khó khăn."],
        ),
    ],
)
def test_sentence_splitting(text: str, expected: list[str]) -> None:
    lang = "vi" if "TP.HCM" in text else "en" if "Smith" in text or "item" in text else "id"
    assert split_sentences(text, lang) == expected


def test_chinese_splits_on_full_width_punctuation_and_words_per_character() -> None:
    res = resources("zh")
    assert res.tokenizer.to_sentences("今天下雨。明天晴天！你去吗？") == (
        "今天下雨。",
        "明天晴天！",
        "你去吗？",
    )
    assert res.tokenizer.to_words("我爱北京 Beijing 2024") == (
        "我",
        "爱",
        "北",
        "京",
        "Beijing",
        "2024",
    )


def test_words_keep_numbers_and_drop_punctuation() -> None:
    words = resources("id").tokenizer.to_words("Rudal 800 kilometer, naik 3.5 persen; “suci”!")
    assert words == ("Rudal", "800", "kilometer", "naik", "3.5", "persen", "suci")


def test_stemmers() -> None:
    assert resources("id").stemmer("pembangunan") == "bangun"
    assert resources("id").stemmer("menjanjikan") == "janji"
    assert resources("ms").stemmer("permohonan") == "mohon"
    assert resources("en").stemmer("running") == "run"
    assert resources("de").stemmer("häuser") == "haus"
    assert resources("ru").stemmer("книгами") == "книг"
    # no stemmer: lower-cased only
    assert resources("zh").stemmer("ABC") == "abc"
    assert resources("vi").stemmer("Người") == "người"


@pytest.mark.parametrize(
    "code",
    [
        "en",
        "de",
        "fr",
        "id",
        "ru",
        "sv",
        "ur",
        "sk",
        "nl",
        "it",
        "pt",
        "el",
        "hi",
        "zh",
        "uk",
        "vi",
        "ms",
    ],
)
def test_every_feed_language_has_resources(code: str) -> None:
    res = resources(code)
    assert res.code == code
    assert res.stop_words
    assert isinstance(res.stemmer("word"), str)
    assert res.tokenizer.language == SUMY_LANGUAGES.get(code, code)
    # sumy rejects pycountry's names; ours must be plain names it knows
    assert "(" not in res.tokenizer.language and "Modern" not in res.tokenizer.language


@pytest.mark.parametrize("code", [None, "", "xx", "tlh", "EN-us", "pt_BR"])
def test_unknown_or_odd_codes_fall_back_without_crashing(code: str | None) -> None:
    res = resources(code)
    assert res.tokenizer.to_sentences("One. Two three.") == ("One.", "Two three.")
    assert res.stemmer("Words") in ("Words".lower(), "word")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_splitting_and_detection_never_raise(text: str) -> None:
    sentences = split_sentences(text, "en")
    assert all(s and "\n" not in s for s in sentences)
    detect_language(text)
    resources(None).tokenizer.to_words(text)


def test_iso_639_1_codes() -> None:
    from digest.i18n import ISO_639_1, language_code

    assert len(ISO_639_1) == 184
    assert language_code("id") == "id" and language_code("EN") == "en"
    assert language_code("pt-BR") == "pt"
    assert language_code("xx") is None and language_code("english") is None


def test_a_dash_and_a_lower_case_word_continue_the_sentence() -> None:
    text = "”Vilka är de värsta cyklisterna, tycker du?” – sug på den frågan. Ja, vilka?"
    assert split_sentences(text, "sv") == [
        "”Vilka är de värsta cyklisterna, tycker du?” – sug på den frågan.",
        "Ja, vilka?",
    ]


def test_the_model_loaded_ahead_is_the_one_detection_uses() -> None:
    # A fresh interpreter (this one may have the model already): detection right after
    # preload_model() waits for that load rather than starting a second one.
    script = (
        "import py3langid.langid as L\n"
        "from digest.text import language\n"
        "language.preload_model()\n"
        "assert language.detect_language('The council approved the new budget on Monday "
        "after a long debate about schools and roads.') == 'en'\n"
        "first = L.IDENTIFIER\n"
        "language._preload.join()\n"
        "assert first is not None and L.IDENTIFIER is first\n"
        "language.preload_model()\n"
        "assert L.IDENTIFIER is first\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
